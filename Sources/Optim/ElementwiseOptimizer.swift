/// The torch-shaped shell shared by every elementwise optimizer (SGD, Adam, ...): param groups,
/// lazily created state, skipping of absent gradients, `zeroGrad`, and state dicts.
///
/// A step walks each parameter buffer once. Consecutive tensors that have gradients and the same
/// step count are updated in a single run, so a model whose tensors all have gradients is updated
/// in one fused pass over one contiguous buffer.
/// Runs `body(i)` for every i in 0..<count, on as many threads as it likes, and returns when all
/// have run.
public typealias ParallelFor = (_ count: Int, _ body: @escaping @Sendable (Int) -> Void) -> Void

/// An optimizer whose step can run on several threads (``ElementwiseOptimizer``); `fit` lends
/// it its workers for the fit's duration.
public protocol ParallelStepping: AnyObject {
    var parallelStep: ParallelFor? { get set }
}

open class ElementwiseOptimizer<Scalar: OptimScalar, Options: ElementwiseRule>: SchedulableOptimizer, ParallelStepping {
    /// The param groups (torch: `optimizer.param_groups`). Change `options` to change
    /// hyperparameters between steps.
    public var paramGroups: [ParamGroup<Scalar, Options>] = []
    /// The hyperparameters new groups start from (torch: `optimizer.defaults`).
    public let defaults: Options
    /// How many times `step()` has run.
    public private(set) var stepCount = 0
    /// The step, state-dict and load hooks (``Optimizer/registerStepPreHook(_:)`` and the like).
    public let hooks = OptimizerHooks<Options>()
    /// Where a large step runs: nil (the default) on the calling thread; otherwise a run of at
    /// least ``parallelThreshold`` elements is cut into slices of about 256k elements updated by
    /// `parallelStep`. The update is elementwise, so the result is bitwise that of one thread.
    public var parallelStep: ParallelFor?
    /// The fewest elements a run needs before ``parallelStep`` is used.
    public static var parallelThreshold: Int { 1 << 20 }
    private var states: [ObjectIdentifier: BufferState<Scalar>] = [:]

    /// Creates an optimizer over one group holding `params`, with hyperparameters `defaults`.
    public init(_ params: [Parameters<Scalar>], defaults: Options) throws {
        try defaults.validate()
        guard !params.isEmpty, params.contains(where: { !$0.tensors.isEmpty }) else {
            throw OptimError("optimizer got an empty parameter list")
        }
        self.defaults = defaults
        try addParamGroup(params)
    }

    /// torch's `add_param_group`: a new group over `params`, with the optimizer's defaults changed
    /// by `configure`.
    ///
    /// ```swift
    /// try optimizer.addParamGroup([head]) { $0.lr = 0.1; $0.weightDecay = 0 }
    /// ```
    public func addParamGroup(_ params: [Parameters<Scalar>], _ configure: (inout Options) -> Void = { _ in }) throws {
        let ids = params.map(ObjectIdentifier.init)
        guard Set(ids).count == ids.count else {
            throw OptimError("optimizer contains a parameter group with duplicate parameters")
        }
        let existing = Set(paramGroups.flatMap { $0.params.map(ObjectIdentifier.init) })
        guard existing.isDisjoint(with: ids) else {
            throw OptimError("some parameters appear in more than one parameter group")
        }
        var options = defaults
        configure(&options)
        try options.validate()
        paramGroups.append(ParamGroup(params: params, options: options))
        if Options.createsStateEagerly {
            for p in params {
                let state = bufferState(for: p, options: options)
                for i in p.tensors.indices { createTensorState(i, of: p, in: state, options: options) }
            }
        }
    }

    /// torch's `zero_grad`: makes every gradient absent (default), or zero.
    public func zeroGrad(setToNone: Bool = true) {
        for group in paramGroups { for p in group.params { p.zeroGrad(setToNone: setToNone) } }
    }

    /// One optimization step over every group. Tensors without a gradient are skipped.
    open func step() {
        hooks.aroundStep(update)
    }

    private func update() {
        for group in paramGroups {
            for p in group.params { step(p, options: group.options) }
        }
        stepCount += 1
    }

