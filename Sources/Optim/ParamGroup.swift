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
}

extension ElementwiseOptimizer: Optimizer {}
extension LBFGS: Optimizer {}
