/// SparseAdam's hyperparameters (torch: `torch.optim.SparseAdam`), under torch's names in state dicts.
///
/// The update on the elements I a sparse gradient has (torch's arithmetic, in the parameters'
/// type; θ params, g gradient, γ `lr`, β₁ β₂ `betas`, ε `eps`, t the step count after the
/// increment):
/// ```
/// g ← maximize ? −g : g
/// u ← (g − m_I)(1 − β₁);  m_I ← m_I + u
/// w ← (g² − v_I)(1 − β₂); v_I ← v_I + w
/// θ_I ← θ_I + (−γ·√(1 − β₂ᵗ)/(1 − β₁ᵗ)) · (m_I / (√v_I + ε))
/// ```
/// ε is added to the uncorrected √v (Adam adds it to √(v / (1 − β₂ᵗ))). Elements outside I keep
/// their moments: a step costs what the gradient has, not the tensor's size.
public struct SparseAdamOptions: Hyperparameters {
    /// Learning rate γ (torch: `lr`, default 1e-3; must be positive).
    public var lr: Double
    /// Coefficients β₁, β₂ of the running averages (torch: `betas`, default (0.9, 0.999)).
    public var betas: (Double, Double) {
        get { storedBetas.tuple }
        set { storedBetas.tuple = newValue }
    }
    var storedBetas: HyperparameterPair
    /// Term ε added to the denominator (torch: `eps`, default 1e-8; must be positive).
    public var eps: Double
    /// Maximize the objective (torch: `maximize`, default false).
    public var maximize: Bool

    public init(lr: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999), eps: Double = 1e-8, maximize: Bool = false) {
        self.lr = lr; self.storedBetas = HyperparameterPair(betas); self.eps = eps; self.maximize = maximize
    }

    enum CodingKeys: String, CodingKey {
        case lr, eps, maximize
        case storedBetas = "betas"
    }

    /// torch's checks, in its order and words.
    public func validate() throws {
        guard lr > 0 else { throw OptimError("Invalid learning rate: \(pythonRepr(lr))") }
        guard eps > 0 else { throw OptimError("Invalid epsilon value: \(pythonRepr(eps))") }
        try Check.beta(betas.0, index: 0)
        try Check.beta(betas.1, index: 1)
    }
}

/// SparseAdam (torch: `torch.optim.SparseAdam`): Adam's moments updated only where a sparse
/// gradient has elements (``Parameters/sparseIndices``): the lazy Adam of embedding tables and
/// of linear models on sparse features. See ``SparseAdamOptions`` for the update.
///
/// torch raises for a dense gradient; here a dense gradient (a bias, which every row touches)
/// counts as a sparse one with every element, so one optimizer can take a whole model. The
/// `step` count is per tensor and advances on every step that gives the tensor a gradient, even
/// one with no elements (torch's rule).
public final class SparseAdam<Scalar: OptimScalar>: SchedulableOptimizer {
    /// The param groups (torch: `optimizer.param_groups`).
    public var paramGroups: [ParamGroup<Scalar, SparseAdamOptions>] = []
    /// The hyperparameters new groups start from (torch: `optimizer.defaults`).
    public let defaults: SparseAdamOptions
    /// The step, state-dict and load hooks.
    public let hooks = OptimizerHooks<SparseAdamOptions>()
    /// How many times `step()` has run.
    public private(set) var stepCount = 0

    struct TensorState: Equatable {
        var step: Double
        var expAvg: [Scalar]
        var expAvgSq: [Scalar]
    }
    private var states: [ObjectIdentifier: [TensorState?]] = [:]

