#if MPI
import CMPI
import DataParallel
import Topology
#if canImport(Glibc)
import Glibc
#endif

/// The ranks of an Open MPI job (`mpirun -np R ...`) as a ``DataParallel/Cluster``'s transport:
/// each step is one `MPI_Allgatherv` of the ranks' tree pieces, and every rank finishes the same
/// tree, so the weights are bitwise those of one process for any number of ranks.
///
/// ```swift
/// import MPICluster
/// let mpi = try MPICommunicator.start()          // MPI_Init_thread; once per process
/// var configuration = FitConfiguration(batchSize: 65_536, epochs: 5)
/// configuration.cluster = Cluster(mpi)
/// configuration.processingUnits = mpi.hostShare  // this rank's cores when ranks share a host
/// let report = try fit(model, parameters: parameters, data: data, optimizer: adam, configuration: configuration)
/// if mpi.rank == 0 { try Weights.save(model, parameters, to: "model.safetensors") }
/// mpi.finish()                                    // MPI_Finalize
/// ```
///
/// Every rank loads the same data (a memory-mapped `.npy` maps only the pages its chunks read)
/// and calls `fit` alike; only rank 0 should print or write files. MPI is initialized at
/// `MPI_THREAD_SERIALIZED`: the fit calls MPI from the thread that called `fit`, between the
/// workers' phases, never from a worker.
public final class MPICommunicator: Communicator {
    public let rank: Int
    public let size: Int
    /// This rank's place among the ranks on its host, and how many share the host.
    public let localRank: Int
    public let localSize: Int
    /// The processing units this rank's workers should use: its share of the host's cores when
    /// several ranks run on one host with the same cores allowed (`--bind-to none`, or
    /// oversubscribed); nil when each rank was given cores of its own (mpirun's default binding)
    /// or runs alone on its host. Empty when the host has fewer cores than ranks: one unpinned
    /// worker each.
    public let hostShare: [Int]?

    /// Whether this process was started by Open MPI's launcher (mpirun or mpiexec set
    /// `OMPI_COMM_WORLD_SIZE`). A process started without it would initialize as a singleton,
    /// which costs about 0.4 s for nothing.
    public static var isLaunched: Bool { getenv("OMPI_COMM_WORLD_SIZE") != nil }

    /// This process's rank as the launcher set it (before ``start()``; 0 when not launched).
    public static var launchedRank: Int { getenv("OMPI_COMM_WORLD_RANK").flatMap { Int(String(cString: $0)) } ?? 0 }

