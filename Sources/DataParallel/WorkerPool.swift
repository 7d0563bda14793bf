import Dispatch
import Synchronization
import Topology
#if canImport(Glibc)
import Glibc
#endif

/// Where the workers ran.
public struct Placement: Sendable, Equatable, Codable {
    /// The number of workers.
    public var workers: Int
    /// The OS index of each worker's processing unit; empty when unpinned.
    public var units: [Int]
    /// Whether workers were bound to their units.
    public var pinned: Bool
    /// Why workers ran unpinned, or that some shared processing units; nil when neither.
    public var note: String?
}

/// Runs `workers` iterations of a body in parallel, iteration w bound to processing unit plan[w].
///
/// With every worker on a core of its own, the iterations run on a ``WorkerTeam``: the calling
/// thread as worker 0 and the iterations of one `DispatchQueue.concurrentPerform` that lasts
/// until ``release()``, each member pinned once. With more workers than cores (or than the CPU
/// quota), or one worker, each run is a `DispatchQueue.concurrentPerform` of its own.
///
/// libdispatch hands iterations to threads dynamically, the calling thread takes part, and its
/// pool threads live on between calls. So binding is by iteration, cached per thread (no system
/// call when a thread is already where iteration w must run), the calling thread's own binding is
/// put back at the end of the fit, and ``release()`` unbinds every thread the pool pinned when a fit ends
/// (by its pthread handle; a generation count invalidates the threads' caches), so that work
/// after the fit still spreads over every allowed core.
final class WorkerPool {
    let workers: Int
    let plan: WorkerPlan
    private(set) var pinned: Bool
    private let allowedUnits: [Int]
    private let refusals = Counter()
    /// The calling thread's binding before the first pinned run; restored by release().
    private var callerBinding: [Int]?
    /// Threads this pool has pinned (read and written by the caller only).
    private var pinnedThreads: Set<pthread_t> = []
    /// Slot w: the thread that pinned itself for iteration w in the current run (or, for a team
    /// member, when it entered), or 0.
    private let newlyPinned: SharedBuffer<pthread_t>
    /// The workers of this pool's runs while it has one (started by the first run).
    private var team: WorkerTeam?
    private(set) var note: String?
    /// Whether there are more workers than processing units this process may use, or than its
    /// cgroup's CPU quota (then a worker that waits for another may be keeping it off its core).
    let oversubscribed: Bool

    /// - Parameters:
    ///   - workers: how many iterations each run has (may exceed the allowed cores).
    ///   - bind: whether to pin workers; false runs them where the scheduler puts them.
    ///   - units: the processing units the workers may use (a cluster rank's share of its host);
    ///     nil for every allowed one, empty for none in particular (unpinned).
    init(workers: Int, bind: Bool, units: [Int]? = nil) {
        self.workers = workers
        let bind = bind && units?.isEmpty != true
        let machine = (try? MachineTopology.current()).map { machine in units.map { machine.restricted(to: $0) } ?? machine }
        plan = machine?.plan(workers: workers) ?? WorkerPlan(units: [], allowedUnits: 0, physicalCores: 0)
        allowedUnits = machine?.processingUnits ?? []
        pinned = bind && !plan.units.isEmpty
        if bind && machine == nil { note = "hwloc could not read the machine: workers run unpinned" }
        newlyPinned = .allocate(count: workers, repeating: 0)
        oversubscribed = workers > CPUQuota.workers(within: machine.map { $0.processingUnits.count } ?? sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        if plan.sharesProcessingUnits {
            note = "\(workers) workers on \(plan.allowedUnits) allowed processing units: some workers share a core"
        }
    }

    deinit {
        team?.stop()
        newlyPinned.deallocate()
    }

    var placement: Placement {
        Placement(workers: workers, units: pinned ? plan.units : [], pinned: pinned, note: note)
    }

    /// Runs `body(w)` for w in 0..<workers, in parallel, each on its planned unit.
    func run(_ body: @escaping @Sendable (Int) -> Void) {
        if workers > 1 && !oversubscribed {
            if team == nil { startTeam() }
            team!.run(body)
            noteRefusals()
            return
        }
        guard pinned else {
            DispatchQueue.concurrentPerform(iterations: workers, execute: body)
            return
        }
        // The calling thread takes part and is pinned like the others; its own binding is saved
        // once and put back by release(), at the end of the fit.
        if callerBinding == nil { callerBinding = ThreadBinding.current() ?? allowedUnits }
        let pin = pinning
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            pin(w)
            body(w)
        }
        collectPinnedThreads()
        noteRefusals()
    }

