/// Adafactor's hyperparameters (torch: `torch.optim.Adafactor`), under torch's names in state dicts.
///
/// The update of one tensor, in torch's variable names (θ params, g gradient, t the step count
/// after the increment, γ `lr`, λ `weight_decay`, ε₁ ε₂ `eps`, d the clipping threshold):
/// ```
/// g ← maximize ? −∇ : ∇
/// β̂₂ ← t^beta2_decay                       (1 − β₂ₜ, a weight that starts at 1)
/// ρ ← min(γ, 1/√t);  α ← max(ε₂, ‖θ‖/√numel) · ρ
/// θ ← θ(1 − γλ)
/// 2-D and more (factored over the last two dimensions, R rows × C columns):
///   r ← lerp(r, ‖g‖²_row / C, β̂₂);  c ← lerp(c, ‖g‖²_col / R, β̂₂)
///   v ← (r cᵀ) / max(mean(r), ε₁)
/// 1-D:  v ← lerp(v, g², β̂₂)
/// u ← g / √max(v, ε₁²)
/// θ ← θ − α / max(1, ‖u‖ / (√numel · d)) · u
/// ```
/// ε₁ defaults to the machine epsilon of the parameters' type. The factored state of an R × C
/// weight is R + C numbers instead of R·C: the optimizer's memory is about that of the weights.
public struct AdafactorOptions: Hyperparameters {
    public static var optimizerName: String { "Adafactor" }
    /// Learning rate γ, the cap on the relative step size (torch: `lr`, default 1e-2).
    public var lr: Double
    /// The exponent of the second-moment decay, 1 − β₂ₜ = t^beta2_decay (torch: `beta2_decay`, default −0.8).
    public var beta2Decay: Double
    /// ε₁, the floor of the second moment; nil for the machine epsilon of the parameters' type
    /// (torch: `eps[0]`, default None).
    public var eps1: Double?
    /// ε₂, the floor of the parameters' RMS in the step size (torch: `eps[1]`, default 1e-3).
    public var eps2: Double
    /// The clipping threshold d of the update's RMS (torch: `d`, default 1).
    public var d: Double
    /// Decoupled weight decay λ (torch: `weight_decay`, default 0).
    public var weightDecay: Double
    /// Maximize the objective (torch: `maximize`, default false).
    public var maximize: Bool

    public init(lr: Double = 1e-2, beta2Decay: Double = -0.8, eps: (Double?, Double) = (nil, 1e-3), d: Double = 1,
                weightDecay: Double = 0, maximize: Bool = false) {
        self.lr = lr; self.beta2Decay = beta2Decay; self.eps1 = eps.0; self.eps2 = eps.1; self.d = d
        self.weightDecay = weightDecay; self.maximize = maximize
    }

    /// torch's checks, in its order and words.
    public func validate() throws {
        guard lr >= 0 else { throw OptimError("Learning rate should be >= 0 but is: \(pythonRepr(lr))") }
        guard beta2Decay <= 0 else { throw OptimError("beta2_decay should be <= 0 but is: \(pythonRepr(beta2Decay))") }
        if let eps1 { guard eps1 >= 0 else { throw OptimError("epsilon1 should be >= 0 but is: \(pythonRepr(eps1))") } }
        guard eps2 >= 0 else { throw OptimError("epsilon2 should be >= 0 but is: \(pythonRepr(eps2))") }
        guard d >= 1 else { throw OptimError("Clipping threshold d should be >= 1 but is: \(pythonRepr(d))") }
        guard weightDecay >= 0 else { throw OptimError("weight_decay should be >= 0 but is: \(pythonRepr(weightDecay))") }
    }

