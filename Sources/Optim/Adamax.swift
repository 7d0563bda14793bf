/// Adamax, Adam with the infinity norm (torch: `torch.optim.Adamax`).
///
/// The update, in torch's variable names (θ params, g gradient, γ `lr`, β₁ β₂ `betas`, ε `eps`,
/// λ `weight_decay`, t the step count after the increment):
/// ```
/// g ← maximize ? −∇ : ∇ ;  if λ ≠ 0: g ← g + λθ
/// m ← lerp(m, g, 1 − β₁)
/// u ← max(β₂u, |g| + ε)
/// θ ← θ − (γ / (1 − β₁ᵗ)) · m / u
/// ```
public struct AdamaxOptions: ElementwiseRule {
    public static var optimizerName: String { "Adamax" }
    /// Learning rate γ (torch: `lr`, default 2e-3).
    public var lr: Double
    /// β₁, β₂ (torch: `betas`, default (0.9, 0.999)).
    public var betas: (Double, Double) {
        get { storedBetas.tuple }
        set { storedBetas.tuple = newValue }
    }
    var storedBetas: HyperparameterPair
    /// Term ε added to |g| (torch: `eps`, default 1e-8).
    public var eps: Double
    /// L2 penalty λ (torch: `weight_decay`, default 0).
    public var weightDecay: Double
    /// Maximize the objective (torch: `maximize`, default false).
    public var maximize: Bool

    /// Hyperparameters under their Swift names; torch's names and defaults are on each property.
    public init(lr: Double = 2e-3, betas: (Double, Double) = (0.9, 0.999), eps: Double = 1e-8,
                weightDecay: Double = 0, maximize: Bool = false) {
        self.lr = lr; storedBetas = HyperparameterPair(betas); self.eps = eps
        self.weightDecay = weightDecay; self.maximize = maximize
    }

    enum CodingKeys: String, CodingKey {
        case lr, eps, maximize
        case storedBetas = "betas"
        case weightDecay = "weight_decay"
    }

    public func validate() throws {
        try Check.adamFamily(lr: lr, eps: eps, betas: betas, weightDecay: weightDecay)
    }

    public var stateBufferNames: [String] { ["exp_avg", "exp_inf"] }
    public var cyclicMomentum: Double? {
        get { betas.0 }
        set { if let newValue { betas.0 = newValue } }
    }

    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func update<S: OptimScalar>(_ run: UpdateRun<S>, state: inout TensorStepState<S>) {
        state.step += 1
        let t = state.step.doubleValue
        let transform = GradientTransform<S>(maximize: maximize, weightDecay: weightDecay)
        let weight = LerpWeight<S>(1 - betas.0), beta2 = S(betas.1), epsilon = S(eps)
        let negClr = S(-(lr / (1 - PyMath.pow(betas.0, t))))
        let p = run.param, g = run.grad, m = run.buffers[0], u = run.buffers[1]
        for i in 0..<run.count {
            let grad = transform(g[i], p[i])
            m[i] = torchLerp(m[i], grad, weight: weight.w, weightMinusOne: weight.wm1, small: weight.small)
            u[i] = torchMaximum(u[i] * beta2, abs(grad) + epsilon)
            p[i] = torchAddcdiv(p[i], m[i], u[i], value: negClr)
        }
    }
}

/// Adamax (torch: `torch.optim.Adamax`); see ``AdamaxOptions`` for the update.
public final class Adamax<Scalar: OptimScalar>: ElementwiseOptimizer<Scalar, AdamaxOptions> {
    /// - Parameters: torch's, under their Swift names: `lr` (2e-3), `betas` ((0.9, 0.999)),
    ///   `eps` (1e-8), `weightDecay` (torch `weight_decay`, 0), `maximize`.
    public init(_ params: [Parameters<Scalar>], lr: Double = 2e-3, betas: (Double, Double) = (0.9, 0.999),
                eps: Double = 1e-8, weightDecay: Double = 0, maximize: Bool = false) throws {
        try super.init(params, defaults: AdamaxOptions(
            lr: lr, betas: betas, eps: eps, weightDecay: weightDecay, maximize: maximize))
    }
}
