/// The line search LBFGS can use (torch: `line_search_fn`).
public enum LineSearch: String, Codable, Sendable, CaseIterable {
    /// Cubic interpolation until the strong Wolfe conditions hold (torch: `"strong_wolfe"`).
    case strongWolfe = "strong_wolfe"
}

/// Hyperparameters of ``LBFGS``, under torch's names.
public struct LBFGSOptions: Hyperparameters {
    /// Step size: the full step when there is no line search, the first trial step otherwise
    /// (torch: `lr`, default 1).
    public var lr: Double
    /// Iterations per `step` (torch: `max_iter`, default 20).
    public var maxIter: Int
    /// Closure evaluations per `step` (torch: `max_eval`, default `max_iter * 5 / 4`).
    public var maxEval: Int
    /// Stop when max |g| is at most this (torch: `tolerance_grad`, default 1e-7).
    public var toleranceGrad: Double
    /// Stop when the step or the loss changes by less than this (torch: `tolerance_change`, 1e-9).
    public var toleranceChange: Double
    /// Number of (s, y) pairs kept (torch: `history_size`, default 100).
    public var historySize: Int
    /// nil for fixed steps of `lr`, or `.strongWolfe` (torch: `line_search_fn`, default None).
    public var lineSearchFn: LineSearch?
    /// Maximize the objective (torch: `maximize`, default false).
    public var maximize: Bool

    /// Hyperparameters under their Swift names; torch's names and defaults are on each property.
    /// `maxEval` nil means torch's default, `maxIter * 5 / 4`.
    public init(lr: Double = 1, maxIter: Int = 20, maxEval: Int? = nil, toleranceGrad: Double = 1e-7,
                toleranceChange: Double = 1e-9, historySize: Int = 100, lineSearchFn: LineSearch? = nil,
                maximize: Bool = false) {
        self.lr = lr; self.maxIter = maxIter; self.maxEval = maxEval ?? maxIter * 5 / 4
        self.toleranceGrad = toleranceGrad; self.toleranceChange = toleranceChange
        self.historySize = historySize; self.lineSearchFn = lineSearchFn; self.maximize = maximize
    }

    enum CodingKeys: String, CodingKey {
        case lr, maximize
        case maxIter = "max_iter", maxEval = "max_eval", toleranceGrad = "tolerance_grad"
        case toleranceChange = "tolerance_change", historySize = "history_size", lineSearchFn = "line_search_fn"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(lr, forKey: .lr); try c.encode(maxIter, forKey: .maxIter)
        try c.encode(maxEval, forKey: .maxEval); try c.encode(toleranceGrad, forKey: .toleranceGrad)
        try c.encode(toleranceChange, forKey: .toleranceChange); try c.encode(historySize, forKey: .historySize)
        try c.encode(lineSearchFn, forKey: .lineSearchFn)  // null, as torch saves None
        try c.encode(maximize, forKey: .maximize)
    }

    public func validate() throws {
        try Check.nonNegative(lr, "learning rate")
        guard maxIter >= 1 else { throw OptimError("Invalid max_iter value: \(maxIter)") }
        guard historySize >= 1 else { throw OptimError("Invalid history_size value: \(historySize)") }
    }
}