    /// - Parameters: torch's, under their Swift names: `lr` (1e-3), `betas` ((0.9, 0.999)), `eps` (1e-8), `maximize`.
    public init(_ params: [Parameters<Scalar>], lr: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999), eps: Double = 1e-8,
                maximize: Bool = false) throws {
        let options = SparseAdamOptions(lr: lr, betas: betas, eps: eps, maximize: maximize)
        try options.validate()
        try Self.checkNotEmpty(params)
        defaults = options
        try addParamGroup(params)
    }

    /// torch's `add_param_group`: a new group over `params`, with the defaults changed by `configure`.
    public func addParamGroup(_ params: [Parameters<Scalar>], _ configure: (inout SparseAdamOptions) -> Void = { _ in }) throws {
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

    /// One step over every group; tensors without a gradient are skipped.
    public func step() { hooks.aroundStep(update) }

    private func update() {
        for group in paramGroups {
            for p in group.params {
                var tensorStates = states[ObjectIdentifier(p)] ?? Array(repeating: nil, count: p.tensors.count)
                for (t, tensor) in p.tensors.enumerated() where p.hasGrad[t] {
                    var state = tensorStates[t] ?? TensorState(step: 0, expAvg: Array(repeating: 0, count: tensor.count),
                                                                expAvgSq: Array(repeating: 0, count: tensor.count))
                    state.step += 1
                    Self.update(p, tensor, indices: p.sparseIndices[t], state: &state, options: group.options)
                    tensorStates[t] = state
                }
                states[ObjectIdentifier(p)] = tensorStates
            }
        }
        stepCount += 1
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    private static func update(_ p: Parameters<Scalar>, _ tensor: Parameters<Scalar>.Tensor, indices: [Int]?, state: inout TensorState,
                               options: SparseAdamOptions) {
        let t = state.step
        let oneMinusBeta1 = Scalar(1 - options.betas.0), oneMinusBeta2 = Scalar(1 - options.betas.1), epsilon = Scalar(options.eps)
        let biasCorrection1 = 1 - PyMath.pow(options.betas.0, t), biasCorrection2 = 1 - PyMath.pow(options.betas.1, t)
        let negStepSize = Scalar(-(options.lr * biasCorrection2.squareRoot() / biasCorrection1))
        let sign: Scalar = options.maximize ? -1 : 1
        p.values.withUnsafeMutableBufferPointer { values in
            p.grad.withUnsafeBufferPointer { grad in
                state.expAvg.withUnsafeMutableBufferPointer { m in
                    state.expAvgSq.withUnsafeMutableBufferPointer { v in
                        let theta = values.baseAddress! + tensor.offset, g = grad.baseAddress! + tensor.offset
                        @inline(__always) func element(_ i: Int) {
                            let gradient = g[i] * sign
                            let u = (gradient - m[i]) * oneMinusBeta1
                            let numer = u + m[i]
                            m[i] = m[i] + u
                            let w = (gradient * gradient - v[i]) * oneMinusBeta2
                            let sum = w + v[i]
                            v[i] = v[i] + w
                            theta[i] = theta[i] + negStepSize * (numer / (sum.squareRoot() + epsilon))
                        }
                        if let indices {
                            for i in indices { element(i) }
                        } else {
                            for i in 0..<tensor.count { element(i) }
                        }
                    }
                }
            }
        }
    }

    // MARK: - State dicts

    /// torch's `state_dict()`: per tensor `step`, `exp_avg` and `exp_avg_sq` (flattened).
    public func stateDict() -> OptimizerStateDict<SparseAdamOptions> { hooks.aroundStateDict(buildStateDict) }

    private func buildStateDict() -> OptimizerStateDict<SparseAdamOptions> {
        var state: [Int: [String: StateValue]] = [:]
        var groups: [ParamGroupState<SparseAdamOptions>] = []
        var index = 0
        for group in paramGroups {
            var indices: [Int] = []
            for p in group.params {
                let tensorStates = states[ObjectIdentifier(p)]
                for t in p.tensors.indices {
                    if let s = tensorStates?[t] {
                        state[index] = ["step": .number(s.step), "exp_avg": .tensor(Scalar.widened(s.expAvg)),
                                        "exp_avg_sq": .tensor(Scalar.widened(s.expAvgSq))]
                    }
                    indices.append(index)
                    index += 1
                }
            }
            groups.append(ParamGroupState(options: group.options, schedulerValues: group.schedulerValues, params: indices))
        }
        return OptimizerStateDict(state: state, paramGroups: groups)
    }

    /// torch's `load_state_dict`; validates everything before changing anything.
    public func loadStateDict(_ dict: OptimizerStateDict<SparseAdamOptions>) throws { try hooks.aroundLoad(dict, load) }

    private func load(_ dict: OptimizerStateDict<SparseAdamOptions>) throws {
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
                    func buffer(_ name: String) throws -> [Scalar] {
                        guard let values = entry[name]?.tensor else { throw OptimError(.keyError, "state of parameter '\(tensor.name)' lacks '\(name)'") }
                        guard values.count == tensor.count else {
                            throw OptimError("state '\(name)' of parameter '\(tensor.name)' has \(values.count) elements, expected \(tensor.count)")
                        }
                        return Scalar.narrowed(values)
                    }
                    tensorStates[t] = TensorState(step: step, expAvg: try buffer("exp_avg"), expAvgSq: try buffer("exp_avg_sq"))
                }
                restored[ObjectIdentifier(p)] = tensorStates
            }
        }
        adoptGroups(of: dict)
        states = restored
    }

    // MARK: - SchedulableOptimizer

    public func cyclicMomentum(group: Int) -> Double? { paramGroups[group].options.betas.0 }
    public func setCyclicMomentum(_ value: Double, group: Int) { paramGroups[group].options.betas.0 = value }
}

extension SparseAdam: Optimizer, GroupedOptimizer {}
