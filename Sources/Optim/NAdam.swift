/// NAdam, Adam with Nesterov momentum (torch: `torch.optim.NAdam`).
///
/// The update, in torch's variable names (θ params, g gradient, γ `lr`, β₁ β₂ `betas`, ε `eps`,
/// λ `weight_decay`, ψ `momentum_decay`, t the step count after the increment; Π, the product
/// of the μ's, is per-tensor state starting at 1):
/// ```
/// g ← maximize ? −∇ : ∇
/// if λ ≠ 0: decoupled ? θ ← θ(1 − γλ) : g ← g + λθ
/// μₜ ← β₁(1 − ½·0.96^(tψ)) ;  μₜ₊₁ ← β₁(1 − ½·0.96^((t+1)ψ)) ;  Π ← Πμₜ
/// m ← lerp(m, g, 1 − β₁) ;  v ← β₂v + (1 − β₂)g²
/// d ← √(v / (1 − β₂ᵗ)) + ε
/// θ ← θ − γ(1 − μₜ)/(1 − Π) · g/d − γμₜ₊₁/(1 − Πμₜ₊₁) · m/d
/// ```
public struct NAdamOptions: ElementwiseRule {
    public static var optimizerName: String { "NAdam" }
    /// Learning rate γ (torch: `lr`, default 2e-3).
    public var lr: Double
    /// β₁, β₂ (torch: `betas`, default (0.9, 0.999)).
    public var betas: (Double, Double) {
        get { storedBetas.tuple }
        set { storedBetas.tuple = newValue }
    }
    var storedBetas: HyperparameterPair
    /// Term ε added to the denominator (torch: `eps`, default 1e-8).
    public var eps: Double
    /// Weight decay λ (torch: `weight_decay`, default 0).
    public var weightDecay: Double
    /// Momentum decay ψ (torch: `momentum_decay`, default 4e-3).
    public var momentumDecay: Double
    /// Decay θ directly, as AdamW does (torch: `decoupled_weight_decay`, default false).
    public var decoupledWeightDecay: Bool
    /// Maximize the objective (torch: `maximize`, default false).
    public var maximize: Bool

    /// Hyperparameters under their Swift names; torch's names and defaults are on each property.
    public init(lr: Double = 2e-3, betas: (Double, Double) = (0.9, 0.999), eps: Double = 1e-8,
                weightDecay: Double = 0, momentumDecay: Double = 4e-3, decoupledWeightDecay: Bool = false,
                maximize: Bool = false) {
        self.lr = lr; storedBetas = HyperparameterPair(betas); self.eps = eps; self.weightDecay = weightDecay
        self.momentumDecay = momentumDecay; self.decoupledWeightDecay = decoupledWeightDecay; self.maximize = maximize
    }

    enum CodingKeys: String, CodingKey {
        case lr, eps, maximize
        case storedBetas = "betas"
        case weightDecay = "weight_decay"
        case momentumDecay = "momentum_decay"
        case decoupledWeightDecay = "decoupled_weight_decay"
    }

    public func validate() throws {
        try Check.adamFamily(lr: lr, eps: eps, betas: betas, weightDecay: weightDecay)
        try Check.nonNegative(momentumDecay, "momentum_decay value")
    }

    public var stateBufferNames: [String] { ["exp_avg", "exp_avg_sq"] }
    public var scalarStateNames: [String] { ["mu_product"] }
    public func initialScalars() -> [Double] { [1] }
    public var cyclicMomentum: Double? {
        get { betas.0 }
        set { if let newValue { betas.0 = newValue } }
    }

    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func update<S: OptimScalar>(_ run: UpdateRun<S>, state: inout TensorStepState<S>) {
        state.step += 1
        let t = state.step.doubleValue
        let biasCorrection2 = 1 - PyMath.pow(betas.1, t)
        let transform = GradientTransform<S>(maximize: maximize, weightDecay: decoupledWeightDecay ? 0 : weightDecay)
        let decay = DecoupledDecay<S>(enabled: decoupledWeightDecay, lr: lr, weightDecay: weightDecay)
        let mu = betas.0 * (1.0 - 0.5 * PyMath.pow(0.96, t * momentumDecay))
        let muNext = betas.0 * (1.0 - 0.5 * PyMath.pow(0.96, (t + 1) * momentumDecay))
        // torch keeps the product as a 0-dim tensor: it is rounded to the dtype every step.
        state.scalars[0] = state.scalars[0] * S(mu)
        let muProduct = state.scalars[0].doubleValue
        let muProductNext = muProduct * muNext
        let weight = LerpWeight<S>(1 - betas.0), beta2 = S(betas.1), oneMinusBeta2 = S(1 - betas.1)
        let bc2 = S(biasCorrection2), epsilon = S(eps)
        let gradCoefficient = S(-lr * (1.0 - mu) / (1.0 - muProduct))
        let momentumCoefficient = S((-lr * muNext) / (1.0 - muProductNext))
        let p = run.param, g = run.grad, m = run.buffers[0], v = run.buffers[1]
        for i in 0..<run.count {
            let theta = decay(p[i])
            let grad = transform(g[i], theta)
            let mean = torchLerp(m[i], grad, weight: weight.w, weightMinusOne: weight.wm1, small: weight.small)
            let variance = torchAddcmul(v[i] * beta2, grad, grad, value: oneMinusBeta2)
            let denom = (variance / bc2).squareRootValue() + epsilon
            m[i] = mean; v[i] = variance
            p[i] = torchAddcdiv(torchAddcdiv(theta, grad, denom, value: gradCoefficient), mean, denom, value: momentumCoefficient)
        }
    }
}

/// NAdam (torch: `torch.optim.NAdam`); see ``NAdamOptions`` for the update.
public final class NAdam<Scalar: OptimScalar>: ElementwiseOptimizer<Scalar, NAdamOptions> {
    /// - Parameters: torch's, under their Swift names: `lr` (2e-3), `betas` ((0.9, 0.999)),
    ///   `eps` (1e-8), `weightDecay` (0), `momentumDecay` (torch `momentum_decay`, 4e-3),
    ///   `decoupledWeightDecay` (torch `decoupled_weight_decay`, false), `maximize`.
    public init(_ params: [Parameters<Scalar>], lr: Double = 2e-3, betas: (Double, Double) = (0.9, 0.999),
                eps: Double = 1e-8, weightDecay: Double = 0, momentumDecay: Double = 4e-3,
                decoupledWeightDecay: Bool = false, maximize: Bool = false) throws {
        try super.init(params, defaults: NAdamOptions(
            lr: lr, betas: betas, eps: eps, weightDecay: weightDecay, momentumDecay: momentumDecay,
            decoupledWeightDecay: decoupledWeightDecay, maximize: maximize))
    }
}
