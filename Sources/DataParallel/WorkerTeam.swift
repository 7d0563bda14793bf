import CKernelSupport
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Workers that stay on their cores for a whole fit, between parallel phases: the calling thread
/// is worker 0, and workers 1..<n are the iterations of one `DispatchQueue.concurrentPerform`
/// started in the background when the team starts and returning when it stops.
///
/// A phase started with `concurrentPerform` wakes threads that libdispatch parked when the last
/// one ended: measured on a KVM guest, the second iteration of a two-iteration call starts
/// 16-70 µs after the call, and the caller wakes 15-20 µs after the last iteration ends, against
/// gradient passes of 100-400 µs. A team member instead waits for the next phase spinning, then
/// yielding, and only after an idle spell (between epochs, in a caller's own loop) parks on a
/// semaphore; a phase then reaches it in well under a microsecond.
///
/// A phase runs `body(w)` exactly once for each w in 0..<n: each iteration is claimed by one
/// atomic compare-and-swap, a worker claiming its own first and then any no one has started.
/// So a phase never waits for a member to arrive (one that starts late, or never, as when
/// libdispatch has fewer threads than iterations, is covered by the others), and the bodies'
/// results cannot depend on which thread ran them.
///
/// Everything shared is atomic, but for the current phase's body, handed over in a
/// ``SharedBuffer`` (the trainer's one type for unchecked sharing) as ``body`` describes.
final class WorkerTeam: Sendable {
    let workers: Int
    /// The body of the current phase, in one slot. Written by the caller only while no phase runs,
    /// before it publishes the phase's number in ``phase`` (release); read by a member only after
    /// it has claimed an iteration of that phase, which it can do only after reading the number
    /// (acquire) and before the caller sees the iteration finished (acquire), so before the
    /// caller writes it again. (Not a `Mutex`: ThreadSanitizer does not see its ordering.)
    private let body = SharedBuffer<(@Sendable (Int) -> Void)?>.allocate(count: 1, repeating: nil)
    /// The number of the current phase (0: none yet).
    private let phase = Atomic<Int>(0)
    /// Per iteration, the last phase that claimed it.
    private let claimed: [Counter]
    /// Iterations finished in the current phase.
    private let finished = Atomic<Int>(0)
    /// Set once, when the team stops.
    private let stopping = Atomic<Bool>(false)
    /// Members that have entered and not yet left.
    private let active = Atomic<Int>(0)
    /// Members that may be parked on ``wake``, or about to be.
    private let sleepers = Atomic<Int>(0)
    private let wake = DispatchSemaphore(value: 0)
    /// How long an idle member spins, then yields, before it parks: a few optimizer steps' worth,
    /// while between epochs (validation, callbacks, checkpoints) it gives its core back.
    private let spinFor = Duration.microseconds(50), yieldUntil = Duration.milliseconds(1)

    /// Starts workers 1..<`workers` in the background; `enter(w)` runs once on each member's
    /// thread before its first phase (to pin it), unless the team has already stopped.
    ///
    /// Only for workers on cores of their own: a member spinning on a shared core could hold it
    /// while the worker it waits for needs it.
    init(workers: Int, enter: @escaping @Sendable (Int) -> Void) {
        precondition(workers > 1)
        self.workers = workers
        claimed = (0..<workers).map { _ in Counter() }
        DispatchQueue.global().async { [self] in
            DispatchQueue.concurrentPerform(iterations: workers - 1) { i in serve(member: i + 1, enter: enter) }
        }
    }

    /// Runs `body(w)` for every w in 0..<workers across the team, the caller taking part as
    /// worker 0, and returns when all have returned.
    func run(_ body: @escaping @Sendable (Int) -> Void) {
        self.body[0] = body
        finished.store(0, ordering: .relaxed)
        let number = phase.load(ordering: .relaxed) + 1
        phase.store(number, ordering: .sequentiallyConsistent)
        wakeSleepers()
        work(phase: number, startingAt: 0)
        // Every iteration is claimed; wait for the ones members are still running.
        var spins = 0
        while finished.load(ordering: .acquiring) < workers {
            spins += 1
            if spins < 4096 { optim_cpu_relax() } else { sched_yield() }
        }
        self.body[0] = nil
    }

    deinit { body.deallocate() }

    /// Ends the members' service and returns when every member that entered has left.
    func stop() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        wakeSleepers()
        while active.load(ordering: .sequentiallyConsistent) > 0 { sched_yield() }
    }

    /// Claims and runs the iterations of phase `number` that are left, `first` first.
    private func work(phase number: Int, startingAt first: Int) {
        for k in 0..<workers {
            let w = (first + k) % workers
            var last = claimed[w].value.load(ordering: .relaxed)
            var won = false
            while last < number {
                (won, last) = claimed[w].value.compareExchange(expected: last, desired: number, ordering: .acquiring)
                if won { break }
            }
            guard won else { continue }
            runIteration(w)
            finished.add(1, ordering: .releasing)
        }
    }

    private func runIteration(_ w: Int) {
        body[0]!(w)
    }

    private func serve(member w: Int, enter: @Sendable (Int) -> Void) {
        active.add(1, ordering: .sequentiallyConsistent)
        defer { active.subtract(1, ordering: .sequentiallyConsistent) }
        guard !stopping.load(ordering: .sequentiallyConsistent) else { return }
        enter(w)
        // A member that arrives during a phase joins it (its claims fail harmlessly if the phase
        // is over), so none waits for the next: phase numbers start at 1.
        var seen = 0
        while true {
            var idleSince = ContinuousClock.now
            while phase.load(ordering: .acquiring) == seen {
                if stopping.load(ordering: .relaxed) { return }
                let idle = ContinuousClock.now - idleSince
                if idle < spinFor {
                    for _ in 0..<32 { optim_cpu_relax() }
                } else if idle < yieldUntil {
                    sched_yield()
                } else {
                    // Counted first, checked after: the caller publishes a phase, then takes the
                    // count and signals that many times (both sequentially consistent), so either
                    // this member sees the new phase or the caller sees it counted. A signal left
                    // over from a member that did not wait only makes a later wait return early.
                    sleepers.add(1, ordering: .sequentiallyConsistent)
                    if phase.load(ordering: .sequentiallyConsistent) == seen && !stopping.load(ordering: .sequentiallyConsistent) {
                        wake.wait()
                    }
                    idleSince = ContinuousClock.now
                }
            }
            seen = phase.load(ordering: .acquiring)
            work(phase: seen, startingAt: w)
        }
    }

    private func wakeSleepers() {
        let parked = sleepers.exchange(0, ordering: .sequentiallyConsistent)
        for _ in 0..<parked { wake.signal() }
    }
}