    enum CodingKeys: String, CodingKey {
        case lr, eps, d, maximize, foreach
        case beta2Decay = "beta2_decay"
        case weightDecay = "weight_decay"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        lr = try container.decode(Double.self, forKey: .lr)
        beta2Decay = try container.decode(Double.self, forKey: .beta2Decay)
        let eps = try container.decode([Double?].self, forKey: .eps)
        guard eps.count == 2, let eps2 = eps[1] else {
            throw DecodingError.dataCorruptedError(forKey: .eps, in: container, debugDescription: "eps must be [eps1 or null, eps2]")
        }
        eps1 = eps[0]
        self.eps2 = eps2
        d = try container.decode(Double.self, forKey: .d)
        weightDecay = try container.decode(Double.self, forKey: .weightDecay)
        maximize = try container.decode(Bool.self, forKey: .maximize)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(lr, forKey: .lr)
        try container.encode(beta2Decay, forKey: .beta2Decay)
        try container.encode([eps1, eps2], forKey: .eps)
        try container.encode(d, forKey: .d)
        try container.encode(weightDecay, forKey: .weightDecay)
        try container.encode(maximize, forKey: .maximize)
        try container.encodeNil(forKey: .foreach)
    }
}

/// Adafactor (torch: `torch.optim.Adafactor`, Shazeer & Stern 2018 as torch implements it): a
/// relative step size and a second moment factored into row and column averages for tensors of
/// two or more dimensions; see ``AdafactorOptions`` for the update.
///
/// Not elementwise: each tensor's step depends on its norms and, for a matrix, on its rows and
/// columns, so the update walks tensor by tensor using each tensor's shape.
public final class Adafactor<Scalar: OptimScalar>: SchedulableOptimizer {
    /// The param groups (torch: `optimizer.param_groups`).
    public var paramGroups: [ParamGroup<Scalar, AdafactorOptions>] = []
    /// The hyperparameters new groups start from (torch: `optimizer.defaults`).
    public let defaults: AdafactorOptions
    /// How many times `step()` has run.
    public private(set) var stepCount = 0
    /// The step, state-dict and load hooks (``Optimizer/registerStepPreHook(_:)`` and the like).
    public let hooks = OptimizerHooks<AdafactorOptions>()

    /// One tensor's state: torch's `step`, and `row_var` and `col_var` (2-D and more) or `variance`.
    struct TensorState: Equatable {
        var step: Double
        var rowVar: [Scalar]
        var colVar: [Scalar]
        var variance: [Scalar]
    }
    private var states: [ObjectIdentifier: [TensorState?]] = [:]

    /// - Parameters: torch's, under their Swift names: `lr` (1e-2), `beta2Decay` (torch
    ///   `beta2_decay`, −0.8), `eps` ((nil, 1e-3): ε₁, nil for the type's epsilon, and ε₂), `d` (1),
    ///   `weightDecay` (torch `weight_decay`, 0), `maximize`.
    public init(_ params: [Parameters<Scalar>], lr: Double = 1e-2, beta2Decay: Double = -0.8, eps: (Double?, Double) = (nil, 1e-3),
                d: Double = 1, weightDecay: Double = 0, maximize: Bool = false) throws {
        let options = AdafactorOptions(lr: lr, beta2Decay: beta2Decay, eps: eps, d: d, weightDecay: weightDecay, maximize: maximize)
        try options.validate()
        try Self.checkNotEmpty(params)
        defaults = options
        try addParamGroup(params)
    }

    /// torch's `add_param_group`: a new group over `params`, with the defaults changed by `configure`.
    public func addParamGroup(_ params: [Parameters<Scalar>], _ configure: (inout AdafactorOptions) -> Void = { _ in }) throws {
        paramGroups.append(try newGroup(params, defaults: defaults, configure))
    }

    /// Calls `closure` (which should recompute the loss and the gradients), then steps; returns its loss.
    @discardableResult
    public func step(closure: () throws -> Double) rethrows -> Double {
        try hooks.aroundStep {
            let loss = try closure()
            update()
            return loss
        }
    }

    /// One step over every group; tensors without a gradient are skipped (no state, no step).
    public func step() { hooks.aroundStep(update) }

    private func update() {
        for group in paramGroups {
            for p in group.params {
                var tensorStates = states[ObjectIdentifier(p)] ?? Array(repeating: nil, count: p.tensors.count)
                for (t, tensor) in p.tensors.enumerated() where p.hasGrad[t] {
                    var state = tensorStates[t] ?? Self.initialState(tensor)
                    update(tensor, of: p, state: &state, options: group.options)
                    tensorStates[t] = state
                }
                states[ObjectIdentifier(p)] = tensorStates
            }
        }
        stepCount += 1
    }

