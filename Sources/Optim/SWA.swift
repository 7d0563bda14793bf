/// torch.optim.swa_utils: a running average of a model's parameters (stochastic weight averaging
/// with equal weights, or an exponential moving average) and SWALR, the schedule SWA trains under.
///
/// ```swift
/// let swa = try AveragedModel(parameters)                     // torch: AveragedModel(model)
/// let ema = try AveragedModel(parameters, average: .ema(decay: 0.999))
/// let schedule = try SWALR(optimizer, swaLR: 0.01, annealEpochs: 5)
/// for epoch in 0..<epochs {
///     train(one: epoch)
///     if epoch >= swaStart { swa.updateParameters(parameters); try schedule.step() }
/// }
/// // swa.averaged holds the averaged weights
/// ```
public final class AveragedModel<Scalar: OptimScalar> {
    /// How each update folds the model in.
    public enum Average: Sendable, Equatable {
        /// Equal weights over every update (torch's default, `get_swa_multi_avg_fn()`):
        /// a ← lerp(a, θ, 1/(n+1)).
        case swa
        /// An exponential moving average (torch: `get_ema_multi_avg_fn(decay)`): a ← lerp(a, θ, 1 − decay).
        case ema(decay: Double)
    }

    /// The averaged parameters (torch: `averaged_model.module`'s), laid out as the model's.
    public let averaged: Parameters<Scalar>
    /// Updates so far (torch: `n_averaged`).
    public private(set) var nAveraged = 0
    public let average: Average

    /// A copy of `model`'s parameters, to average into (torch deep-copies the module).
    public init(_ model: Parameters<Scalar>, average: Average = .swa) throws {
        if case let .ema(decay) = average, !(0...1).contains(decay) {
            throw OptimError("Invalid decay value \(pythonRepr(decay)) provided. Please provide a value in [0,1] range.")
        }
        averaged = Parameters(shapes: model.tensors.map { (name: $0.name, shape: $0.shape) })
        averaged.values.assign(model.values.array)
        self.average = average
    }

    /// torch's `update_parameters(model)`: the first update copies the model, each later one folds
    /// it in (a `_foreach_lerp_`, element by element as torch's kernel rounds it).
    public func updateParameters(_ model: Parameters<Scalar>) {
        precondition(model.count == averaged.count, "the model has \(model.count) values, the average \(averaged.count)")
        defer { nAveraged += 1 }
        guard nAveraged > 0 else {
            averaged.values.assign(model.values.array)
            return
        }
        let weight: LerpWeight<Scalar>
        switch average {
        case .swa: weight = LerpWeight(1 / Double(nAveraged + 1))
        case let .ema(decay): weight = LerpWeight(1 - decay)
        }
        let a = averaged.values.base, m = model.values.base
        for i in 0..<averaged.count {
            a[i] = torchLerp(a[i], m[i], weight: weight.w, weightMinusOne: weight.wm1, small: weight.small)
        }
    }

    /// The count and the averaged values, for a checkpoint.
    public func stateDict() -> [String: StateValue] {
        ["n_averaged": .number(Double(nAveraged)), "averaged": .tensor(Scalar.widened(averaged.values.array))]
    }

    /// Restores what ``stateDict()`` saved; validates before changing anything.
    public func loadStateDict(_ state: [String: StateValue]) throws {
        guard let count = state["n_averaged"]?.number else { throw OptimError(.keyError, "averaged model state lacks 'n_averaged'") }
        let n = try StateValue.counter(count, key: "n_averaged")
        guard let values = state["averaged"]?.tensor else { throw OptimError(.keyError, "averaged model state lacks 'averaged'") }
        guard values.count == averaged.count else {
            throw OptimError("averaged model state 'averaged' has \(values.count) values, the model \(averaged.count)")
        }
        averaged.values.assign(Scalar.narrowed(values))
        nAveraged = n
    }
}

/// Anneals each group's learning rate to `swa_lr` over `anneal_epochs` steps, then holds it
/// (torch: `torch.optim.swa_utils.SWALR(optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos")`),
/// in torch's chainable form: each step moves from the learning rate the group has now.
public final class SWALR: LRScheduler {
    /// How the learning rate moves from where it is to `swa_lr`.
    public enum AnnealStrategy: String, Sendable { case cos, linear }
    /// Steps to reach `swa_lr` (torch: `anneal_epochs`; 0: at once).
    public let annealEpochs: Int
    public let annealStrategy: AnnealStrategy

    /// - Parameters: `swaLR` for every group, or one per group (torch: `swa_lr`), stored in
    ///   each group as `swa_lr`; `annealEpochs` ≥ 0; `annealStrategy` `.cos` (torch's default) or `.linear`.
    public init(_ optimizer: any SchedulableOptimizer, swaLR: [Double], annealEpochs: Int = 10, annealStrategy: AnnealStrategy = .cos,
                lastEpoch: Int = -1) throws {
        guard swaLR.count == 1 || swaLR.count == optimizer.groupCount else {
            throw OptimError("expected \(optimizer.groupCount) values for swa_lr, got \(swaLR.count)")
        }
        guard annealEpochs >= 0 else { throw OptimError("anneal_epochs must be equal or greater than 0, got \(annealEpochs)") }
        for g in 0..<optimizer.groupCount {
            optimizer.setSchedulerValue(swaLR.count == 1 ? swaLR[0] : swaLR[g], key: "swa_lr", group: g)
        }
        self.annealEpochs = annealEpochs
        self.annealStrategy = annealStrategy
        try super.init(optimizer: optimizer, lastEpoch: lastEpoch)
    }

    public convenience init(_ optimizer: any SchedulableOptimizer, swaLR: Double, annealEpochs: Int = 10, annealStrategy: AnnealStrategy = .cos,
                            lastEpoch: Int = -1) throws {
        try self.init(optimizer, swaLR: [swaLR], annealEpochs: annealEpochs, annealStrategy: annealStrategy, lastEpoch: lastEpoch)
    }

    private func anneal(_ t: Double) -> Double {
        annealStrategy == .cos ? (1 - PyMath.cos(Double.pi * t)) / 2 : t
    }

    public override func computeLR() throws -> [Double] {
        var step = stepCount - 1
        if annealEpochs == 0 { step = max(1, step) }
        let span = Double(max(1, annealEpochs))
        let previousAlpha = anneal(max(0, min(1, Double(step - 1) / span)))
        let alpha = anneal(max(0, min(1, Double(step) / span)))
        return (0..<optimizer.groupCount).map { g in
            let lr = optimizer.learningRate(group: g), swaLR = optimizer.schedulerValue("swa_lr", group: g) ?? lr
            // torch's _get_initial_lr: the learning rate before the annealing of the last step.
            let previous = previousAlpha == 1 ? swaLR : (lr - previousAlpha * swaLR) / (1 - previousAlpha)
            return swaLR * alpha + previous * (1 - alpha)
        }
    }

    public override func stateDict() -> [String: StateValue] {
        var state = super.stateDict()
        state["anneal_epochs"] = .number(Double(annealEpochs))
        return state
    }
}