    /// Calls `closure` (which should recompute the loss and the gradients), then steps.
    /// Returns the closure's loss, as torch does.
    @discardableResult
    public func step(closure: () throws -> Double) rethrows -> Double {
        try hooks.aroundStep {
            let loss = try closure()
            update()
            return loss
        }
    }

    // The trainer steps Float parameters between minibatches: specialized, a step over a small
    // model costs about 1 µs instead of 4 (generic code looks up type metadata at run time).
    @_specialize(where Scalar == Float, Options == SGDOptions)
    @_specialize(where Scalar == Float, Options == AdamOptions)
    @_specialize(where Scalar == Float, Options == AdagradOptions)
    @_specialize(where Scalar == Float, Options == RMSpropOptions)
    @_specialize(where Scalar == Float, Options == AdadeltaOptions)
    @_specialize(where Scalar == Float, Options == AdamaxOptions)
    @_specialize(where Scalar == Float, Options == ASGDOptions)
    @_specialize(where Scalar == Float, Options == NAdamOptions)
    @_specialize(where Scalar == Float, Options == RAdamOptions)
    @_specialize(where Scalar == Float, Options == RpropOptions)
    private func step(_ p: Parameters<Scalar>, options: Options) {
        guard p.hasGrad.contains(true) else { return }
        let state = bufferState(for: p, options: options)
        let names = options.stateBufferNames
        let buffers = names.map { state.buffers[$0]! }
        let tensors = p.tensors
        var i = 0
        while i < tensors.count {
            guard p.hasGrad[i] else { i += 1; continue }
            if state.tensors[i] == nil { createTensorState(i, of: p, in: state, options: options) }
            if let indices = p.sparseIndices[i] {
                // A sparse gradient: the rule's sparse update where it has one, tensor by tensor.
                let lo = tensors[i].offset
                let run = UpdateRun<Scalar>(count: tensors[i].count, param: p.values.base + lo, grad: UnsafePointer(p.grad.base + lo),
                                            buffers: buffers.map { $0.base + lo })
                var tensorState = state.tensors[i]!
                if !options.sparseUpdate(run, indices: indices, state: &tensorState) { options.update(run, state: &tensorState) }
                tensorState.isFresh = false
                state.tensors[i] = tensorState
                i += 1
                continue
            }
            var end = i + 1
            while end < tensors.count, p.hasGrad[end], p.sparseIndices[end] == nil {
                if state.tensors[end] == nil { createTensorState(end, of: p, in: state, options: options) }
                guard state.tensors[end] == state.tensors[i] else { break }
                end += 1
            }
            let lo = tensors[i].offset
            let run = UpdateRun<Scalar>(
                count: tensors[end - 1].range.upperBound - lo,
                param: p.values.base + lo,
                grad: UnsafePointer(p.grad.base + lo),
                buffers: buffers.map { $0.base + lo })
            var tensorState = state.tensors[i]!
            if let parallelStep, run.count >= Self.parallelThreshold {
                // Slices of whole cache lines (16 floats); each thread's copy of the scalar state
                // steps as the calling thread's does below (no rule's scalars depend on the elements).
                let pieces = min(256, run.count >> 18), before = tensorState, rule = options
                parallelStep(pieces) { piece in
                    let lo = piece == 0 ? 0 : (run.count * piece / pieces) & ~15
                    let hi = piece == pieces - 1 ? run.count : (run.count * (piece + 1) / pieces) & ~15
                    var copy = before
                    rule.update(run.slice(lo..<hi), state: &copy)
                }
                options.update(run.slice(0..<0), state: &tensorState)
            } else {
                options.update(run, state: &tensorState)
            }
            tensorState.isFresh = false
            for k in i..<end { state.tensors[k] = tensorState }
            i = end
        }
    }

    /// The state of buffer `p`, with every state buffer `options` needs allocated.
    private func bufferState(for p: Parameters<Scalar>, options: Options) -> BufferState<Scalar> {
        let state = states[ObjectIdentifier(p)] ?? {
            let s = BufferState<Scalar>(tensorCount: p.tensors.count)
            states[ObjectIdentifier(p)] = s
            return s
        }()
        for (index, name) in options.stateBufferNames.enumerated() where state.buffers[name] == nil {
            let storage = AlignedStorage<Scalar>(count: p.count)
            // A buffer added after some tensors already have state (a hyperparameter changed
            // between steps): those tensors start it as torch does, from its initial value.
            for (t, tensorState) in state.tensors.enumerated() where tensorState != nil {
                storage.fill(Scalar(options.initialBufferValue(index)), range: p.tensors[t].range)
                state.tensors[t]!.isFresh = true
            }
            state.buffers[name] = storage
        }
        return state
    }

