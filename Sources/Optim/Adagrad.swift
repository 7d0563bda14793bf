/// Adagrad (torch: `torch.optim.Adagrad`).
///
/// The update, in torch's variable names (θ params, g gradient, γ `lr`, η `lr_decay`,
/// λ `weight_decay`, ε `eps`, t the step count after the increment):
/// ```
/// g ← maximize ? −∇ : ∇ ;  if λ ≠ 0: g ← g + λθ
/// clr ← γ / (1 + (t − 1)η)
/// sum ← sum + g²
/// θ ← θ − clr · g / (√sum + ε)
/// ```
/// State is created when the optimizer is, with `sum` = `initial_accumulator_value`, as in torch.
public struct AdagradOptions: ElementwiseRule {
    public static var optimizerName: String { "Adagrad" }
    /// Learning rate γ (torch: `lr`, default 1e-2).
    public var lr: Double
    /// Learning-rate decay η (torch: `lr_decay`, default 0).
    public var lrDecay: Double
    /// L2 penalty λ (torch: `weight_decay`, default 0).
    public var weightDecay: Double
    /// Starting value of the accumulator `sum` (torch: `initial_accumulator_value`, default 0).
    public var initialAccumulatorValue: Double
    /// Term ε added to the denominator (torch: `eps`, default 1e-10).
    public var eps: Double
    /// Maximize the objective (torch: `maximize`, default false).
    public var maximize: Bool

    /// Hyperparameters under their Swift names; torch's names and defaults are on each property.
    public init(lr: Double = 1e-2, lrDecay: Double = 0, weightDecay: Double = 0,
                initialAccumulatorValue: Double = 0, eps: Double = 1e-10, maximize: Bool = false) {
        self.lr = lr; self.lrDecay = lrDecay; self.weightDecay = weightDecay
        self.initialAccumulatorValue = initialAccumulatorValue; self.eps = eps; self.maximize = maximize
    }

    enum CodingKeys: String, CodingKey {
        case lr, eps, maximize
        case lrDecay = "lr_decay"
        case weightDecay = "weight_decay"
        case initialAccumulatorValue = "initial_accumulator_value"
    }

    public func validate() throws {
        try Check.nonNegative(lr, "learning rate")
        try Check.nonNegative(lrDecay, "lr_decay value")
        try Check.nonNegative(weightDecay, "weight_decay value")
        try Check.nonNegative(initialAccumulatorValue, "initial_accumulator_value value")
        try Check.nonNegative(eps, "epsilon value")
    }

    public static var createsStateEagerly: Bool { true }
    public var stateBufferNames: [String] { ["sum"] }
    public func initialBufferValue(_ index: Int) -> Double { initialAccumulatorValue }

    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func update<S: OptimScalar>(_ run: UpdateRun<S>, state: inout TensorStepState<S>) {
        state.step += 1
        let t = state.step.doubleValue
        let transform = GradientTransform<S>(maximize: maximize, weightDecay: weightDecay)
        let negClr = S(-(lr / (1 + (t - 1) * lrDecay)))
        let epsilon = S(eps)
        let p = run.param, g = run.grad, sum = run.buffers[0]
        for i in 0..<run.count {
            let grad = transform(g[i], p[i])
            sum[i] = torchAddcmul(sum[i], grad, grad, value: 1)
            let std = sum[i].squareRootValue() + epsilon
            p[i] = torchAddcdiv(p[i], grad, std, value: negClr)
        }
    }
}

extension AdagradOptions {
    /// torch's sparse rule: on the elements a sparse gradient has, `sum += g²` and
    /// `θ += −clr · g / (√sum + ε)`; the others keep their sum and value (a step costs what the
    /// gradient has). torch refuses a sparse
    /// gradient with weight decay; here that gradient is read as dense instead (returns false).
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func sparseUpdate<S: OptimScalar>(_ run: UpdateRun<S>, indices: [Int], state: inout TensorStepState<S>) -> Bool {
        guard weightDecay == 0 else { return false }
        state.step += 1
        let t = state.step.doubleValue
        let negClr = S(-(lr / (1 + (t - 1) * lrDecay)))
        let epsilon = S(eps), sign: S = maximize ? -1 : 1
        let p = run.param, g = run.grad, sum = run.buffers[0]
        // torch adds the sparse update with alpha = −clr: fused (fma(α, u, θ)) for several
        // elements, α·u rounded first for one (measured against torch 2.15's trajectories).
        let fused = indices.count > 1
        for i in indices {
            let grad = g[i] * sign
            sum[i] = sum[i] + grad * grad
            let std = sum[i].squareRootValue() + epsilon
            let update = grad / std
            p[i] = fused ? p[i].addingProduct(negClr, update) : p[i] + negClr * update
        }
        return true
    }
}

/// Adagrad (torch: `torch.optim.Adagrad`); see ``AdagradOptions`` for the update. On a sparse
/// gradient (``Parameters/sparseIndices``) it takes torch's lazy rule.
public final class Adagrad<Scalar: OptimScalar>: ElementwiseOptimizer<Scalar, AdagradOptions> {
    /// - Parameters: torch's, under their Swift names: `lr` (1e-2), `lrDecay` (torch `lr_decay`, 0),
    ///   `weightDecay` (0), `initialAccumulatorValue` (torch `initial_accumulator_value`, 0),
    ///   `eps` (1e-10), `maximize`.
    public init(_ params: [Parameters<Scalar>], lr: Double = 1e-2, lrDecay: Double = 0,
                weightDecay: Double = 0, initialAccumulatorValue: Double = 0, eps: Double = 1e-10,
                maximize: Bool = false) throws {
        try super.init(params, defaults: AdagradOptions(
            lr: lr, lrDecay: lrDecay, weightDecay: weightDecay,
            initialAccumulatorValue: initialAccumulatorValue, eps: eps, maximize: maximize))
    }
}
