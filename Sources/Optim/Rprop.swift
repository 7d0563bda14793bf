/// Resilient backpropagation (torch: `torch.optim.Rprop`).
///
/// The update, in torch's variable names (θ params, g gradient, η₋ η₊ `etas`, Δ the per-element
/// step size, starting at `lr`, clamped to `step_sizes`; `prev` the previous gradient):
/// ```
/// g ← maximize ? −∇ : ∇
/// f ← η₊ where g·prev > 0, η₋ where g·prev < 0, 1 elsewhere
/// Δ ← clamp(Δf, step_size_min, step_size_max)
/// g ← 0 where f = η₋
/// θ ← θ − sign(g)Δ ;  prev ← g
/// ```
/// Rprop has no weight decay.
public struct RpropOptions: ElementwiseRule {
    public static var optimizerName: String { "Rprop" }
    /// Initial step size (torch: `lr`, default 1e-2).
    public var lr: Double
    /// Multiplicative decrease and increase factors η₋, η₊ (torch: `etas`, default (0.5, 1.2)).
    public var etas: (Double, Double) {
        get { storedEtas.tuple }
        set { storedEtas.tuple = newValue }
    }
    var storedEtas: HyperparameterPair
    /// Minimal and maximal step sizes (torch: `step_sizes`, default (1e-6, 50)).
    public var stepSizes: (Double, Double) {
        get { storedStepSizes.tuple }
        set { storedStepSizes.tuple = newValue }
    }
    var storedStepSizes: HyperparameterPair
    /// Maximize the objective (torch: `maximize`, default false).
    public var maximize: Bool

    /// Hyperparameters under their Swift names; torch's names and defaults are on each property.
    public init(lr: Double = 1e-2, etas: (Double, Double) = (0.5, 1.2),
                stepSizes: (Double, Double) = (1e-6, 50), maximize: Bool = false) {
        self.lr = lr; storedEtas = HyperparameterPair(etas); storedStepSizes = HyperparameterPair(stepSizes)
        self.maximize = maximize
    }

    enum CodingKeys: String, CodingKey {
        case lr, maximize
        case storedEtas = "etas"
        case storedStepSizes = "step_sizes"
    }

    public func validate() throws {
        try Check.nonNegative(lr, "learning rate")
        guard 0 < etas.0, etas.0 < 1, 1 < etas.1 else {
            throw OptimError("Invalid eta values: \(pythonRepr(etas.0)), \(pythonRepr(etas.1))")
        }
    }

    public var stateBufferNames: [String] { ["prev", "step_size"] }
    public func initialBufferValue(_ index: Int) -> Double { index == 1 ? lr : 0 }

    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func update<S: OptimScalar>(_ run: UpdateRun<S>, state: inout TensorStepState<S>) {
        state.step += 1
        let etaMinus = S(etas.0), etaPlus = S(etas.1)
        let minStep = S(stepSizes.0), maxStep = S(stepSizes.1)
        let p = run.param, g = run.grad, prev = run.buffers[0], stepSize = run.buffers[1]
        for i in 0..<run.count {
            var grad = maximize ? -g[i] : g[i]
            let product = grad * prev[i]
            let factor: S = product > 0 ? etaPlus : product < 0 ? etaMinus : product == 0 ? 1 : .nan
            let scaled = stepSize[i] * factor
            stepSize[i] = scaled.isNaN ? scaled : min(max(scaled, minStep), maxStep)
            if factor == etaMinus { grad = 0 }
            let sign: S = grad > 0 ? 1 : grad < 0 ? -1 : grad.isNaN ? .nan : 0
            p[i] = torchAddcmul(p[i], sign, stepSize[i], value: -1)
            prev[i] = grad
        }
    }
}

/// Rprop (torch: `torch.optim.Rprop`); see ``RpropOptions`` for the update.
public final class Rprop<Scalar: OptimScalar>: ElementwiseOptimizer<Scalar, RpropOptions> {
    /// - Parameters: torch's, under their Swift names: `lr` (1e-2), `etas` ((0.5, 1.2)),
    ///   `stepSizes` (torch `step_sizes`, (1e-6, 50)), `maximize`.
    public init(_ params: [Parameters<Scalar>], lr: Double = 1e-2, etas: (Double, Double) = (0.5, 1.2),
                stepSizes: (Double, Double) = (1e-6, 50), maximize: Bool = false) throws {
        try super.init(params, defaults: RpropOptions(lr: lr, etas: etas, stepSizes: stepSizes, maximize: maximize))
    }
}