    private func createTensorState(_ t: Int, of p: Parameters<Scalar>, in state: BufferState<Scalar>, options: Options) {
        for (index, name) in options.stateBufferNames.enumerated() {
            state.buffers[name]!.fill(Scalar(options.initialBufferValue(index)), range: p.tensors[t].range)
        }
        state.tensors[t] = TensorStepState(step: 0, scalars: options.initialScalars().map { Scalar($0) }, isFresh: true)
    }

    // MARK: - SchedulableOptimizer

    public var groupCount: Int { paramGroups.count }
    public func learningRate(group: Int) -> Double { paramGroups[group].options.lr }
    public func setLearningRate(_ lr: Double, group: Int) { paramGroups[group].options.lr = lr }
    public func cyclicMomentum(group: Int) -> Double? { paramGroups[group].options.cyclicMomentum }
    public func setCyclicMomentum(_ value: Double, group: Int) { paramGroups[group].options.cyclicMomentum = value }
    public func schedulerValue(_ key: String, group: Int) -> Double? { paramGroups[group].schedulerValues[key] }
    public func setSchedulerValue(_ value: Double?, key: String, group: Int) {
        paramGroups[group].schedulerValues[key] = value
    }

    // MARK: - State dict

    /// torch's `state_dict()`: state by global tensor index (only tensors that have state), and
    /// each group's hyperparameters with the indices of its tensors.
    public func stateDict() -> OptimizerStateDict<Options> { hooks.aroundStateDict(buildStateDict) }

    private func buildStateDict() -> OptimizerStateDict<Options> {
        var unused: [(index: Int, key: String, values: [Scalar])]? = nil
        return buildStateDict(splitting: &unused)
    }

    /// The state dict with each buffer as an empty tensor, and the buffers apart in the
    /// parameters' type (what a binary checkpoint stores, without widening to Double and back).
    /// With hooks registered, the plain ``stateDict()`` and no buffers apart (hooks see whole dicts).
    public func stateDictSplittingBuffers() -> (dict: OptimizerStateDict<Options>, buffers: [(index: Int, key: String, values: [Scalar])]) {
        guard hooks.isEmpty else { return (stateDict(), []) }
        var buffers: [(index: Int, key: String, values: [Scalar])]? = []
        let dict = buildStateDict(splitting: &buffers)
        return (dict, buffers ?? [])
    }

    private func buildStateDict(splitting buffers: inout [(index: Int, key: String, values: [Scalar])]?) -> OptimizerStateDict<Options> {
        var state: [Int: [String: StateValue]] = [:]
        var groups: [ParamGroupState<Options>] = []
        var index = 0
        for group in paramGroups {
            var indices: [Int] = []
            let names = group.options.stateBufferNames
            let exported = Options.countsSteps || !names.isEmpty || !group.options.scalarStateNames.isEmpty
            for p in group.params {
                let bufferState = states[ObjectIdentifier(p)]
                for (t, tensor) in p.tensors.enumerated() {
                    defer { indices.append(index); index += 1 }
                    guard exported, let bufferState, let tensorState = bufferState.tensors[t] else { continue }
                    var entry: [String: StateValue] = [:]
                    if Options.countsSteps { entry["step"] = .number(tensorState.step.doubleValue) }
                    for name in names {
                        guard let storage = bufferState.buffers[name] else { continue }
                        if buffers != nil {
                            buffers!.append((index, name, storage.withUnsafeBufferPointer { Array($0[tensor.range]) }))
                            entry[name] = .tensor([])
                        } else {
                            entry[name] = .tensor(storage.withUnsafeBufferPointer { Scalar.widened(UnsafeBufferPointer(rebasing: $0[tensor.range])) })
                        }
                    }
                    for (k, name) in group.options.scalarStateNames.enumerated() {
                        entry[name] = .number(tensorState.scalars[k].doubleValue)
                    }
                    state[index] = entry
                }
            }
            groups.append(ParamGroupState(options: group.options, schedulerValues: group.schedulerValues, params: indices))
        }
        return OptimizerStateDict(state: state, paramGroups: groups)
    }