/// Limited-memory BFGS (torch: `torch.optim.LBFGS`), with optional strong-Wolfe line search.
///
/// Each `step(closure:)` runs up to `maxIter` quasi-Newton iterations. The closure must recompute
/// the loss *and* the gradients of the parameters; LBFGS calls it several times per step.
/// In torch's variable names, each iteration does:
/// ```
/// y ← g − g_prev ;  s ← d·t ;  if yᵀs > 1e-10: push (y, s, 1/yᵀs), H_diag ← yᵀs / yᵀy
/// d ← −H g   (two-loop recursion over the history, H₀ = H_diag·I)
/// t ← lr  (first iteration ever: min(1, 1/‖g‖₁)·lr)
/// θ ← θ + t·d  (t chosen by the line search when there is one)
/// ```
/// and stops on `maxIter`, `maxEval`, max|g| ≤ `toleranceGrad`, max|t·d| ≤ `toleranceChange`
/// or |Δloss| < `toleranceChange`. All parameters form one group (torch's rule).
///
/// As in torch, the history's scalars (yᵀs, ρ, H_diag, the α's) are kept in the parameters'
/// precision, so a `Float` run takes the same decisions as torch's float32 run.
///
/// ```swift
/// let optimizer = try LBFGS([model], lr: 1, maxIter: 20, lineSearchFn: .strongWolfe)
/// let loss = try optimizer.step { lossAndGradients(model) }
/// ```
public final class LBFGS<Scalar: OptimScalar>: SchedulableOptimizer {
    /// The single param group.
    public var paramGroups: [ParamGroup<Scalar, LBFGSOptions>]
    /// How many times `step(closure:)` has run.
    public private(set) var stepCount = 0
    /// The step, state-dict and load hooks (``Optimizer/registerStepPreHook(_:)`` and the like).
    public let hooks = OptimizerHooks<LBFGSOptions>()
    private var memory = Memory()

    /// The persistent state torch keeps in `state[params[0]]`.
    struct Memory {
        var funcEvals = 0
        var nIter = 0
        var d: [Scalar]?
        var t: Double?
        var oldDirs: [[Scalar]] = []   // the y's, under torch's name
        var oldSteps: [[Scalar]] = []  // the s's
        var ro: [Scalar] = []
        var hDiag: Scalar = 1
        var prevFlatGrad: [Scalar]?
        var prevLoss: Double?
    }

    /// - Parameters: torch's, under their Swift names: `lr` (1), `maxIter` (torch `max_iter`, 20),
    ///   `maxEval` (torch `max_eval`, maxIter·5/4), `toleranceGrad` (torch `tolerance_grad`, 1e-7),
    ///   `toleranceChange` (torch `tolerance_change`, 1e-9), `historySize` (torch `history_size`,
    ///   100), `lineSearchFn` (torch `line_search_fn`, nil), `maximize`.
    public init(_ params: [Parameters<Scalar>], lr: Double = 1, maxIter: Int = 20, maxEval: Int? = nil,
                toleranceGrad: Double = 1e-7, toleranceChange: Double = 1e-9, historySize: Int = 100,
                lineSearchFn: LineSearch? = nil, maximize: Bool = false) throws {
        let options = LBFGSOptions(lr: lr, maxIter: maxIter, maxEval: maxEval, toleranceGrad: toleranceGrad,
                                   toleranceChange: toleranceChange, historySize: historySize,
                                   lineSearchFn: lineSearchFn, maximize: maximize)
        try options.validate()
        guard !params.isEmpty, params.contains(where: { !$0.tensors.isEmpty }) else {
            throw OptimError("optimizer got an empty parameter list")
        }
        let ids = params.map(ObjectIdentifier.init)
        guard Set(ids).count == ids.count else {
            throw OptimError("optimizer contains a parameter group with duplicate parameters")
        }
        paramGroups = [ParamGroup(params: params, options: options)]
    }

    /// LBFGS keeps one group: always throws torch's error.
    public func addParamGroup(_ params: [Parameters<Scalar>], _ configure: (inout LBFGSOptions) -> Void = { _ in }) throws {
        throw OptimError("LBFGS doesn't support per-parameter options (parameter groups)")
    }

    /// torch's `zero_grad`: makes every gradient absent (default), or zero.
    public func zeroGrad(setToNone: Bool = true) {
        for p in paramGroups[0].params { p.zeroGrad(setToNone: setToNone) }
    }

    private var params: [Parameters<Scalar>] { paramGroups[0].params }

