/// An optimizer's hooks, as torch's `Optimizer` keeps them: functions run before and after each
/// `step`, around `state_dict()` and around `load_state_dict()`. Register them with the
/// `register...Hook` methods of ``Optimizer``; each returns a ``HookHandle``.
///
/// The order is torch's: step hooks in the order registered; state-dict and load hooks in that
/// order too, or first with `prepend: true`. A step pre-hook runs before the closure is evaluated
/// (the closure is part of the step), a post-hook after the update. (torch's global hooks,
/// `register_optimizer_step_pre_hook` for every optimizer at once, are not offered: process-wide
/// mutable state in a library used from many threads.)
public final class OptimizerHooks<Options: Hyperparameters> {
    typealias Hook = (id: Int, run: () -> Void)
    typealias DictHook = (id: Int, run: (inout OptimizerStateDict<Options>) -> Void)
    private var nextID = 0
    private(set) var stepPre: [Hook] = []
    private(set) var stepPost: [Hook] = []
    private(set) var stateDictPre: [Hook] = []
    private(set) var stateDictPost: [DictHook] = []
    private(set) var loadPre: [DictHook] = []
    private(set) var loadPost: [Hook] = []

    public init() {}

    /// Whether any hook is registered (the step skips the calls otherwise).
    public var isEmpty: Bool {
        stepPre.isEmpty && stepPost.isEmpty && stateDictPre.isEmpty && stateDictPost.isEmpty && loadPre.isEmpty && loadPost.isEmpty
    }

    enum Slot { case stepPre, stepPost, stateDictPre, loadPost }
    enum DictSlot { case stateDictPost, loadPre }

    func add(_ slot: Slot, prepend: Bool = false, _ run: @escaping () -> Void) -> HookHandle {
        let id = take()
        let hook: Hook = (id, run)
        switch slot {
        case .stepPre: stepPre.append(hook)
        case .stepPost: stepPost.append(hook)
        case .stateDictPre: prepend ? stateDictPre.insert(hook, at: 0) : stateDictPre.append(hook)
        case .loadPost: prepend ? loadPost.insert(hook, at: 0) : loadPost.append(hook)
        }
        return handle(id)
    }

    func add(_ slot: DictSlot, prepend: Bool = false, _ run: @escaping (inout OptimizerStateDict<Options>) -> Void) -> HookHandle {
        let id = take()
        let hook: DictHook = (id, run)
        switch slot {
        case .stateDictPost: prepend ? stateDictPost.insert(hook, at: 0) : stateDictPost.append(hook)
        case .loadPre: prepend ? loadPre.insert(hook, at: 0) : loadPre.append(hook)
        }
        return handle(id)
    }

    private func take() -> Int {
        nextID += 1
        return nextID
    }

    private func handle(_ id: Int) -> HookHandle {
        HookHandle { [weak self] in self?.remove(id) }
    }

    private func remove(_ id: Int) {
        stepPre.removeAll { $0.id == id }
        stepPost.removeAll { $0.id == id }
        stateDictPre.removeAll { $0.id == id }
        stateDictPost.removeAll { $0.id == id }
        loadPre.removeAll { $0.id == id }
        loadPost.removeAll { $0.id == id }
    }

    // What the optimizers call.

    /// Runs the step pre-hooks; then `body` (the closure and the update); then the post-hooks.
    @inline(__always)
    func aroundStep<T>(_ body: () throws -> T) rethrows -> T {
        if stepPre.isEmpty && stepPost.isEmpty { return try body() }
        for hook in stepPre { hook.run() }
        let result = try body()
        for hook in stepPost { hook.run() }
        return result
    }

    /// The state dict `make` builds, with the pre-hooks run before and the post-hooks' changes.
    func aroundStateDict(_ make: () -> OptimizerStateDict<Options>) -> OptimizerStateDict<Options> {
        for hook in stateDictPre { hook.run() }
        var dict = make()
        for hook in stateDictPost { hook.run(&dict) }
        return dict
    }

    /// Loads `dict` as the load pre-hooks change it, then runs the post-hooks (not when the load throws).
    func aroundLoad(_ dict: OptimizerStateDict<Options>, _ load: (OptimizerStateDict<Options>) throws -> Void) throws {
        var dict = dict
        for hook in loadPre { hook.run(&dict) }
        try load(dict)
        for hook in loadPost { hook.run() }
    }
}

/// What a `register...Hook` returns (torch: `RemovableHandle`): ``remove()`` unregisters the hook.
public final class HookHandle {
    private let removal: () -> Void
    init(_ removal: @escaping () -> Void) { self.removal = removal }
    /// Unregisters the hook; removing twice, or after the optimizer is gone, does nothing.
    public func remove() { removal() }
}

extension Optimizer {
    /// torch's `register_step_pre_hook`: `hook(optimizer)` before each step (before its closure).
    @discardableResult
    public func registerStepPreHook(_ hook: @escaping (Self) -> Void) -> HookHandle {
        hooks.add(.stepPre) { [unowned self] in hook(self) }
    }

    /// torch's `register_step_post_hook`: `hook(optimizer)` after each step's update.
    @discardableResult
    public func registerStepPostHook(_ hook: @escaping (Self) -> Void) -> HookHandle {
        hooks.add(.stepPost) { [unowned self] in hook(self) }
    }

    /// torch's `register_state_dict_pre_hook`: `hook(optimizer)` before ``stateDict()`` builds the dict.
    @discardableResult
    public func registerStateDictPreHook(prepend: Bool = false, _ hook: @escaping (Self) -> Void) -> HookHandle {
        hooks.add(.stateDictPre, prepend: prepend) { [unowned self] in hook(self) }
    }

    /// torch's `register_state_dict_post_hook`: `hook(optimizer, &dict)` may change the dict
    /// ``stateDict()`` returns.
    @discardableResult
    public func registerStateDictPostHook(prepend: Bool = false, _ hook: @escaping (Self, inout OptimizerStateDict<Options>) -> Void) -> HookHandle {
        hooks.add(.stateDictPost, prepend: prepend) { [unowned self] dict in hook(self, &dict) }
    }

    /// torch's `register_load_state_dict_pre_hook`: `hook(optimizer, &dict)` may change the dict
    /// before ``loadStateDict(_:)`` loads it (to migrate an old layout, say).
    @discardableResult
    public func registerLoadStateDictPreHook(prepend: Bool = false, _ hook: @escaping (Self, inout OptimizerStateDict<Options>) -> Void) -> HookHandle {
        hooks.add(.loadPre, prepend: prepend) { [unowned self] dict in hook(self, &dict) }
    }

    /// torch's `register_load_state_dict_post_hook`: `hook(optimizer)` after a successful load.
    @discardableResult
    public func registerLoadStateDictPostHook(prepend: Bool = false, _ hook: @escaping (Self) -> Void) -> HookHandle {
        hooks.add(.loadPost, prepend: prepend) { [unowned self] in hook(self) }
    }
}
