/// A param group: tensors that share hyperparameters (torch's `optimizer.param_groups[i]`).
///
/// Change a group's hyperparameters between steps through `options`, as torch users assign
/// `group["lr"]`; LR schedulers do the same.
public struct ParamGroup<Scalar: OptimScalar, Options: Hyperparameters> {
    /// The parameter buffers of this group, each a list of tensors.
    public internal(set) var params: [Parameters<Scalar>]
    /// The group's hyperparameters.
    public var options: Options
    /// Keys that LR schedulers add to the group (`initial_lr`, `max_lr`, ...), saved in state dicts.
    public var schedulerValues: [String: Double] = [:]

    /// The number of tensors in the group (torch counts a group's params by tensor).
    public var tensorCount: Int { params.reduce(0) { $0 + $1.tensors.count } }
}

/// What LR schedulers need from an optimizer: its groups' learning rates and momenta, and the
/// keys they add to groups. Every optimizer of this module conforms.
public protocol SchedulableOptimizer: AnyObject {
    /// The number of param groups.
    var groupCount: Int { get }
    /// The learning rate of each group (torch: `group["lr"]`).
    func learningRate(group: Int) -> Double
    func setLearningRate(_ lr: Double, group: Int)
    /// The momentum a cyclic scheduler varies: `momentum` (SGD, RMSprop) or `betas[0]` (Adam
    /// family); nil when the optimizer has neither.
    func cyclicMomentum(group: Int) -> Double?
    func setCyclicMomentum(_ value: Double, group: Int)
    /// Keys schedulers store in each group (`initial_lr`, ...).
    func schedulerValue(_ key: String, group: Int) -> Double?
    func setSchedulerValue(_ value: Double?, key: String, group: Int)
    /// How many times `step()` has run (for the "scheduler stepped before the optimizer" check).
    var stepCount: Int { get }
}

/// Any optimizer of this module: what a training loop needs to drive one.
///
/// ```swift
/// func train(_ optimizer: some Optimizer<Float>, ...) {
///     optimizer.step { optimizer.zeroGrad(); return computeLossAndGradients() }
/// }
/// ```
public protocol Optimizer<Scalar>: SchedulableOptimizer {
    associatedtype Scalar: OptimScalar
    /// The hyperparameter type of a param group, saved under torch's names.
    associatedtype Options: Hyperparameters
    /// torch's `state_dict()`.
    func stateDict() -> OptimizerStateDict<Options>
    /// torch's `load_state_dict`.
    func loadStateDict(_ dict: OptimizerStateDict<Options>) throws
    /// Makes every gradient absent (default, torch's `set_to_none=True`) or zero.
    func zeroGrad(setToNone: Bool)
    /// Evaluates `closure` (the loss, after writing the gradients) as the optimizer needs it,
    /// updates the parameters, and returns the first loss. Elementwise optimizers evaluate it
    /// once; LBFGS several times.
    @discardableResult
    func step(closure: () throws -> Double) rethrows -> Double
    /// The hooks registered with `registerStepPreHook(_:)` and the like.
    var hooks: OptimizerHooks<Options> { get }
    /// ``stateDict()`` with the large buffers apart, in the parameters' type, by (tensor index,
    /// key), each left in the dict as an empty tensor; by default none are apart.
    func stateDictSplittingBuffers() -> (dict: OptimizerStateDict<Options>, buffers: [(index: Int, key: String, values: [Scalar])])
}

extension Optimizer {
    public func stateDictSplittingBuffers() -> (dict: OptimizerStateDict<Options>, buffers: [(index: Int, key: String, values: [Scalar])]) {
        (stateDict(), [])
    }
}

extension ElementwiseOptimizer: Optimizer {}
extension LBFGS: Optimizer {}

// MARK: - The shell shared by the optimizers that are not elementwise (Adafactor, Muon)

/// Hyperparameters with a learning rate, the one value every schedule sets.
public protocol LearningRateOptions: Hyperparameters {
    var lr: Double { get set }
    /// torch's checks of the values, in its order and words.
    func validate() throws
}

extension AdafactorOptions: LearningRateOptions {}
extension MuonOptions: LearningRateOptions {}
extension SparseAdamOptions: LearningRateOptions {}

/// An optimizer that keeps torch's param groups itself: schedules, `zeroGrad` and the checks of
/// new groups and loaded state dicts come from here.
public protocol GroupedOptimizer: SchedulableOptimizer {
    associatedtype Scalar: OptimScalar
    associatedtype GroupOptions: LearningRateOptions
    var paramGroups: [ParamGroup<Scalar, GroupOptions>] { get set }
}

extension GroupedOptimizer {
    public var groupCount: Int { paramGroups.count }
    public func learningRate(group: Int) -> Double { paramGroups[group].options.lr }
    public func setLearningRate(_ lr: Double, group: Int) { paramGroups[group].options.lr = lr }
    public func schedulerValue(_ key: String, group: Int) -> Double? { paramGroups[group].schedulerValues[key] }
    public func setSchedulerValue(_ value: Double?, key: String, group: Int) { paramGroups[group].schedulerValues[key] = value }

    /// torch's `zero_grad`: makes every gradient absent (default), or zero.
    public func zeroGrad(setToNone: Bool = true) {
        for group in paramGroups { for p in group.params { p.zeroGrad(setToNone: setToNone) } }
    }

    /// torch's `add_param_group` after its checks: a group over `params` with `defaults` changed by
    /// `configure`, checked.
    func newGroup(_ params: [Parameters<Scalar>], defaults: GroupOptions, _ configure: (inout GroupOptions) -> Void) throws
        -> ParamGroup<Scalar, GroupOptions>
    {
        try checkNewGroup(params)
        var options = defaults
        configure(&options)
        try options.validate()
        return ParamGroup(params: params, options: options)
    }

    /// torch's check of a constructor's params: some tensor to optimize.
    static func checkNotEmpty(_ params: [Parameters<Scalar>]) throws {
        guard !params.isEmpty, params.contains(where: { !$0.tensors.isEmpty }) else {
            throw OptimError("optimizer got an empty parameter list")
        }
    }

    /// torch's checks of `add_param_group`: no buffer twice, none already in another group.
    func checkNewGroup(_ params: [Parameters<Scalar>]) throws {
        let ids = params.map(ObjectIdentifier.init)
        guard Set(ids).count == ids.count else { throw OptimError("optimizer contains a parameter group with duplicate parameters") }
        let existing = Set(paramGroups.flatMap { $0.params.map(ObjectIdentifier.init) })
        guard existing.isDisjoint(with: ids) else { throw OptimError("some parameters appear in more than one parameter group") }
    }

    /// torch's checks of `load_state_dict`'s layout: as many groups, each as many tensors.
    func checkLayout(of dict: OptimizerStateDict<GroupOptions>) throws {
        guard dict.paramGroups.count == paramGroups.count else { throw OptimError("loaded state dict has a different number of parameter groups") }
        for (saved, group) in zip(dict.paramGroups, paramGroups) where saved.params.count != group.tensorCount {
            throw OptimError("loaded state dict contains a parameter group that doesn't match the size of optimizer's group")
        }
    }

    /// The loaded groups' hyperparameters and scheduler values, once everything else loaded.
    func adoptGroups(of dict: OptimizerStateDict<GroupOptions>) {
        for (g, saved) in dict.paramGroups.enumerated() {
            paramGroups[g].options = saved.options
            paramGroups[g].schedulerValues = saved.schedulerValues
        }
    }
}