    /// The factored shape of a tensor: (batch, rows, columns) over its last two dimensions, nil
    /// for a vector or a scalar.
    static func factoring(_ shape: [Int]) -> (batch: Int, rows: Int, columns: Int)? {
        guard shape.count >= 2 else { return nil }
        return (shape.dropLast(2).reduce(1, *), shape[shape.count - 2], shape[shape.count - 1])
    }

    static func initialState(_ tensor: Parameters<Scalar>.Tensor) -> TensorState {
        guard let (batch, rows, columns) = factoring(tensor.shape) else {
            return TensorState(step: 0, rowVar: [], colVar: [], variance: Array(repeating: 0, count: tensor.count))
        }
        return TensorState(step: 0, rowVar: Array(repeating: 0, count: batch * rows), colVar: Array(repeating: 0, count: batch * columns), variance: [])
    }

    /// The L2 norm of `count` values as torch's `norm(2).item()` gives it: summed in Double, rounded
    /// to the tensor's type.
    private static func norm(_ values: UnsafePointer<Scalar>, count: Int, stride: Int = 1) -> Scalar {
        var sum = 0.0
        for i in 0..<count { let x = values[i * stride].doubleValue; sum = sum.addingProduct(x, x) }
        return Scalar(sum.squareRoot())
    }

    private func update(_ tensor: Parameters<Scalar>.Tensor, of p: Parameters<Scalar>, state: inout TensorState, options: AdafactorOptions) {
        let n = tensor.count
        let theta = p.values.base + tensor.offset, gradient = UnsafePointer(p.grad.base + tensor.offset)
        let sign: Scalar = options.maximize ? -1 : 1
        let eps1 = options.eps1 ?? Scalar.ulpOfOne.doubleValue
        state.step += 1
        let t = state.step
        let oneMinusBeta2 = PyMath.pow(t, options.beta2Decay)
        let rho = min(options.lr, 1 / PyMath.pow(t, 0.5))
        let alpha = max(options.eps2, Self.norm(UnsafePointer(theta), count: n).doubleValue / PyMath.pow(Double(n), 0.5)) * rho
        if options.weightDecay != 0 {
            let factor = Scalar(1 - options.lr * options.weightDecay)
            for i in 0..<n { theta[i] *= factor }
        }
        let weight = LerpWeight<Scalar>(oneMinusBeta2)
        var update = [Scalar](repeating: 0, count: n)
        if let (batch, rows, columns) = Self.factoring(tensor.shape) {
            let floor = Scalar(eps1)
            for b in 0..<batch {
                let g = gradient + b * rows * columns
                // torch: vector_norm(g, dim).square_().div_(size): the norm rounded, then squared.
                for r in 0..<rows {
                    let rowNorm = Self.norm(g + r * columns, count: columns)
                    let mean = rowNorm * rowNorm / Scalar(columns)
                    let k = b * rows + r
                    state.rowVar[k] = torchLerp(state.rowVar[k], mean, weight: weight.w, weightMinusOne: weight.wm1, small: weight.small)
                }
                for c in 0..<columns {
                    let columnNorm = Self.norm(g + c, count: rows, stride: columns)
                    let mean = columnNorm * columnNorm / Scalar(rows)
                    let k = b * columns + c
                    state.colVar[k] = torchLerp(state.colVar[k], mean, weight: weight.w, weightMinusOne: weight.wm1, small: weight.small)
                }
                var rowSum = 0.0
                for r in 0..<rows { rowSum += state.rowVar[b * rows + r].doubleValue }
                let rowMean = torchMaximum(Scalar(rowSum) / Scalar(rows), floor)
                for r in 0..<rows {
                    for c in 0..<columns {
                        update[(b * rows + r) * columns + c] = state.rowVar[b * rows + r] * state.colVar[b * columns + c] / rowMean
                    }
                }
            }
        } else {
            for i in 0..<n {
                let g = gradient[i] * sign
                state.variance[i] = torchLerp(state.variance[i], g * g, weight: weight.w, weightMinusOne: weight.wm1, small: weight.small)
                update[i] = state.variance[i]
            }
        }
        let floor = Scalar(eps1 * eps1)
        for i in 0..<n {
            let v = torchMaximum(update[i], floor)
            update[i] = 1 / v.squareRootValue() * (gradient[i] * sign)
        }
        let denom = max(1.0, update.withUnsafeBufferPointer { Self.norm($0.baseAddress!, count: n) }.doubleValue / (PyMath.pow(Double(n), 0.5) * options.d))
        let step = Scalar(-alpha / denom)
        for i in 0..<n { theta[i] = torchAdd(theta[i], update[i], alpha: step) }
    }

