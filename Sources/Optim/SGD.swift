/// Stochastic gradient descent, optionally with momentum (torch: `torch.optim.SGD`).
///
/// The update, in torch's variable names (θ params, g gradient, γ `lr`, λ `weight_decay`,
/// μ `momentum`, τ `dampening`):
/// ```
/// g ← maximize ? −∇ : ∇
/// if λ ≠ 0: g ← g + λθ
/// if μ ≠ 0:
///     b ← (first step) ? g : μb + (1 − τ)g      // no dampening on the first step
///     g ← nesterov ? g + μb : b
/// θ ← θ − γg
/// ```
public struct SGDOptions: ElementwiseRule {
    public static var optimizerName: String { "SGD" }
    /// Learning rate γ (torch: `lr`, default 1e-3).
    public var lr: Double
    /// Momentum factor μ (torch: `momentum`, default 0).
    public var momentum: Double
    /// Dampening τ of the momentum (torch: `dampening`, default 0).
    public var dampening: Double
    /// L2 penalty λ (torch: `weight_decay`, default 0).
    public var weightDecay: Double
    /// Nesterov momentum (torch: `nesterov`, default false).
    public var nesterov: Bool
    /// Maximize the objective instead of minimizing (torch: `maximize`, default false).
    public var maximize: Bool

    /// Hyperparameters under their Swift names; torch's names and defaults are on each property.
    public init(lr: Double = 1e-3, momentum: Double = 0, dampening: Double = 0,
                weightDecay: Double = 0, nesterov: Bool = false, maximize: Bool = false) {
        self.lr = lr; self.momentum = momentum; self.dampening = dampening
        self.weightDecay = weightDecay; self.nesterov = nesterov; self.maximize = maximize
    }

    enum CodingKeys: String, CodingKey {
        case lr, momentum, dampening, nesterov, maximize
        case weightDecay = "weight_decay"
    }

    public func validate() throws {
        try Check.nonNegative(lr, "learning rate")
        try Check.nonNegative(momentum, "momentum value")
        try Check.nonNegative(weightDecay, "weight_decay value")
        if nesterov && (momentum <= 0 || dampening != 0) {
            throw OptimError("Nesterov momentum requires a momentum and zero dampening")
        }
    }

    public static var countsSteps: Bool { false }
    public var stateBufferNames: [String] { momentum != 0 ? ["momentum_buffer"] : [] }
    public var cyclicMomentum: Double? {
        get { momentum }
        set { if let newValue { momentum = newValue } }
    }

    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func update<S: OptimScalar>(_ run: UpdateRun<S>, state: inout TensorStepState<S>) {
        let transform = GradientTransform<S>(maximize: maximize, weightDecay: weightDecay)
        let negLR = S(-lr)
        let p = run.param, g = run.grad, n = run.count
        guard momentum != 0 else {
            for i in 0..<n { p[i] = torchAdd(p[i], transform(g[i], p[i]), alpha: negLR) }
            return
        }
        let b = run.buffers[0]
        let mu = S(momentum), oneMinusDampening = S(1 - dampening)
        let first = state.isFresh
        for i in 0..<n {
            let grad = transform(g[i], p[i])
            let buf = first ? grad : torchAdd(b[i] * mu, grad, alpha: oneMinusDampening)
            b[i] = buf
            let direction = nesterov ? torchAdd(grad, buf, alpha: mu) : buf
            p[i] = torchAdd(p[i], direction, alpha: negLR)
        }
    }
}

/// Stochastic gradient descent (torch: `torch.optim.SGD`); see ``SGDOptions`` for the update.
///
/// ```swift
/// let optimizer = try SGD([model], lr: 0.01, momentum: 0.9)
/// optimizer.zeroGrad(); computeGradients(model); optimizer.step()
/// ```
public final class SGD<Scalar: OptimScalar>: ElementwiseOptimizer<Scalar, SGDOptions> {
    /// - Parameters: torch's, under their Swift names: `lr` (1e-3), `momentum` (0),
    ///   `dampening` (0), `weightDecay` (torch `weight_decay`, 0), `nesterov`, `maximize`.
    public init(_ params: [Parameters<Scalar>], lr: Double = 1e-3, momentum: Double = 0,
                dampening: Double = 0, weightDecay: Double = 0, nesterov: Bool = false,
                maximize: Bool = false) throws {
        try super.init(params, defaults: SGDOptions(
            lr: lr, momentum: momentum, dampening: dampening, weightDecay: weightDecay,
            nesterov: nesterov, maximize: maximize))
    }
}
