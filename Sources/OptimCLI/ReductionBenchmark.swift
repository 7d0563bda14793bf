import ArgumentParser
import DataParallel
import Foundation
#if MPI
import MPICluster
#endif

extension Scale {
    /// `optim scale --reduction` under mpirun: one step's reduction across the ranks, the ordered
    /// tree gather (what a fit does: bitwise the one-process sum) against each rank summing its
    /// chunks and `MPI_Allreduce` (whose bits change with the rank count), 64 chunks per step,
    /// at 10², 10⁴ and 10⁶ parameters; medians and ranges of the slowest rank.
    func measureReduction() throws {
        #if MPI
        let launch = Launch.current
        guard let mpi = launch.mpi else {
            throw UsageError(message: "--reduction times the reduction across ranks: run it under mpirun (mpirun -np 2 optim scale --reduction)",
                             command: Scale.self)
        }
        let chunks = 64, repeats = max(repetitions, 3) * 10
        print("reduction of one step across \(launch.size) ranks, \(chunks) chunks, \(repeats) rounds; the slowest rank's median (range)")
        print("parameters   tree exchange              MPI_Allreduce              ratio")
        for parameters in [100, 10_000, 1_000_000] {
            let (tree, plain) = launch.cluster.timeReduction(parameters: parameters, chunks: chunks, repeats: repeats) { mpi.allReduceSum($0) }
            // The slowest rank's time per round is the step's.
            let slowestTree = slowest(tree, on: mpi), slowestPlain = slowest(plain, on: mpi)
            let (t, p) = (median(slowestTree), median(slowestPlain))
            print(Format.pad("\(parameters)", 10, right: true) + "   " + Format.pad(timing(slowestTree), 25) + "  " + Format.pad(timing(slowestPlain), 25)
                  + "  " + Format.fixed(t / p, 2))
        }
        transportModel(mpi)
        #else
        throw UsageError(message: "--reduction times the reduction across the ranks of an mpirun job: build optim with the trait MPI "
                         + "(swift build -c release --traits MPI --scratch-path .build-mpi) and run it under mpirun", command: Scale.self)
        #endif
    }

    #if MPI
    /// The transport's latency α and inverse bandwidth β (an all-gather of 8 bytes and of 4 MiB
    /// per rank), and what they project for 16 hosts: the exchange of a step, each rank one piece
    /// (the gather: recursive doubling, α·log₂R + β·(R−1)·n; from `Cluster.slicedExchangeFrom`
    /// parameters the slices: an all-to-all and an all-gather, (R−1 + log₂R)·α + 2(R−1)/R·n·β)
    /// against a ring all-reduce (2(R−1)·α + 2(R−1)/R·n·β), n the gradient's bytes. A model, not
    /// a measurement of 16 hosts.
    private func transportModel(_ mpi: MPICommunicator) {
        func allGather(bytes: Int, rounds: Int) -> Double {
            let send = [UInt8](repeating: 1, count: bytes)
            var receive = [UInt8](repeating: 0, count: bytes * mpi.size)
            var times: [Double] = []
            for _ in 0..<rounds {
                mpi.barrier()
                let start = ContinuousClock.now
                send.withUnsafeBytes { out in
                    receive.withUnsafeMutableBytes { mpi.allGather(out, counts: Array(repeating: bytes, count: mpi.size), into: $0) }
                }
                times.append(seconds(ContinuousClock.now - start))
            }
            return median(slowest(times, on: mpi))
        }
        let ranks = Double(mpi.size), steps = max(1, log2(ranks).rounded(.up))
        let small = allGather(bytes: 8, rounds: 300), large = allGather(bytes: 4 << 20, rounds: 20)
        let alpha = small / steps, beta = max(0, large - small) / ((ranks - 1) * Double(4 << 20))
        print("transport: all-gather latency α \(Format.fixed(alpha * 1e6, 2))µs per round, bandwidth 1/β \(Format.fixed(1 / beta / 1e9, 2)) GB/s "
              + "(\(mpi.size) ranks on this host)")
        print("projection for 16 hosts with this α and β (a model, not a measurement): one step's exchange")
        print("parameters   tree exchange   ring all-reduce   ratio")
        for parameters in [100, 10_000, 1_000_000] {
            let n = Double(parameters * 4 + 16), r = 16.0
            let tree = parameters >= Cluster.slicedExchangeFrom ? (r - 1 + log2(r)) * alpha + 2 * (r - 1) / r * n * beta
                : alpha * log2(r) + beta * (r - 1) * n
            let ring = 2 * (r - 1) * alpha + 2 * (r - 1) / r * n * beta
            print(Format.pad("\(parameters)", 10, right: true) + "   " + Format.pad(Format.fixed(tree * 1e6, 1) + "µs", 13, right: true) + "   "
                  + Format.pad(Format.fixed(ring * 1e6, 1) + "µs", 15, right: true) + "   " + Format.fixed(tree / ring, 2))
        }
    }

    /// Per round, the largest time over the ranks.
    private func slowest(_ times: [Double], on mpi: MPICommunicator) -> [Double] {
        var all = [Double](repeating: 0, count: times.count * mpi.size)
        times.withUnsafeBytes { mine in
            all.withUnsafeMutableBytes { mpi.allGather(mine, counts: Array(repeating: mine.count, count: mpi.size), into: $0) }
        }
        return times.indices.map { round in (0..<mpi.size).map { all[$0 * times.count + round] }.max()! }
    }
    #endif

    private func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

    private func timing(_ values: [Double]) -> String {
        let sorted = values.sorted()
        func text(_ seconds: Double) -> String {
            seconds < 1e-3 ? Format.fixed(seconds * 1e6, 1) + "µs" : Format.fixed(seconds * 1e3, 2) + "ms"
        }
        return "\(text(sorted[sorted.count / 2])) (\(text(sorted[0]))–\(text(sorted[sorted.count - 1])))"
    }
}
