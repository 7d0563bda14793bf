import ArgumentParser
import DataParallel
import Foundation
#if MPI
import MPICluster
#endif

/// The job this process is part of: one process, or one rank of an `mpirun` job (an `optim`
/// built with the package trait MPI).
///
/// Under mpirun every rank parses the same arguments, loads the same data and trains its share of
/// every minibatch; rank 0 alone prints and writes files (the other ranks' stdout and stderr go to
/// /dev/null, except for an error only they saw). Failures end every rank: one that every rank
/// meets alike is printed once, by rank 0; one a rank meets alone (a bad row in its part of a
/// file) is agreed on before training, so that its rank prints it and every rank exits with its
/// code; anything else aborts the job (`MPI_Abort`), which mpirun turns into that code.
struct Launch: Sendable {
    let cluster: Cluster
    /// This rank's share of its host's processing units when ranks share a host (nil: all of them).
    let hostShare: [Int]?
    /// The original stderr of a rank other than 0 (its own is /dev/null), for its own errors.
    let errorDescriptor: Int32

    var rank: Int { cluster.rank }
    var size: Int { cluster.size }
    var isLead: Bool { rank == 0 }

    /// Started on first use, after the arguments parsed (so that a usage error costs no MPI start).
    static let current = start()

    /// Whether mpirun (or mpiexec) started this process as one of several ranks.
    static var launchedRanks: Int { ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"].flatMap { Int($0) } ?? 1 }
    /// This process's rank as mpirun set it (known before MPI starts); 0 otherwise.
    static var launchedRank: Int { ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_RANK"].flatMap { Int($0) } ?? 0 }

    private static func start() -> Launch {
        #if MPI
        if launchedRanks > 1 {
            let mpi: MPICommunicator
            do { mpi = try MPICommunicator.start() } catch { OptimCommand.fail("\(error)", code: 1) }
            var descriptor: Int32 = 2
            if mpi.rank != 0 {
                descriptor = dup(2)
                let null = open("/dev/null", O_WRONLY)
                dup2(null, 1)
                dup2(null, 2)
                close(null)
            }
            return Launch(cluster: Cluster(mpi), hostShare: mpi.hostShare, errorDescriptor: descriptor)
        }
        #endif
        return Launch(cluster: .single, hostShare: nil, errorDescriptor: 2)
    }

    /// The MPI communicator, in an MPI build under mpirun.
    #if MPI
    var mpi: MPICommunicator? { cluster.communicator as? MPICommunicator }
    #endif

    /// Refuses what cannot run under mpirun (before any work): a build without MPI, or a command
    /// other than train.
    static func check(_ command: ParsableCommand) throws {
        guard launchedRanks > 1 else { return }
        #if MPI
        guard command is Train || command is Scale || command is Evaluate else {
            throw UsageError(message: "under mpirun only `optim train`, `scale` and `evaluate` run for now; run this command in one process",
                             command: type(of: command))
        }
        #else
        throw UsageError(message: "this optim was built without MPI, so its \(launchedRanks) ranks would each train alone: build it with "
                         + "`swift build -c release --traits MPI --scratch-path .build-mpi` (Open MPI: tools/setup.sh --mpi)",
                         command: type(of: command))
        #endif
    }

    /// Workers per rank when --workers is not given: every allowed core, or this rank's share of
    /// its host (one unpinned worker where the host has fewer cores than ranks).
    var defaultWorkers: Int {
        var configuration = FitConfiguration()
        configuration.processingUnits = hostShare
        return configuration.resolvedWorkers
    }

    /// Runs `body` on every rank; when it threw on some rank, the lowest such rank's error comes
    /// out there (marked as agreed) and ``TrainingError/peerFailed(rank:)`` on the others; when
    /// every rank met the same error (the same message), it comes out on every rank marked as
    /// met by all, for rank 0 to print. An agreement within `body` comes out as it is.
    func agree<T>(_ body: () throws -> T) throws -> T {
        guard size > 1 else { return try body() }
        let outcome: Result<T, any Error>
        do { outcome = .success(try body()) } catch { outcome = .failure(error) }
        var word: UInt64 = 0
        if case .failure(let error) = outcome {
            if error is AgreedFailure {
                word = 1
            } else {
                word = 0xcbf2_9ce4_8422_2325  // FNV-1a of the message, never 0 or 1
                for byte in String(describing: error).utf8 { word = (word ^ UInt64(byte)) &* 0x100_0000_01b3 }
                word |= 2
            }
        }
        let words = cluster.words(word)
        switch outcome {
        case .success(let value) where words.allSatisfy({ $0 == 0 }): return value
        case .failure(let error as AgreedFailure): throw error
        case .failure(let error) where words.allSatisfy({ $0 == word }): throw AgreedFailure(error: error, everyRank: true)
        default:
            let first = words.firstIndex { $0 != 0 }!
            if case .failure(let error) = outcome, first == rank { throw AgreedFailure(error: error) }
            throw AgreedFailure(error: TrainingError.peerFailed(rank: first))
        }
    }

    /// Ends MPI for a rank that finished (or failed in step with the others).
    func finish() {
        #if MPI
        mpi?.finish()
        #endif
    }

    /// Ends the whole job at once: a failure only this rank met, while the others may be waiting
    /// in a collective.
    func abort(code: Int32) -> Never {
        #if MPI
        mpi?.abort(code: code)
        #endif
        exit(code)
    }
}

/// An error every rank agreed on before training: its rank reports it, every rank exits.
struct AgreedFailure: Error {
    let error: any Error
    /// Every rank met it alike: rank 0 alone prints it.
    var everyRank = false
}
