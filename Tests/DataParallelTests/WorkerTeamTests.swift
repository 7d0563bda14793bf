@testable import DataParallel
import Dispatch
import Synchronization
import Testing

extension DataParallelTests {
@Suite("Worker team")
struct WorkerTeamTests {
    /// Per phase and iteration, how many times it ran.
    final class Tally: Sendable {
        let counts: [Counter]
        let workers: Int
        init(phases: Int, workers: Int) {
            self.workers = workers
            counts = (0..<phases * workers).map { _ in Counter() }
        }
        func ran(phase: Int, iteration: Int) { counts[phase * workers + iteration].value.add(1, ordering: .relaxed) }
        func count(phase: Int, iteration: Int) -> Int { counts[phase * workers + iteration].value.load(ordering: .relaxed) }
    }

    @Test("Every phase runs each iteration exactly once, whether the members spin, park or arrive late, and none after stop",
          arguments: [2, 3])
    func exactlyOnce(workers: Int) {
        let phases = 60
        let tally = Tally(phases: phases, workers: workers)
        let entered = Counter()
        let team = WorkerTeam(workers: workers) { _ in entered.value.add(1, ordering: .relaxed) }
        for phase in 0..<phases {
            // Back to back (members spinning), after 0.3 ms (yielding), after 3 ms (parked).
            let gap: Duration = [.zero, .microseconds(300), .milliseconds(3)][phase % 3]
            let start = ContinuousClock.now
            while ContinuousClock.now - start < gap {}
            let written = Counter()
            team.run { w in
                tally.ran(phase: phase, iteration: w)
                // Uneven work, so that iterations are taken over by whoever is free.
                if w % 2 == 1 { for _ in 0..<(phase % 7) * 1000 { _ = written.value.add(1, ordering: .relaxed) } }
            }
            // Everything the iterations wrote is visible when run returns.
            #expect(written.value.load(ordering: .relaxed) == (1..<workers).filter { $0 % 2 == 1 }.count * (phase % 7) * 1000)
            for w in 0..<workers { #expect(tally.count(phase: phase, iteration: w) == 1, "phase \(phase), iteration \(w)") }
        }
        team.stop()
        #expect(entered.value.load(ordering: .relaxed) <= workers - 1)
        let after = (0..<phases).flatMap { p in (0..<workers).map { tally.count(phase: p, iteration: $0) } }
        #expect(after.allSatisfy { $0 == 1 })
    }

    @Test("A member that starts during a phase joins it: the first phase after the team starts is shared")
    func lateMemberJoins() {
        let team = WorkerTeam(workers: 2) { _ in }
        defer { team.stop() }
        let started = Counter(), joined = Counter()
        // Iteration 0 (the caller's) waits for iteration 1 to start elsewhere; if the member
        // only served later phases, iteration 1 would wait for iteration 0 to end.
        team.run { w in
            if w == 1 {
                started.value.store(1, ordering: .releasing)
            } else {
                let start = ContinuousClock.now
                while started.value.load(ordering: .acquiring) == 0 && ContinuousClock.now - start < .seconds(5) {}
                joined.value.store(started.value.load(ordering: .acquiring), ordering: .relaxed)
            }
        }
        #expect(joined.value.load(ordering: .relaxed) == 1)
    }

    @Test("A run completes whether or not the members have started, and after stop no member enters")
    func stoppedEarly() {
        let entered = Counter()
        let team = WorkerTeam(workers: 4) { _ in entered.value.add(1, ordering: .relaxed) }
        let ran = Counter()
        team.run { _ in ran.value.add(1, ordering: .relaxed) }
        #expect(ran.value.load(ordering: .relaxed) == 4)
        team.stop()
        let enteredAtStop = entered.value.load(ordering: .relaxed)
        // Members that had not entered by then return without entering.
        let start = ContinuousClock.now
        while ContinuousClock.now - start < .milliseconds(20) {}
        #expect(entered.value.load(ordering: .relaxed) == enteredAtStop)
    }
}
}

extension DataParallelTests {
@Suite("Chunk sizes")
struct ChunkSizeTests {
    @Test("Automatic chunks: a power of two in 128...4096, at least 64 per minibatch where that allows, smaller for larger models, slots within 64 MiB")
    func automatic() {
        func rows(_ parameters: Int, _ batch: Int) -> Int { ShardPlan.automaticChunkRows(parameterCount: parameters, batchRows: batch) }
        #expect(rows(65, 65_536) == 1024)          // linear regression, d = 64
        #expect(rows(65, 16_384) == 256)           // the CLI's default batch
        #expect(rows(65, 4096) == 128)             // the library's default batch
        #expect(rows(257, 1 << 20) == 2048)        // d = 256, a million rows: 2²⁰ multiply-adds a chunk
        #expect(rows(33, 1 << 20) == 4096)         // d = 32: the upper bound
        #expect(rows(8257, 65_536) == 128)         // MLP 256 → 32 → 1
        #expect(rows(650, 1 << 20) == 1024)        // softmax 64 × 10
        #expect(rows(33, 10) == 128)               // batches smaller than a chunk
        for parameters in [1, 33, 257, 4000, 100_000, 3_000_000] {
            for batch in [1, 100, 4096, 65_536, 1 << 20] {
                let r = rows(parameters, batch)
                #expect(r.nonzeroBitCount == 1 && r >= 128)
                let slots = (batch + r - 1) / r * ((parameters + 15) / 16 * 16) * 4
                #expect(r <= 4096 || (batch + r / 2 - 1) / (r / 2) * ((parameters + 15) / 16 * 16) * 4 > 64 << 20)
                #expect(slots <= 64 << 20 || r >= batch, "\(parameters) parameters, batch \(batch): \(r) rows, \(slots) bytes of slots")
                if batch >= 64 * 4096 && parameters <= 256 { #expect(r == 4096) }
            }
        }
    }
}
}