    /// torch's `load_state_dict`: restores hyperparameters and state, matching saved tensors to
    /// this optimizer's tensors by position. Throws, changing nothing, when the layout differs.
    public func loadStateDict(_ dict: OptimizerStateDict<Options>) throws { try hooks.aroundLoad(dict, load) }

    private func load(_ dict: OptimizerStateDict<Options>) throws {
        guard dict.paramGroups.count == paramGroups.count else {
            throw OptimError("loaded state dict has a different number of parameter groups")
        }
        for (saved, group) in zip(dict.paramGroups, paramGroups) where saved.params.count != group.tensorCount {
            throw OptimError("loaded state dict contains a parameter group that doesn't match the size of optimizer's group")
        }
        var newStates: [ObjectIdentifier: BufferState<Scalar>] = [:]
        for (saved, group) in zip(dict.paramGroups, paramGroups) {
            try saved.options.validate()
            var position = 0
            for p in group.params {
                let state = BufferState<Scalar>(tensorCount: p.tensors.count)
                for (t, tensor) in p.tensors.enumerated() {
                    defer { position += 1 }
                    guard let entry = dict.state[saved.params[position]] else { continue }
                    try restore(entry, into: state, tensor: t, of: tensor, count: p.count, options: saved.options)
                }
                newStates[ObjectIdentifier(p)] = state
            }
        }
        for (g, saved) in dict.paramGroups.enumerated() {
            paramGroups[g].options = saved.options
            paramGroups[g].schedulerValues = saved.schedulerValues
        }
        states = newStates
    }

    private func restore(
        _ entry: [String: StateValue], into state: BufferState<Scalar>, tensor t: Int,
        of tensor: Parameters<Scalar>.Tensor, count: Int, options: Options
    ) throws {
        // torch writes every key of a tensor's state at once: one missing is a damaged dict.
        guard let step = entry["step"]?.number ?? (Options.countsSteps ? nil : 0) else {
            throw OptimError(.keyError, "state of parameter '\(tensor.name)' lacks 'step'")
        }
        guard step.isFinite, step >= 0, step <= Double(StateValue.counterLimit) else {
            throw OptimError("state 'step' of parameter '\(tensor.name)' is \(step); expected a count of steps")
        }
        for name in options.stateBufferNames where entry[name]?.tensor == nil {
            throw OptimError(.keyError, "state of parameter '\(tensor.name)' lacks '\(name)'")
        }
        var scalars: [Scalar] = []
        for (k, name) in options.scalarStateNames.enumerated() {
            scalars.append(Scalar(entry[name]?.number ?? options.initialScalars()[k]))
        }
        for (index, name) in options.stateBufferNames.enumerated() {
            let storage = state.buffers[name] ?? {
                let s = AlignedStorage<Scalar>(count: count)
                state.buffers[name] = s
                return s
            }()
            guard let values = entry[name]?.tensor else {
                storage.fill(Scalar(options.initialBufferValue(index)), range: tensor.range)
                continue
            }
            guard values.count == tensor.count else {
                throw OptimError("state '\(name)' of parameter '\(tensor.name)' has \(values.count) elements, expected \(tensor.count)")
            }
            storage.assign(Scalar.narrowed(values), at: tensor.offset)
        }
        // SGD keeps no step counter: a saved momentum buffer means the tensor was stepped before.
        let fresh = !Options.countsSteps && options.stateBufferNames.contains { entry[$0] == nil }
        state.tensors[t] = TensorStepState(step: Scalar(step), scalars: scalars, isFresh: fresh)
    }
}

/// The optimizer state of one parameter buffer: named state buffers laid out like the
/// parameters, and per-tensor scalar state (nil until the tensor's first step).
final class BufferState<Scalar: OptimScalar> {
    var buffers: [String: AlignedStorage<Scalar>] = [:]
    var tensors: [TensorStepState<Scalar>?]

    init(tensorCount: Int) {
        tensors = Array(repeating: nil, count: tensorCount)
    }
}
