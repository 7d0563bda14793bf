/// Adadelta (torch: `torch.optim.Adadelta`).
///
/// The update, in torch's variable names (θ params, g gradient, γ `lr`, ρ `rho`, ε `eps`,
/// λ `weight_decay`; v the square average, u the accumulated delta):
/// ```
/// g ← maximize ? −∇ : ∇ ;  if λ ≠ 0: g ← g + λθ
/// v ← ρv + (1 − ρ)g²
/// Δ ← √(u + ε) / √(v + ε) · g
/// u ← ρu + (1 − ρ)Δ²
/// θ ← θ − γΔ
/// ```
public struct AdadeltaOptions: ElementwiseRule {
    public static var optimizerName: String { "Adadelta" }
    /// Coefficient γ scaling Δ (torch: `lr`, default 1.0).
    public var lr: Double
    /// Decay ρ of the running averages (torch: `rho`, default 0.9).
    public var rho: Double
    /// Term ε inside the square roots (torch: `eps`, default 1e-6).
    public var eps: Double
    /// L2 penalty λ (torch: `weight_decay`, default 0).
    public var weightDecay: Double
    /// Maximize the objective (torch: `maximize`, default false).
    public var maximize: Bool

    /// Hyperparameters under their Swift names; torch's names and defaults are on each property.
    public init(lr: Double = 1.0, rho: Double = 0.9, eps: Double = 1e-6, weightDecay: Double = 0,
                maximize: Bool = false) {
        self.lr = lr; self.rho = rho; self.eps = eps; self.weightDecay = weightDecay; self.maximize = maximize
    }

    enum CodingKeys: String, CodingKey {
        case lr, rho, eps, maximize
        case weightDecay = "weight_decay"
    }

    public func validate() throws {
        try Check.nonNegative(lr, "learning rate")
        guard rho >= 0, rho <= 1 else { throw OptimError("Invalid rho value: \(pythonRepr(rho))") }
        try Check.nonNegative(eps, "epsilon value")
        try Check.nonNegative(weightDecay, "weight_decay value")
    }

    public var stateBufferNames: [String] { ["square_avg", "acc_delta"] }

    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func update<S: OptimScalar>(_ run: UpdateRun<S>, state: inout TensorStepState<S>) {
        state.step += 1
        let transform = GradientTransform<S>(maximize: maximize, weightDecay: weightDecay)
        let r = S(rho), oneMinusRho = S(1 - rho), epsilon = S(eps), negLR = S(-lr)
        let p = run.param, g = run.grad, v = run.buffers[0], u = run.buffers[1]
        for i in 0..<run.count {
            let grad = transform(g[i], p[i])
            v[i] = torchAddcmul(v[i] * r, grad, grad, value: oneMinusRho)
            let std = (v[i] + epsilon).squareRootValue()
            let delta = (u[i] + epsilon).squareRootValue() / std * grad
            u[i] = torchAddcmul(u[i] * r, delta, delta, value: oneMinusRho)
            p[i] = torchAdd(p[i], delta, alpha: negLR)
        }
    }
}

/// Adadelta (torch: `torch.optim.Adadelta`); see ``AdadeltaOptions`` for the update.
public final class Adadelta<Scalar: OptimScalar>: ElementwiseOptimizer<Scalar, AdadeltaOptions> {
    /// - Parameters: torch's, under their Swift names: `lr` (1.0), `rho` (0.9), `eps` (1e-6),
    ///   `weightDecay` (torch `weight_decay`, 0), `maximize`.
    public init(_ params: [Parameters<Scalar>], lr: Double = 1.0, rho: Double = 0.9, eps: Double = 1e-6,
                weightDecay: Double = 0, maximize: Bool = false) throws {
        try super.init(params, defaults: AdadeltaOptions(
            lr: lr, rho: rho, eps: eps, weightDecay: weightDecay, maximize: maximize))
    }
}
