/// Adam and AdamW (torch: `torch.optim.Adam`, `torch.optim.AdamW`).
///
/// The update, in torch's variable names (θ params, g gradient, γ `lr`, λ `weight_decay`,
/// β₁ β₂ `betas`, ε `eps`, t the step count after the increment):
/// ```
/// g ← maximize ? −∇ : ∇
/// if λ ≠ 0: decoupled ? θ ← θ(1 − γλ) : g ← g + λθ
/// m ← lerp(m, g, 1 − β₁)
/// v ← β₂v + (1 − β₂)g²
/// v̂ ← amsgrad ? (v_max ← max(v_max, v)) : v
/// θ ← θ − (γ / (1 − β₁ᵗ)) · m / (√v̂ / √(1 − β₂ᵗ) + ε)
/// ```
/// ε is added after the bias correction of √v̂, as torch does.
public struct AdamOptions: ElementwiseRule {
    public static var optimizerName: String { "Adam" }
    /// Learning rate γ (torch: `lr`, default 1e-3).
    public var lr: Double
    /// Coefficients β₁, β₂ of the running averages of g and g² (torch: `betas`, default (0.9, 0.999)).
    public var betas: (Double, Double) {
        get { storedBetas.tuple }
        set { storedBetas.tuple = newValue }
    }
    var storedBetas: HyperparameterPair
    /// Term ε added to the denominator (torch: `eps`, default 1e-8).
    public var eps: Double
    /// Weight decay λ (torch: `weight_decay`; Adam 0, AdamW 1e-2).
    public var weightDecay: Double
    /// Use the maximum of past v (torch: `amsgrad`, default false).
    public var amsgrad: Bool
    /// Maximize the objective (torch: `maximize`, default false).
    public var maximize: Bool
    /// Decay θ directly instead of adding λθ to g (torch: `decoupled_weight_decay`; true in AdamW).
    public var decoupledWeightDecay: Bool

    /// Hyperparameters under their Swift names; torch's names and defaults are on each property.
    public init(lr: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999), eps: Double = 1e-8,
                weightDecay: Double = 0, amsgrad: Bool = false, maximize: Bool = false,
                decoupledWeightDecay: Bool = false) {
        self.lr = lr; self.storedBetas = HyperparameterPair(betas); self.eps = eps; self.weightDecay = weightDecay
        self.amsgrad = amsgrad; self.maximize = maximize; self.decoupledWeightDecay = decoupledWeightDecay
    }

    enum CodingKeys: String, CodingKey {
        case lr, eps, amsgrad, maximize
        case storedBetas = "betas"
        case weightDecay = "weight_decay"
        case decoupledWeightDecay = "decoupled_weight_decay"
    }

    public func validate() throws {
        try Check.adamFamily(lr: lr, eps: eps, betas: betas, weightDecay: weightDecay)
    }

    public var stateBufferNames: [String] {
        amsgrad ? ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"] : ["exp_avg", "exp_avg_sq"]
    }

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
        let weight = LerpWeight<S>(1 - betas.0)
        let beta2 = S(betas.1), oneMinusBeta2 = S(1 - betas.1)
        let biasCorrection1 = 1 - PyMath.pow(betas.0, t)
        let biasCorrection2 = 1 - PyMath.pow(betas.1, t)
        let negStepSize = S(-(lr / biasCorrection1))
        let biasCorrection2Sqrt = S(PyMath.pow(biasCorrection2, 0.5))
        let epsilon = S(eps)
        let p = run.param, g = run.grad, m = run.buffers[0], v = run.buffers[1], n = run.count
        if amsgrad {
            let vmax = run.buffers[2]
            for i in 0..<n {
                let theta = decay(p[i])
                let grad = transform(g[i], theta)
                let mean = torchLerp(m[i], grad, weight: weight.w, weightMinusOne: weight.wm1, small: weight.small)
                let variance = torchAddcmul(v[i] * beta2, grad, grad, value: oneMinusBeta2)
                let peak = torchMaximum(vmax[i], variance)
                let denom = peak.squareRootValue() / biasCorrection2Sqrt + epsilon
                m[i] = mean; v[i] = variance; vmax[i] = peak
                p[i] = torchAddcdiv(theta, mean, denom, value: negStepSize)
            }
        } else {
            for i in 0..<n {
                let theta = decay(p[i])
                let grad = transform(g[i], theta)
                let mean = torchLerp(m[i], grad, weight: weight.w, weightMinusOne: weight.wm1, small: weight.small)
                let variance = torchAddcmul(v[i] * beta2, grad, grad, value: oneMinusBeta2)
                let denom = variance.squareRootValue() / biasCorrection2Sqrt + epsilon
                m[i] = mean; v[i] = variance
                p[i] = torchAddcdiv(theta, mean, denom, value: negStepSize)
            }
        }
    }
}

/// Adam (torch: `torch.optim.Adam`); see ``AdamOptions`` for the update.
public final class Adam<Scalar: OptimScalar>: ElementwiseOptimizer<Scalar, AdamOptions> {
    /// - Parameters: torch's, under their Swift names: `lr` (1e-3), `betas` ((0.9, 0.999)),
    ///   `eps` (1e-8), `weightDecay` (torch `weight_decay`, 0), `amsgrad`, `maximize`,
    ///   `decoupledWeightDecay` (torch `decoupled_weight_decay`, false).
    public init(_ params: [Parameters<Scalar>], lr: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999),
                eps: Double = 1e-8, weightDecay: Double = 0, amsgrad: Bool = false, maximize: Bool = false,
                decoupledWeightDecay: Bool = false) throws {
        try super.init(params, defaults: AdamOptions(
            lr: lr, betas: betas, eps: eps, weightDecay: weightDecay, amsgrad: amsgrad,
            maximize: maximize, decoupledWeightDecay: decoupledWeightDecay))
    }
}

/// AdamW: Adam with decoupled weight decay, θ ← θ(1 − γλ) before the moment updates
/// (torch: `torch.optim.AdamW`); see ``AdamOptions``.
public final class AdamW<Scalar: OptimScalar>: ElementwiseOptimizer<Scalar, AdamOptions> {
    /// - Parameters: as ``Adam``, but `weightDecay` defaults to 1e-2 and the decay is decoupled.
    public init(_ params: [Parameters<Scalar>], lr: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999),
                eps: Double = 1e-8, weightDecay: Double = 1e-2, amsgrad: Bool = false,
                maximize: Bool = false) throws {
        try super.init(params, defaults: AdamOptions(
            lr: lr, betas: betas, eps: eps, weightDecay: weightDecay, amsgrad: amsgrad,
            maximize: maximize, decoupledWeightDecay: true))
    }
}