    /// All gradients as one vector, absent ones as zeros, negated under `maximize`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    private func gatherFlatGrad() -> [Scalar] {
        var flat: [Scalar] = []
        flat.reserveCapacity(params.reduce(0) { $0 + $1.count })
        for p in params {
            for (i, tensor) in p.tensors.enumerated() {
                if p.hasGrad[i] {
                    p.grad.withUnsafeBufferPointer { flat.append(contentsOf: $0[tensor.range]) }
                } else {
                    flat.append(contentsOf: repeatElement(0, count: tensor.count))
                }
            }
        }
        if paramGroups[0].options.maximize { for i in flat.indices { flat[i] = -flat[i] } }
        return flat
    }

    /// θ ← θ + stepSize·update (torch's `_add_grad`: `p.add_(update, alpha=step_size)`).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    private func addGrad(_ stepSize: Double, _ update: [Scalar]) {
        let alpha = Scalar(stepSize)
        var offset = 0
        for p in params {
            p.values.withUnsafeMutableBufferPointer { values in
                for i in values.indices { values[i] = torchAdd(values[i], update[offset + i], alpha: alpha) }
            }
            offset += p.count
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    private func cloneParams() -> [[Scalar]] { params.map(\.values.array) }
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    private func setParams(_ saved: [[Scalar]]) { for (p, v) in zip(params, saved) { p.values.assign(v) } }

    /// Runs up to `maxIter` iterations. `closure` must recompute the loss and write the gradients
    /// into the parameters; it is called once first and then as the iterations need. Returns the
    /// first loss (before any update), as torch does.
    @discardableResult
    public func step(closure: () throws -> Double) rethrows -> Double {
        try hooks.aroundStep { try iterate(closure: closure) }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    private func iterate(closure: () throws -> Double) rethrows -> Double {
        let options = paramGroups[0].options
        let sign: Double = options.maximize ? -1 : 1
        defer { stepCount += 1 }
        let origLoss = try closure()
        var loss = sign * origLoss
        var currentEvals = 1
        memory.funcEvals += 1
        var flatGrad = gatherFlatGrad()
        if maxAbs(flatGrad) <= options.toleranceGrad { return origLoss }

        var state = memory
        defer { memory = state }
        var d = state.d ?? []
        var t = state.t ?? options.lr
        var nIter = 0
        while nIter < options.maxIter {
            nIter += 1
            state.nIter += 1
            if state.nIter == 1 {
                d = flatGrad.map { -$0 }
                state.oldDirs = []; state.oldSteps = []; state.ro = []
                state.hDiag = 1
            } else {
                updateHistory(&state, flatGrad: flatGrad, d: d, t: t, historySize: options.historySize)
                d = twoLoopDirection(state, flatGrad: flatGrad)
            }
            state.prevFlatGrad = flatGrad
            state.prevLoss = loss
            if state.nIter == 1 {
                // torch: min(1.0, 1.0 / g.abs().sum()) * lr, the reciprocal a tensor in the dtype.
                let reciprocal = 1 / sumAbs(flatGrad)
                t = reciprocal < 1 ? (reciprocal * Scalar(options.lr)).doubleValue : options.lr
            } else {
                t = options.lr
            }
            let gtd = dot(flatGrad, d).doubleValue
            if gtd > -options.toleranceChange { break }

            var evaluations = 0
            var optimal = false
            if options.lineSearchFn == .strongWolfe {
                let start = cloneParams()
                let direction = d
                let (point, count) = try strongWolfe(
                    evaluate: { (trial: Double) throws -> (Double, [Scalar]) in
                        addGrad(trial, direction)
                        let value = sign * (try closure())
                        let grad = gatherFlatGrad()
                        setParams(start)
                        return (value, grad)
                    },
                    t: t, d: d, f: loss, g: flatGrad, gtd: gtd, maxLineSearch: options.maxEval - currentEvals)
                (loss, flatGrad, t, evaluations) = (point.f, point.g, point.t, count)
                addGrad(t, d)
                optimal = maxAbs(flatGrad) <= options.toleranceGrad
            } else {
                addGrad(t, d)
                if nIter != options.maxIter {
                    loss = sign * (try closure())
                    flatGrad = gatherFlatGrad()
                    optimal = maxAbs(flatGrad) <= options.toleranceGrad
                    evaluations = 1
                }
            }
            currentEvals += evaluations
            state.funcEvals += evaluations

            if nIter == options.maxIter { break }
            if currentEvals >= options.maxEval { break }
            if optimal { break }
            if d.reduce(0.0, { max($0, abs(($1 * Scalar(t)).doubleValue)) }) <= options.toleranceChange { break }
            if abs(loss - state.prevLoss!) < options.toleranceChange { break }
        }
        state.d = d
        state.t = t
        return origLoss
    }

    /// Adds the newest (y, s) pair when the curvature condition yᵀs > 1e-10 holds.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    private func updateHistory(_ state: inout Memory, flatGrad: [Scalar], d: [Scalar], t: Double, historySize: Int) {
        let prev = state.prevFlatGrad!
        let tScalar = Scalar(t)
        let y = zip(flatGrad, prev).map { $0 - $1 }
        let s = d.map { $0 * tScalar }
        let ys = dot(y, s)
        guard ys.doubleValue > 1e-10 else { return }
        if state.oldDirs.count == historySize {
            state.oldDirs.removeFirst(); state.oldSteps.removeFirst(); state.ro.removeFirst()
        }
        state.oldDirs.append(y)
        state.oldSteps.append(s)
        state.ro.append(1 / ys)
        state.hDiag = ys / dot(y, y)
    }

    /// The two-loop recursion: −H·g from the stored pairs. (Specialized, and each stored vector
    /// read through one buffer: element by element through the nested arrays, a generic call per
    /// element, it took seconds per epoch at 89k parameters.)
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    private func twoLoopDirection(_ state: Memory, flatGrad: [Scalar]) -> [Scalar] {
        let count = state.oldDirs.count
        var al = [Scalar](repeating: 0, count: count)
        var q = flatGrad.map { -$0 }
        for i in stride(from: count - 1, through: 0, by: -1) {
            al[i] = dot(state.oldSteps[i], q) * state.ro[i]
            Self.addScaled(state.oldDirs[i], -al[i], into: &q)
        }
        let h = state.hDiag
        var r = q.map { $0 * h }
        for i in 0..<count {
            let be = dot(state.oldDirs[i], r) * state.ro[i]
            Self.addScaled(state.oldSteps[i], al[i] - be, into: &r)
        }
        return r
    }

    /// v ← v + α·u, element by element as torch's `add_(u, alpha=α)`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    private static func addScaled(_ u: [Scalar], _ alpha: Scalar, into v: inout [Scalar]) {
        u.withUnsafeBufferPointer { u in
            v.withUnsafeMutableBufferPointer { v in
                for k in v.indices { v[k] = torchAdd(v[k], u[k], alpha: alpha) }
            }
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    private func maxAbs(_ v: [Scalar]) -> Double { v.reduce(0.0) { max($0, abs($1.doubleValue)) } }
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    private func sumAbs(_ v: [Scalar]) -> Scalar { v.reduce(0) { $0 + abs($1) } }

    // MARK: - SchedulableOptimizer

    public var groupCount: Int { 1 }
    public func learningRate(group: Int) -> Double { paramGroups[group].options.lr }
    public func setLearningRate(_ lr: Double, group: Int) { paramGroups[group].options.lr = lr }
    public func cyclicMomentum(group: Int) -> Double? { nil }
    public func setCyclicMomentum(_ value: Double, group: Int) {}
    public func schedulerValue(_ key: String, group: Int) -> Double? { paramGroups[group].schedulerValues[key] }
    public func setSchedulerValue(_ value: Double?, key: String, group: Int) {
        paramGroups[group].schedulerValues[key] = value
    }

    // MARK: - State dict

    /// torch's layout: all state under parameter 0 (`func_evals`, `n_iter`, `d`, `t`, `old_dirs`,
    /// `old_stps`, `ro`, `H_diag`, `prev_flat_grad`, `prev_loss`).
    public func stateDict() -> OptimizerStateDict<LBFGSOptions> { hooks.aroundStateDict(buildStateDict) }

    private func buildStateDict() -> OptimizerStateDict<LBFGSOptions> {
        let tensorCount = paramGroups[0].tensorCount
        var entry: [String: StateValue] = [
            "func_evals": .number(Double(memory.funcEvals)),
            "n_iter": .number(Double(memory.nIter)),
        ]
        if let d = memory.d {
            entry["d"] = .tensor(Scalar.widened(d))
            entry["old_dirs"] = .tensors(memory.oldDirs.map { Scalar.widened($0) })
            entry["old_stps"] = .tensors(memory.oldSteps.map { Scalar.widened($0) })
            entry["ro"] = .tensor(Scalar.widened(memory.ro))
            entry["H_diag"] = .number(memory.hDiag.doubleValue)
        }
        if let t = memory.t { entry["t"] = .number(t) }
        if let g = memory.prevFlatGrad { entry["prev_flat_grad"] = .tensor(Scalar.widened(g)) }
        if let loss = memory.prevLoss { entry["prev_loss"] = .number(loss) }
        let group = ParamGroupState(options: paramGroups[0].options, schedulerValues: paramGroups[0].schedulerValues,
                                    params: Array(0..<tensorCount))
        return OptimizerStateDict(state: memory.funcEvals > 0 ? [0: entry] : [:], paramGroups: [group])
    }

    /// Restores hyperparameters and the quasi-Newton memory saved by ``stateDict()``.
    public func loadStateDict(_ dict: OptimizerStateDict<LBFGSOptions>) throws { try hooks.aroundLoad(dict, load) }

    private func load(_ dict: OptimizerStateDict<LBFGSOptions>) throws {
        guard dict.paramGroups.count == 1 else {
            throw OptimError("loaded state dict has a different number of parameter groups")
        }
        let group = dict.paramGroups[0]
        guard group.params.count == paramGroups[0].tensorCount else {
            throw OptimError("loaded state dict contains a parameter group that doesn't match the size of optimizer's group")
        }
        try group.options.validate()
        let n = params.reduce(0) { $0 + $1.count }
        var restored = Memory()
        if let entry = dict.state[group.params[0]] {
            func vector(_ v: [Double]?, _ name: String) throws -> [Scalar]? {
                guard let v else { return nil }
                guard v.count == n else { throw OptimError("state '\(name)' has \(v.count) elements, expected \(n)") }
                return Scalar.narrowed(v)
            }
            restored.funcEvals = try StateValue.counter(entry["func_evals"]?.number ?? 0, key: "func_evals")
            restored.nIter = try StateValue.counter(entry["n_iter"]?.number ?? 0, key: "n_iter")
            restored.d = try vector(entry["d"]?.tensor, "d")
            restored.t = entry["t"]?.number
            restored.oldDirs = try (entry["old_dirs"]?.tensors ?? []).map { try vector($0, "old_dirs")! }
            restored.oldSteps = try (entry["old_stps"]?.tensors ?? []).map { try vector($0, "old_stps")! }
            restored.ro = (entry["ro"]?.tensor ?? []).map { Scalar($0) }
            guard restored.oldDirs.count == restored.oldSteps.count, restored.ro.count == restored.oldDirs.count else {
                throw OptimError("state 'old_dirs', 'old_stps' and 'ro' must have the same length")
            }
            restored.hDiag = Scalar(entry["H_diag"]?.number ?? 1)
            restored.prevFlatGrad = try vector(entry["prev_flat_grad"]?.tensor, "prev_flat_grad")
            restored.prevLoss = entry["prev_loss"]?.number
            // After a first iteration torch keeps all of these; the next step reads every one.
            if restored.nIter > 0 {
                for (key, present) in [("d", restored.d != nil), ("t", restored.t != nil), ("prev_flat_grad", restored.prevFlatGrad != nil),
                                       ("prev_loss", restored.prevLoss != nil)] where !present {
                    throw OptimError(.keyError, "LBFGS state after \(restored.nIter) iteration(s) lacks '\(key)'")
                }
                if let t = restored.t, !t.isFinite { throw OptimError("state 't' is \(t); expected a finite step length") }
            }
        }
        paramGroups[0].options = group.options
        paramGroups[0].schedulerValues = group.schedulerValues
        memory = restored
    }
}
