/// The functional core of an elementwise optimizer: its hyperparameters (a value type) and one
/// pure update over a contiguous run of elements, written in the order of operations of torch's
/// single-tensor for-loop path.
///
/// An ``ElementwiseOptimizer`` supplies the torch-shaped shell: param groups, state, skipping of
/// absent gradients, state dicts.
public protocol ElementwiseRule: Hyperparameters {
    /// torch's class name, e.g. `"SGD"`.
    static var optimizerName: String { get }
    /// The learning rate (torch: `lr`).
    var lr: Double { get set }
    /// Throws torch's error for the first invalid hyperparameter.
    func validate() throws
    /// torch's names of the per-element state tensors these hyperparameters need
    /// (e.g. `["exp_avg", "exp_avg_sq"]`), in the order of ``UpdateRun/buffers``.
    var stateBufferNames: [String] { get }
    /// torch's names of per-tensor scalar state other than `step` (ASGD: `eta`, `mu`).
    var scalarStateNames: [String] { get }
    /// Whether torch keeps a `step` counter (all but SGD).
    static var countsSteps: Bool { get }
    /// Whether torch creates state in the constructor rather than on the first step (Adagrad).
    static var createsStateEagerly: Bool { get }
    /// The value state buffer `index` starts at (Rprop: `lr`; Adagrad: the initial accumulator).
    func initialBufferValue(_ index: Int) -> Double
    /// The starting values of ``scalarStateNames``.
    func initialScalars() -> [Double]
    /// The momentum a cyclic LR schedule varies, nil when there is none.
    var cyclicMomentum: Double? { get set }
    /// One step over `run`: reads and writes the parameters and state buffers, never the gradient.
    /// `state.step` still holds the previous step's count on entry.
    func update<S: OptimScalar>(_ run: UpdateRun<S>, state: inout TensorStepState<S>)
    /// torch's rule for a sparse gradient, where it has one (Adagrad's): updates only the
    /// elements `indices` of `run` (one tensor) and returns true; false (the default) when the
    /// rule has none, and the gradient is then read as dense (zeros elsewhere).
    func sparseUpdate<S: OptimScalar>(_ run: UpdateRun<S>, indices: [Int], state: inout TensorStepState<S>) -> Bool
}

extension ElementwiseRule {
    public func sparseUpdate<S: OptimScalar>(_ run: UpdateRun<S>, indices: [Int], state: inout TensorStepState<S>) -> Bool { false }
    public var scalarStateNames: [String] { [] }
    public static var countsSteps: Bool { true }
    public static var createsStateEagerly: Bool { false }
    public func initialBufferValue(_ index: Int) -> Double { 0 }
    public func initialScalars() -> [Double] { [] }
    public var cyclicMomentum: Double? {
        get { nil }
        set {}
    }
}

/// A contiguous run of elements to update: parameters, gradients and state buffers, aligned
/// element for element.
///
/// `@unchecked Sendable` so that a large step can update disjoint slices on several threads
/// (``ElementwiseOptimizer/parallelStep``): each thread writes only its own slice's elements,
/// the update of an element reads nothing of another's, and the step waits for every slice.
public struct UpdateRun<Scalar: OptimScalar>: @unchecked Sendable {
    /// The number of elements.
    public let count: Int
    /// The parameters θ of the run (read and written).
    public let param: UnsafeMutablePointer<Scalar>
    /// The gradients of the run (read only: torch never modifies `p.grad` in a step).
    public let grad: UnsafePointer<Scalar>
    /// The state buffers, in the order of ``ElementwiseRule/stateBufferNames``.
    public let buffers: [UnsafeMutablePointer<Scalar>]

    public init(count: Int, param: UnsafeMutablePointer<Scalar>, grad: UnsafePointer<Scalar>, buffers: [UnsafeMutablePointer<Scalar>]) {
        self.count = count; self.param = param; self.grad = grad; self.buffers = buffers
    }

    /// Elements `range` of this run.
    public func slice(_ range: Range<Int>) -> UpdateRun {
        UpdateRun(count: range.count, param: param + range.lowerBound, grad: grad + range.lowerBound,
                  buffers: buffers.map { $0 + range.lowerBound })
    }
}

/// The per-tensor scalar state: torch's `step` (stored in the tensor's dtype, as torch stores it
/// in the default dtype) and any others (``ElementwiseRule/scalarStateNames``).
public struct TensorStepState<Scalar: OptimScalar>: Equatable, Sendable {
    /// torch's `step`: the number of updates so far.
    public var step: Scalar
    /// The values of ``ElementwiseRule/scalarStateNames``.
    public var scalars: [Scalar]
    /// True until the first update after the state was created: SGD's "momentum buffer is None".
    public var isFresh: Bool
}
