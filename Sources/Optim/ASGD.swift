/// Averaged stochastic gradient descent (torch: `torch.optim.ASGD`).
///
/// The update, in torch's variable names (θ params, g gradient, γ `lr`, λ `lambd`, α `alpha`,
/// t₀ `t0`, `weight_decay`; η and μ per-tensor scalars starting at γ and 1):
/// ```
/// g ← maximize ? −∇ : ∇ ;  if weight_decay ≠ 0: g ← g + weight_decay·θ
/// θ ← θ(1 − λη) ;  θ ← θ − ηg
/// ax ← (μ ≠ 1) ? ax + (θ − ax)μ : θ
/// η ← γ / (1 + λγt)^α ;  μ ← 1 / max(1, t − t₀)
/// ```
/// The parameters hold the SGD iterate; the average lives in the state as `ax`.
public struct ASGDOptions: ElementwiseRule {
    public static var optimizerName: String { "ASGD" }
    /// Learning rate γ (torch: `lr`, default 1e-2).
    public var lr: Double
    /// Decay term λ (torch: `lambd`, default 1e-4).
    public var lambd: Double
    /// Power α of the η update (torch: `alpha`, default 0.75).
    public var alpha: Double
    /// Step at which averaging starts (torch: `t0`, default 1e6).
    public var t0: Double
    /// L2 penalty (torch: `weight_decay`, default 0).
    public var weightDecay: Double
    /// Maximize the objective (torch: `maximize`, default false).
    public var maximize: Bool

    /// Hyperparameters under their Swift names; torch's names and defaults are on each property.
    public init(lr: Double = 1e-2, lambd: Double = 1e-4, alpha: Double = 0.75, t0: Double = 1e6,
                weightDecay: Double = 0, maximize: Bool = false) {
        self.lr = lr; self.lambd = lambd; self.alpha = alpha; self.t0 = t0
        self.weightDecay = weightDecay; self.maximize = maximize
    }

    enum CodingKeys: String, CodingKey {
        case lr, lambd, alpha, t0, maximize
        case weightDecay = "weight_decay"
    }

    public func validate() throws {
        try Check.nonNegative(lr, "learning rate")
        try Check.nonNegative(lambd, "lambd value")
        try Check.nonNegative(alpha, "alpha value")
        try Check.nonNegative(weightDecay, "weight_decay value")
    }

    public var stateBufferNames: [String] { ["ax"] }
    public var scalarStateNames: [String] { ["eta", "mu"] }
    public func initialScalars() -> [Double] { [lr, 1] }

    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func update<S: OptimScalar>(_ run: UpdateRun<S>, state: inout TensorStepState<S>) {
        state.step += 1
        let t = state.step.doubleValue
        let transform = GradientTransform<S>(maximize: maximize, weightDecay: weightDecay)
        let eta = state.scalars[0].doubleValue, mu = state.scalars[1]
        let decay = S(1 - lambd * eta), negEta = S(-eta)
        let averaging = mu.doubleValue != 1
        let p = run.param, g = run.grad, ax = run.buffers[0]
        for i in 0..<run.count {
            let grad = transform(g[i], p[i])
            p[i] = p[i] * decay
            p[i] = torchAdd(p[i], grad, alpha: negEta)
            ax[i] = averaging ? ax[i] + (p[i] - ax[i]) * mu : p[i]
        }
        state.scalars[0] = S(lr / PyMath.pow(1 + lambd * lr * t, alpha))
        state.scalars[1] = S(1 / max(1, t - t0))
    }
}

/// ASGD (torch: `torch.optim.ASGD`); see ``ASGDOptions`` for the update.
public final class ASGD<Scalar: OptimScalar>: ElementwiseOptimizer<Scalar, ASGDOptions> {
    /// - Parameters: torch's, under their Swift names: `lr` (1e-2), `lambd` (1e-4), `alpha` (0.75),
    ///   `t0` (1e6), `weightDecay` (torch `weight_decay`, 0), `maximize`.
    public init(_ params: [Parameters<Scalar>], lr: Double = 1e-2, lambd: Double = 1e-4, alpha: Double = 0.75,
                t0: Double = 1e6, weightDecay: Double = 0, maximize: Bool = false) throws {
        try super.init(params, defaults: ASGDOptions(
            lr: lr, lambd: lambd, alpha: alpha, t0: t0, weightDecay: weightDecay, maximize: maximize))
    }
}
