/// RMSprop (torch: `torch.optim.RMSprop`).
///
/// The update, in torch's variable names (θ params, g gradient, γ `lr`, α `alpha`, ε `eps`,
/// λ `weight_decay`, μ `momentum`):
/// ```
/// g ← maximize ? −∇ : ∇ ;  if λ ≠ 0: g ← g + λθ
/// v ← αv + (1 − α)g²
/// if centered: ḡ ← lerp(ḡ, g, 1 − α) ;  avg ← √(v − ḡ²) + ε
/// else:        avg ← √v + ε
/// if μ > 0: b ← μb + g / avg ;  θ ← θ − γb      // b starts at zero
/// else:     θ ← θ − γ g / avg
/// ```
public struct RMSpropOptions: ElementwiseRule {
    public static var optimizerName: String { "RMSprop" }
    /// Learning rate γ (torch: `lr`, default 1e-2).
    public var lr: Double
    /// Smoothing constant α (torch: `alpha`, default 0.99).
    public var alpha: Double
    /// Term ε added to the denominator (torch: `eps`, default 1e-8).
    public var eps: Double
    /// L2 penalty λ (torch: `weight_decay`, default 0).
    public var weightDecay: Double
    /// Momentum factor μ (torch: `momentum`, default 0).
    public var momentum: Double
    /// Normalize by the variance instead of the second moment (torch: `centered`, default false).
    public var centered: Bool
    /// Maximize the objective (torch: `maximize`, default false).
    public var maximize: Bool

    /// Hyperparameters under their Swift names; torch's names and defaults are on each property.
    public init(lr: Double = 1e-2, alpha: Double = 0.99, eps: Double = 1e-8, weightDecay: Double = 0,
                momentum: Double = 0, centered: Bool = false, maximize: Bool = false) {
        self.lr = lr; self.alpha = alpha; self.eps = eps; self.weightDecay = weightDecay
        self.momentum = momentum; self.centered = centered; self.maximize = maximize
    }

    enum CodingKeys: String, CodingKey {
        case lr, alpha, eps, momentum, centered, maximize
        case weightDecay = "weight_decay"
    }

    public func validate() throws {
        try Check.nonNegative(lr, "learning rate")
        try Check.nonNegative(eps, "epsilon value")
        try Check.nonNegative(momentum, "momentum value")
        try Check.nonNegative(weightDecay, "weight_decay value")
        try Check.nonNegative(alpha, "alpha value")
    }

    public var stateBufferNames: [String] {
        ["square_avg"] + (momentum > 0 ? ["momentum_buffer"] : []) + (centered ? ["grad_avg"] : [])
    }

    public var cyclicMomentum: Double? {
        get { momentum }
        set { if let newValue { momentum = newValue } }
    }

    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func update<S: OptimScalar>(_ run: UpdateRun<S>, state: inout TensorStepState<S>) {
        state.step += 1
        let transform = GradientTransform<S>(maximize: maximize, weightDecay: weightDecay)
        let a = S(alpha), oneMinusAlpha = S(1 - alpha), weight = LerpWeight<S>(1 - alpha)
        let epsilon = S(eps), mu = S(momentum), negLR = S(-lr)
        let p = run.param, g = run.grad, sq = run.buffers[0]
        let buf = momentum > 0 ? run.buffers[1] : sq
        let gradAvg = centered ? run.buffers[momentum > 0 ? 2 : 1] : sq
        // One loop per variant, so that each vectorizes without branches.
        @inline(__always) func element(_ i: Int, centered: Bool, usesMomentum: Bool) {
            let grad = transform(g[i], p[i])
            let square = torchAddcmul(sq[i] * a, grad, grad, value: oneMinusAlpha)
            sq[i] = square
            var avg: S
            if centered {
                let mean = torchLerp(gradAvg[i], grad, weight: weight.w, weightMinusOne: weight.wm1, small: weight.small)
                gradAvg[i] = mean
                avg = torchAddcmul(square, mean, mean, value: -1).squareRootValue()
            } else {
                avg = square.squareRootValue()
            }
            avg = avg + epsilon
            if usesMomentum {
                let velocity = torchAddcdiv(buf[i] * mu, grad, avg, value: 1)
                buf[i] = velocity
                p[i] = torchAdd(p[i], velocity, alpha: negLR)
            } else {
                p[i] = torchAddcdiv(p[i], grad, avg, value: negLR)
            }
        }
        switch (centered, momentum > 0) {
        case (false, false): for i in 0..<run.count { element(i, centered: false, usesMomentum: false) }
        case (false, true): for i in 0..<run.count { element(i, centered: false, usesMomentum: true) }
        case (true, false): for i in 0..<run.count { element(i, centered: true, usesMomentum: false) }
        case (true, true): for i in 0..<run.count { element(i, centered: true, usesMomentum: true) }
        }
    }
}

/// RMSprop (torch: `torch.optim.RMSprop`); see ``RMSpropOptions`` for the update.
public final class RMSprop<Scalar: OptimScalar>: ElementwiseOptimizer<Scalar, RMSpropOptions> {
    /// - Parameters: torch's, under their Swift names: `lr` (1e-2), `alpha` (0.99), `eps` (1e-8),
    ///   `weightDecay` (torch `weight_decay`, 0), `momentum` (0), `centered`, `maximize`.
    public init(_ params: [Parameters<Scalar>], lr: Double = 1e-2, alpha: Double = 0.99, eps: Double = 1e-8,
                weightDecay: Double = 0, momentum: Double = 0, centered: Bool = false,
                maximize: Bool = false) throws {
        try super.init(params, defaults: RMSpropOptions(
            lr: lr, alpha: alpha, eps: eps, weightDecay: weightDecay, momentum: momentum,
            centered: centered, maximize: maximize))
    }
}