    /// Initializes MPI (once per process) and reads the ranks and the host's share of cores.
    public static func start() throws(MPIError) -> MPICommunicator {
        var provided: Int32 = -1
        let level = Int32(MPI_THREAD_SERIALIZED)
        guard MPI_Init_thread(nil, nil, level, &provided) == MPI_SUCCESS else { throw .failed("MPI_Init_thread") }
        guard provided >= level else { throw .failed("MPI_Init_thread gave thread level \(provided), the fit needs \(level) (serialized)") }
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN)
        return try MPICommunicator()
    }

    private init() throws(MPIError) {
        var value: Int32 = 0
        MPI_Comm_rank(MPI_COMM_WORLD, &value)
        rank = Int(value)
        MPI_Comm_size(MPI_COMM_WORLD, &value)
        size = Int(value)
        var host: MPI_Comm? = nil
        guard MPI_Comm_split_type(MPI_COMM_WORLD, Int32(MPI_COMM_TYPE_SHARED), value, MPI_INFO_NULL, &host) == MPI_SUCCESS, host != nil else {
            throw .failed("MPI_Comm_split_type (the ranks on this host)")
        }
        defer { MPI_Comm_free(&host) }
        MPI_Comm_rank(host, &value)
        localRank = Int(value)
        MPI_Comm_size(host, &value)
        localSize = Int(value)
        // The cores every rank on this host may use: when they are the same set for all of them,
        // the ranks split it (whole cores, in order); otherwise mpirun placed them apart already.
        let cores = ((try? MachineTopology.current())?.cores ?? []).map(\.processingUnits)
        var signature: UInt64 = 0xcbf2_9ce4_8422_2325
        for unit in cores.joined() { signature = (signature ^ UInt64(unit)) &* 0x100_0000_01b3 }
        var signatures = [UInt64](repeating: 0, count: localSize)
        let gathered = signatures.withUnsafeMutableBytes { all in
            withUnsafeBytes(of: &signature) { mine in
                MPI_Allgather(mine.baseAddress, 8, MPI_BYTE, all.baseAddress, 8, MPI_BYTE, host)
            }
        }
        guard gathered == MPI_SUCCESS else { throw .failed("MPI_Allgather (the cores of this host's ranks)") }
        if localSize > 1 && Set(signatures).count == 1 {
            let share = (localRank * cores.count / localSize)..<((localRank + 1) * cores.count / localSize)
            hostShare = cores[share].flatMap { $0 }
        } else {
            hostShare = nil
        }
    }

    public func allGather(_ send: UnsafeRawBufferPointer, counts: [Int], into receive: UnsafeMutableRawBufferPointer) {
        // MPI's counts and displacements are 32-bit: past 2 GiB in all, gather in rounds of at
        // most 2 GiB / R bytes from each rank, each round packed, then each share to its place.
        let round = Int(Int32.max) / size, longest = counts.max() ?? 0
        var done = 0
        repeat {
            let pieces = counts.map { max(0, min(round, $0 - done)) }
            var displacements = [Int32](repeating: 0, count: size), total = 0
            for r in 0..<size {
                displacements[r] = Int32(total)
                total += pieces[r]
            }
            let direct = longest <= round
            let staging = direct ? receive : UnsafeMutableRawBufferPointer.allocate(byteCount: max(total, 1), alignment: 64)
            let status = MPI_Allgatherv(send.baseAddress.map { $0 + done }, Int32(pieces[rank]), MPI_BYTE,
                                        staging.baseAddress, pieces.map { Int32($0) }, displacements, MPI_BYTE, MPI_COMM_WORLD)
            if status != MPI_SUCCESS { abort(message: "MPI_Allgatherv failed (\(errorText(status)))", code: 1) }
            if !direct {
                var start = done
                for r in 0..<size {
                    if pieces[r] > 0 {
                        (receive.baseAddress! + start).copyMemory(from: staging.baseAddress! + Int(displacements[r]), byteCount: pieces[r])
                    }
                    start += counts[r]
                }
                staging.deallocate()
            }
            done += round
        } while done < longest
    }

    public func allToAll(_ send: UnsafeRawBufferPointer, counts: [[Int]], into receive: UnsafeMutableRawBufferPointer) {
        let sendCounts = counts[rank], receiveCounts = counts.map { $0[rank] }
        func displacements(_ counts: [Int]) -> [Int32] {
            var offset = 0
            return counts.map { count in defer { offset += count }; return Int32(truncatingIfNeeded: offset) }
        }
        // A step's pieces of one rank's slice are far below 2 GiB for any model that fits in memory.
        guard sendCounts.reduce(0, +) <= Int(Int32.max), receiveCounts.reduce(0, +) <= Int(Int32.max) else {
            abort(message: "a step's exchange of over 2 GiB per rank is beyond this build", code: 1)
        }
        let status = MPI_Alltoallv(send.baseAddress, sendCounts.map { Int32($0) }, displacements(sendCounts), MPI_BYTE,
                                   receive.baseAddress, receiveCounts.map { Int32($0) }, displacements(receiveCounts), MPI_BYTE, MPI_COMM_WORLD)
        if status != MPI_SUCCESS { abort(message: "MPI_Alltoallv failed (\(errorText(status)))", code: 1) }
    }

    /// `MPI_Allreduce` (sum) of `values` in place: the baseline the tree gather is measured against
    /// (its bits change with the rank count and the algorithm Open MPI picks).
    public func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>) {
        let status = MPI_Allreduce(MPI_IN_PLACE, values.baseAddress, Int32(values.count), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD)
        if status != MPI_SUCCESS { abort(message: "MPI_Allreduce failed (\(errorText(status)))", code: 1) }
    }

    /// Waits for every rank.
    public func barrier() { MPI_Barrier(MPI_COMM_WORLD) }

    /// Ends MPI for this process (every rank calls it once, last).
    public func finish() { MPI_Finalize() }

    /// Ends the whole job with `code` (Open MPI stops every rank): for a failure only this rank
    /// saw, where waiting for the others would hang. Prints `message` first, if any.
    public func abort(message: String? = nil, code: Int32) -> Never {
        if let message {
            let line = "optim: error: rank \(rank): \(message)\n"
            _ = line.withCString { write(2, $0, strlen($0)) }
        }
        MPI_Abort(MPI_COMM_WORLD, code)
        exit(code)
    }

    private func errorText(_ code: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: Int(MPI_MAX_ERROR_STRING) + 1)
        var length: Int32 = 0
        MPI_Error_string(code, &buffer, &length)
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Open MPI could not start or answer.
public enum MPIError: Error, CustomStringConvertible {
    case failed(String)
    public var description: String {
        switch self {
        case .failed(let call): "Open MPI: \(call) failed"
        }
    }
}
#endif