    // MARK: - State dicts

    /// torch's `state_dict()`: per tensor `step` and `row_var`/`col_var` or `variance` (flattened).
    public func stateDict() -> OptimizerStateDict<AdafactorOptions> { hooks.aroundStateDict(buildStateDict) }

    private func buildStateDict() -> OptimizerStateDict<AdafactorOptions> {
        var state: [Int: [String: StateValue]] = [:]
        var groups: [ParamGroupState<AdafactorOptions>] = []
        var index = 0
        for group in paramGroups {
            var indices: [Int] = []
            for p in group.params {
                let tensorStates = states[ObjectIdentifier(p)]
                for t in p.tensors.indices {
                    if let s = tensorStates?[t] {
                        var entry: [String: StateValue] = ["step": .number(s.step)]
                        if Self.factoring(p.tensors[t].shape) != nil {
                            entry["row_var"] = .tensor(Scalar.widened(s.rowVar))
                            entry["col_var"] = .tensor(Scalar.widened(s.colVar))
                        } else {
                            entry["variance"] = .tensor(Scalar.widened(s.variance))
                        }
                        state[index] = entry
                    }
                    indices.append(index)
                    index += 1
                }
            }
            groups.append(ParamGroupState(options: group.options, schedulerValues: group.schedulerValues, params: indices))
        }
        return OptimizerStateDict(state: state, paramGroups: groups)
    }

    /// torch's `load_state_dict`; validates everything (counts, keys, lengths) before changing anything.
    public func loadStateDict(_ dict: OptimizerStateDict<AdafactorOptions>) throws { try hooks.aroundLoad(dict, load) }

    private func load(_ dict: OptimizerStateDict<AdafactorOptions>) throws {
        try checkLayout(of: dict)
        var restored: [ObjectIdentifier: [TensorState?]] = [:]
        for (saved, group) in zip(dict.paramGroups, paramGroups) {
            try saved.options.validate()
            var position = 0
            for p in group.params {
                var tensorStates: [TensorState?] = Array(repeating: nil, count: p.tensors.count)
                for (t, tensor) in p.tensors.enumerated() {
                    defer { position += 1 }
                    guard let entry = dict.state[saved.params[position]] else { continue }
                    guard let step = entry["step"]?.number else { throw OptimError(.keyError, "state of parameter '\(tensor.name)' lacks 'step'") }
                    guard step.isFinite, step >= 0, step <= Double(StateValue.counterLimit), step == step.rounded() else {
                        throw OptimError("state 'step' of parameter '\(tensor.name)' is \(step); expected a count of steps")
                    }
                    var state = Self.initialState(tensor)
                    state.step = step
                    func buffer(_ name: String, count: Int) throws -> [Scalar] {
                        guard let values = entry[name]?.tensor else { throw OptimError(.keyError, "state of parameter '\(tensor.name)' lacks '\(name)'") }
                        guard values.count == count else {
                            throw OptimError("state '\(name)' of parameter '\(tensor.name)' has \(values.count) elements, expected \(count)")
                        }
                        return Scalar.narrowed(values)
                    }
                    if Self.factoring(tensor.shape) != nil {
                        state.rowVar = try buffer("row_var", count: state.rowVar.count)
                        state.colVar = try buffer("col_var", count: state.colVar.count)
                    } else {
                        state.variance = try buffer("variance", count: state.variance.count)
                    }
                    tensorStates[t] = state
                }
                restored[ObjectIdentifier(p)] = tensorStates
            }
        }
        adoptGroups(of: dict)
        states = restored
    }

    // MARK: - SchedulableOptimizer

    public func cyclicMomentum(group: Int) -> Double? { nil }
    public func setCyclicMomentum(_ value: Double, group: Int) {}
}

extension Adafactor: Optimizer, GroupedOptimizer {}
