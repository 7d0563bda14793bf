/// RAdam, rectified Adam (torch: `torch.optim.RAdam`).
///
/// The update, in torch's variable names (θ params, g gradient, γ `lr`, β₁ β₂ `betas`, ε `eps`,
/// λ `weight_decay`, t the step count after the increment):
/// ```
/// g ← maximize ? −∇ : ∇
/// if λ ≠ 0: decoupled ? θ ← θ(1 − γλ) : g ← g + λθ
/// m ← lerp(m, g, 1 − β₁) ;  v ← β₂v + (1 − β₂)g² ;  m̂ ← m / (1 − β₁ᵗ)
/// ρ∞ ← 2/(1 − β₂) − 1 ;  ρₜ ← ρ∞ − 2tβ₂ᵗ/(1 − β₂ᵗ)
/// if ρₜ > 5: r ← √((ρₜ−4)(ρₜ−2)ρ∞ / ((ρ∞−4)(ρ∞−2)ρₜ)) ;  θ ← θ − m̂γ · √(1 − β₂ᵗ)/(√v + ε) · r
/// else:      θ ← θ − m̂γ
/// ```
public struct RAdamOptions: ElementwiseRule {
    public static var optimizerName: String { "RAdam" }
    /// Learning rate γ (torch: `lr`, default 1e-3).
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
    /// Decay θ directly, as AdamW does (torch: `decoupled_weight_decay`, default false).
    public var decoupledWeightDecay: Bool
    /// Maximize the objective (torch: `maximize`, default false).
    public var maximize: Bool

    /// Hyperparameters under their Swift names; torch's names and defaults are on each property.
    public init(lr: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999), eps: Double = 1e-8,
                weightDecay: Double = 0, decoupledWeightDecay: Bool = false, maximize: Bool = false) {
        self.lr = lr; storedBetas = HyperparameterPair(betas); self.eps = eps; self.weightDecay = weightDecay
        self.decoupledWeightDecay = decoupledWeightDecay; self.maximize = maximize
    }

    enum CodingKeys: String, CodingKey {
        case lr, eps, maximize
        case storedBetas = "betas"
        case weightDecay = "weight_decay"
        case decoupledWeightDecay = "decoupled_weight_decay"
    }

    public func validate() throws {
        try Check.adamFamily(lr: lr, eps: eps, betas: betas, weightDecay: weightDecay)
    }

    public var stateBufferNames: [String] { ["exp_avg", "exp_avg_sq"] }
    public var cyclicMomentum: Double? {
        get { betas.0 }
        set { if let newValue { betas.0 = newValue } }
    }

    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func update<S: OptimScalar>(_ run: UpdateRun<S>, state: inout TensorStepState<S>) {
        state.step += 1
        let t = state.step.doubleValue
        let transform = GradientTransform<S>(maximize: maximize, weightDecay: decoupledWeightDecay ? 0 : weightDecay)
        let decay = DecoupledDecay<S>(enabled: decoupledWeightDecay, lr: lr, weightDecay: weightDecay)
        let weight = LerpWeight<S>(1 - betas.0), beta2 = S(betas.1), oneMinusBeta2 = S(1 - betas.1)
        let biasCorrection1 = 1 - PyMath.pow(betas.0, t)
        let biasCorrection2 = 1 - PyMath.pow(betas.1, t)
        let rhoInf = 2 / (1 - betas.1) - 1
        let rhoT = rhoInf - 2 * t * PyMath.pow(betas.1, t) / biasCorrection2
        let rectified = rhoT > 5.0
        let rect = rectified
            ? PyMath.pow((rhoT - 4) * (rhoT - 2) * rhoInf / ((rhoInf - 4) * (rhoInf - 2) * rhoT), 0.5) : 0
        let bc1 = S(biasCorrection1), learningRate = S(lr), epsilon = S(eps)
        let bc2Sqrt = S(PyMath.pow(biasCorrection2, 0.5)), r = S(rect)
        let p = run.param, g = run.grad, m = run.buffers[0], v = run.buffers[1]
        for i in 0..<run.count {
            let theta = decay(p[i])
            let grad = transform(g[i], theta)
            let mean = torchLerp(m[i], grad, weight: weight.w, weightMinusOne: weight.wm1, small: weight.small)
            let variance = torchAddcmul(v[i] * beta2, grad, grad, value: oneMinusBeta2)
            m[i] = mean; v[i] = variance
            let scaled = mean / bc1 * learningRate
            // torch computes `scalar / tensor` as `tensor.reciprocal() * scalar`.
            let adaptive = 1 / (variance.squareRootValue() + epsilon) * bc2Sqrt
            p[i] = torchAdd(theta, rectified ? scaled * adaptive * r : scaled, alpha: -1)
        }
    }
}

/// RAdam (torch: `torch.optim.RAdam`); see ``RAdamOptions`` for the update.
public final class RAdam<Scalar: OptimScalar>: ElementwiseOptimizer<Scalar, RAdamOptions> {
    /// - Parameters: torch's, under their Swift names: `lr` (1e-3), `betas` ((0.9, 0.999)),
    ///   `eps` (1e-8), `weightDecay` (0), `decoupledWeightDecay` (torch `decoupled_weight_decay`,
    ///   false), `maximize`.
    public init(_ params: [Parameters<Scalar>], lr: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999),
                eps: Double = 1e-8, weightDecay: Double = 0, decoupledWeightDecay: Bool = false,
                maximize: Bool = false) throws {
        try super.init(params, defaults: RAdamOptions(
            lr: lr, betas: betas, eps: eps, weightDecay: weightDecay,
            decoupledWeightDecay: decoupledWeightDecay, maximize: maximize))
    }
}