    /// Binds the calling thread to iteration w's unit unless it is there already, recording it
    /// for release() or counting a refusal.
    private var pinning: @Sendable (Int) -> Void {
        let units = plan.units, refusals = self.refusals, newlyPinned = self.newlyPinned
        return { w in
            let unit = units[w]
            guard boundUnit() != unit else { return }
            if ThreadBinding.bind(to: [unit]) {
                setBoundUnit(unit)
                newlyPinned[w] = pthread_self()
            } else {
                refusals.value.add(1, ordering: .relaxed)
            }
        }
    }

    /// The caller pinned as worker 0 (its own binding saved for release()), members pinned as
    /// they enter.
    private func startTeam() {
        // The team first: threads libdispatch creates for it inherit the caller's binding.
        let unpinned: @Sendable (Int) -> Void = { _ in }
        team = WorkerTeam(workers: workers, enter: pinned ? pinning : unpinned)
        if pinned {
            if callerBinding == nil { callerBinding = ThreadBinding.current() ?? allowedUnits }
            pinning(0)
        }
    }

    private func collectPinnedThreads() {
        for w in 0..<workers where newlyPinned[w] != 0 {
            pinnedThreads.insert(newlyPinned[w])
            newlyPinned[w] = 0
        }
        pinnedThreads.remove(pthread_self())
    }

    private func noteRefusals() {
        if pinned && refusals.value.load(ordering: .relaxed) > 0 {
            // The system refused (EINVAL, EPERM, ENOSYS): run unpinned from now on, and say so once.
            pinned = false
            note = "binding refused by the system: workers run unpinned"
        }
    }

    /// Unbinds every thread this pool pinned, so that later work is not confined to the units of
    /// this fit, and invalidates the threads' cached bindings.
    func release() {
        team?.stop()
        team = nil
        collectPinnedThreads()
        guard !allowedUnits.isEmpty else { return }
        let threads = pinnedThreads
        pinnedThreads.removeAll()
        // A thread that has since exited just refuses; pool threads idle for 5 s before exiting,
        // so the ones pinned by this fit are still there.
        for thread in threads { ThreadBinding.bind(thread: thread, to: allowedUnits) }
        if let callerBinding {
            ThreadBinding.bind(to: callerBinding)
            self.callerBinding = nil
            // Pool threads that libdispatch created from the pinned caller inherited its mask; any
            // that never ran a pinned iteration are not in `threads`. Unbind whoever runs these.
            let allowed = allowedUnits
            DispatchQueue.concurrentPerform(iterations: 2 * max(workers, allowed.count)) { _ in
                ThreadBinding.bind(to: allowed)
                let start = ContinuousClock.now
                while ContinuousClock.now - start < .microseconds(100) {}
            }
        }
        bindingGeneration.value.add(1, ordering: .relaxed)
    }
}

/// A count shared by the iterations of a run.
final class Counter: Sendable {
    let value = Atomic<Int>(0)
}

/// The unit the calling thread is bound to by a pool (thread-local), or nil.
private let boundUnitKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key, nil)
    return key
}()

/// Incremented when a pool releases its threads: cached bindings of older generations are stale.
private let bindingGeneration = Counter()

/// The unit the calling thread was bound to in this generation, or nil. The thread-local value
/// packs (generation, unit + 1).
private func boundUnit() -> Int? {
    guard let value = pthread_getspecific(boundUnitKey) else { return nil }
    let packed = Int(bitPattern: value)
    guard packed >> 24 == bindingGeneration.value.load(ordering: .relaxed) & 0xFF_FFFF else { return nil }
    return (packed & 0xFF_FFFF) - 1
}

private func setBoundUnit(_ unit: Int?) {
    let generation = bindingGeneration.value.load(ordering: .relaxed) & 0xFF_FFFF
    pthread_setspecific(boundUnitKey, unit.flatMap { UnsafeRawPointer(bitPattern: generation << 24 | ($0 + 1)) })
}

extension Int32 {
    fileprivate var isTrue: Bool { self != 0 }
}
