/// A learning-rate schedule that advances one step at a time: every scheduler but
/// ``ReduceLROnPlateau``, which steps on a metric.
public protocol Scheduler: AnyObject {
    /// Advances the schedule and sets the optimizer's learning rates.
    func step() throws
    /// The learning rates set by the last step (torch: `get_last_lr()`).
    var lastLR: [Double] { get }
    /// The schedule's progress, under torch's names.
    func stateDict() -> [String: StateValue]
    /// Restores what `stateDict()` saved.
    func loadStateDict(_ state: [String: StateValue]) throws
}

/// torch's `LRScheduler` base: shared stepping semantics for the schedulers that set each
/// group's learning rate from the epoch counter.
///
/// Construction stores each group's `initial_lr` (unless present), takes `base_lrs` from it, and
/// performs the *initial step* (`last_epoch` −1 → 0), so that right after construction the
/// learning rate is the schedule's value at epoch 0. Each `step()` then increments `lastEpoch`
/// and applies the *chainable* (recursive) form, which reads the group's current `lr`, exactly as
/// torch does: schedulers composed with ``ChainedScheduler`` multiply their effects.
///
/// Call `optimizer.step()` before `scheduler.step()`, once per epoch (or per batch for
/// ``OneCycleLR`` and ``CyclicLR``).
open class LRScheduler: Scheduler {
    /// The optimizer whose learning rates this scheduler sets.
    public let optimizer: any SchedulableOptimizer
    /// The learning rates the schedule starts from (torch: `base_lrs`), one per group.
    public internal(set) var baseLRs: [Double]
    /// The epoch counter: 0 after construction, +1 per `step()` (torch: `last_epoch`).
    public internal(set) var lastEpoch: Int
    /// Calls to `step()`, counting the initial one (torch: `_step_count`).
    public internal(set) var stepCount = 0
    /// True only during the initial step (torch: `_is_initial`).
    public internal(set) var isInitial = false
    /// The learning rates set by the last step (torch: `get_last_lr()`).
    public internal(set) var lastLR: [Double] = []

    /// - Parameters:
    ///   - optimizer: the optimizer whose groups' learning rates the schedule sets.
    ///   - lastEpoch: -1 to start a schedule; a larger value resumes one, and then every group
    ///     must already hold `initial_lr` (torch's rule), as after loading a state dict.
    public init(optimizer: any SchedulableOptimizer, lastEpoch: Int = -1) throws {
        self.optimizer = optimizer
        if lastEpoch == -1 {
            for g in 0..<optimizer.groupCount where optimizer.schedulerValue("initial_lr", group: g) == nil {
                optimizer.setSchedulerValue(optimizer.learningRate(group: g), key: "initial_lr", group: g)
            }
        } else {
            for g in 0..<optimizer.groupCount where optimizer.schedulerValue("initial_lr", group: g) == nil {
                throw OptimError(.keyError, "param 'initial_lr' is not specified in param_groups[\(g)] when resuming scheduler with last_epoch >= 0.")
            }
        }
        baseLRs = (0..<optimizer.groupCount).map { optimizer.schedulerValue("initial_lr", group: $0)! }
        self.lastEpoch = lastEpoch
        try initialStep()
    }

    /// The schedule's learning rates for the new `lastEpoch` (torch: `get_lr`, the chainable form).
    open func computeLR() throws -> [Double] { currentLRs }

    /// The closed form at `lastEpoch`, for schedulers that have one (torch: `_get_closed_form_lr`);
    /// nil otherwise.
    open func closedFormLR() -> [Double]? { nil }

    /// Advances the schedule by one epoch and sets the optimizer's learning rates.
    open func step() throws {
        stepCount += 1
        try updateLR(epoch: nil)
    }

    /// torch's `_initial_step`.
    func initialStep() throws {
        stepCount = 0
        isInitial = true
        defer { isInitial = false }
        try step()
    }

    /// torch's `_update_lr`: with an epoch, jumps there through the closed form when there is one.
    func updateLR(epoch: Int?) throws {
        let values: [Double]
        if let epoch {
            lastEpoch = epoch
            values = try closedFormLR() ?? computeLR()
        } else {
            lastEpoch += 1
            values = try computeLR()
        }
        for (g, lr) in values.enumerated() { optimizer.setLearningRate(lr, group: g) }
        lastLR = currentLRs
    }

    /// Each group's current learning rate.
    public var currentLRs: [Double] { (0..<optimizer.groupCount).map { optimizer.learningRate(group: $0) } }

    /// Undoes one epoch of bookkeeping (torch's `recursive_undo`, used by ``SequentialLR``).
    open func undoEpoch() { lastEpoch -= 1 }

    // MARK: - State dict

    /// The scheduler's progress under torch's names (`last_epoch`, `_step_count`, `base_lrs`,
    /// `_last_lr`, plus each scheduler's own counters). Load it into a scheduler built with the same
    /// arguments to resume the schedule.
    open func stateDict() -> [String: StateValue] {
        [
            "last_epoch": .number(Double(lastEpoch)),
            "_step_count": .number(Double(stepCount)),
            "base_lrs": .tensor(baseLRs),
            "_last_lr": .tensor(lastLR),
        ]
    }

    /// Restores what ``stateDict()`` saved.
    open func loadStateDict(_ state: [String: StateValue]) throws {
        guard let epoch = state["last_epoch"]?.number, let count = state["_step_count"]?.number,
              let base = state["base_lrs"]?.tensor, let last = state["_last_lr"]?.tensor
        else { throw OptimError(.keyError, "scheduler state dict lacks last_epoch, _step_count, base_lrs or _last_lr") }
        guard base.count == optimizer.groupCount, last.count == optimizer.groupCount else {
            throw OptimError("scheduler state dict has \(base.count) groups, the optimizer has \(optimizer.groupCount)")
        }
        let limit = StateValue.counterLimit
        let counts = (try StateValue.counter(epoch, key: "last_epoch", range: -1...limit), try StateValue.counter(count, key: "_step_count", range: 0...limit))
        guard (base + last).allSatisfy(\.isFinite) else { throw OptimError("scheduler state dict has a learning rate that is not finite") }
        (lastEpoch, stepCount) = counts
        baseLRs = base; lastLR = last
    }
}

/// Multiplies each group's learning rate by `gamma` every `stepSize` epochs
/// (torch: `StepLR(optimizer, step_size, gamma=0.1)`): lr = base·γ^⌊epoch/step_size⌋.
public final class StepLR: LRScheduler {
    /// Period of the decay (torch: `step_size`).
    public let stepSize: Int
    /// Decay factor γ (torch: `gamma`, default 0.1).
    public let gamma: Double

    /// - Parameters: torch's: `stepSize` (`step_size`, > 0), `gamma` (0.1), `lastEpoch` (`last_epoch`).
    public init(_ optimizer: any SchedulableOptimizer, stepSize: Int, gamma: Double = 0.1, lastEpoch: Int = -1) throws {
        guard stepSize > 0 else { throw OptimError("step_size must be a positive integer, got \(stepSize)") }
        self.stepSize = stepSize; self.gamma = gamma
        try super.init(optimizer: optimizer, lastEpoch: lastEpoch)
    }

    public override func computeLR() throws -> [Double] {
        if lastEpoch == 0 || lastEpoch % stepSize != 0 { return currentLRs }
        return currentLRs.map { $0 * gamma }
    }

    public override func closedFormLR() -> [Double]? {
        baseLRs.map { $0 * PyMath.pow(gamma, Double(floorDivide(lastEpoch, stepSize))) }
    }
}

/// Multiplies the learning rate by `gamma` at each milestone epoch
/// (torch: `MultiStepLR(optimizer, milestones, gamma=0.1)`); a milestone listed twice applies twice.
public final class MultiStepLR: LRScheduler {
    /// Epochs at which to decay (torch: `milestones`).
    public let milestones: [Int]
    /// Decay factor γ (torch: `gamma`, default 0.1).
    public let gamma: Double

    /// - Parameters: torch's: `milestones` (epochs), `gamma` (0.1), `lastEpoch` (`last_epoch`).
    public init(_ optimizer: any SchedulableOptimizer, milestones: [Int], gamma: Double = 0.1, lastEpoch: Int = -1) throws {
        self.milestones = milestones.sorted(); self.gamma = gamma
        try super.init(optimizer: optimizer, lastEpoch: lastEpoch)
    }

    public override func computeLR() throws -> [Double] {
        let count = milestones.filter { $0 == lastEpoch }.count
        if count == 0 { return currentLRs }
        return currentLRs.map { $0 * PyMath.pow(gamma, Double(count)) }
    }

    public override func closedFormLR() -> [Double]? {
        let passed = milestones.filter { $0 <= lastEpoch }.count
        return baseLRs.map { $0 * PyMath.pow(gamma, Double(passed)) }
    }
}

/// Multiplies the learning rate by `factor` until epoch `totalIters`
/// (torch: `ConstantLR(optimizer, factor=1/3, total_iters=5)`).
public final class ConstantLR: LRScheduler {
    /// The multiplier, in [0, 1] (torch: `factor`, default 1/3).
    public let factor: Double
    /// Epochs during which it applies (torch: `total_iters`, default 5).
    public let totalIters: Int

    /// - Parameters: torch's: `factor` (1/3, in [0, 1]), `totalIters` (`total_iters`, 5).
    public init(_ optimizer: any SchedulableOptimizer, factor: Double = 1.0 / 3, totalIters: Int = 5, lastEpoch: Int = -1) throws {
        guard factor <= 1.0, factor >= 0 else {
            throw OptimError("Constant multiplicative factor expected to be between 0 and 1.")
        }
        self.factor = factor; self.totalIters = totalIters
        try super.init(optimizer: optimizer, lastEpoch: lastEpoch)
    }

    public override func computeLR() throws -> [Double] {
        if lastEpoch == 0 { return currentLRs.map { $0 * factor } }
        if lastEpoch != totalIters { return currentLRs }
        return currentLRs.map { $0 * (1.0 / factor) }
    }

    public override func closedFormLR() -> [Double]? {
        baseLRs.map { $0 * (factor + (lastEpoch >= totalIters ? 1 : 0) * (1 - factor)) }
    }
}

/// Moves the multiplier linearly from `startFactor` to `endFactor` over `totalIters` epochs
/// (torch: `LinearLR(optimizer, start_factor=1/3, end_factor=1.0, total_iters=5)`).
public final class LinearLR: LRScheduler {
    /// Multiplier at epoch 0, in (0, 1] (torch: `start_factor`).
    public let startFactor: Double
    /// Multiplier from epoch `totalIters` on, in [0, 1] (torch: `end_factor`).
    public let endFactor: Double
    /// Length of the ramp (torch: `total_iters`).
    public let totalIters: Int

    /// - Parameters: torch's: `startFactor` (`start_factor`), `endFactor` (`end_factor`), `totalIters` (`total_iters`).
    public init(_ optimizer: any SchedulableOptimizer, startFactor: Double = 1.0 / 3, endFactor: Double = 1.0,
                totalIters: Int = 5, lastEpoch: Int = -1) throws {
        guard startFactor <= 1.0, startFactor > 0 else {
            throw OptimError("Starting multiplicative factor expected to be greater than 0 and less or equal to 1.")
        }
        guard endFactor <= 1.0, endFactor >= 0 else {
            throw OptimError("Ending multiplicative factor expected to be between 0 and 1.")
        }
        self.startFactor = startFactor; self.endFactor = endFactor; self.totalIters = totalIters
        try super.init(optimizer: optimizer, lastEpoch: lastEpoch)
    }

    public override func computeLR() throws -> [Double] {
        if lastEpoch == 0 { return currentLRs.map { $0 * startFactor } }
        if isInitial || lastEpoch > totalIters { return currentLRs }
        let ratio = 1.0 + (endFactor - startFactor)
            / (Double(totalIters) * startFactor + Double(lastEpoch - 1) * (endFactor - startFactor))
        return currentLRs.map { $0 * ratio }
    }

    public override func closedFormLR() -> [Double]? {
        baseLRs.map {
            $0 * (startFactor + (endFactor - startFactor) * Double(min(totalIters, lastEpoch)) / Double(totalIters))
        }
    }
}

/// Multiplies the learning rate by `gamma` every epoch (torch: `ExponentialLR(optimizer, gamma)`).
public final class ExponentialLR: LRScheduler {
    /// Decay factor γ (torch: `gamma`).
    public let gamma: Double

    /// - Parameters: torch's: `gamma`, `lastEpoch` (`last_epoch`).
    public init(_ optimizer: any SchedulableOptimizer, gamma: Double, lastEpoch: Int = -1) throws {
        self.gamma = gamma
        try super.init(optimizer: optimizer, lastEpoch: lastEpoch)
    }

    public override func computeLR() throws -> [Double] { isInitial ? currentLRs : currentLRs.map { $0 * gamma } }
    public override func closedFormLR() -> [Double]? { baseLRs.map { $0 * PyMath.pow(gamma, Double(lastEpoch)) } }
}

/// Decays the learning rate polynomially to zero over `totalIters` epochs
/// (torch: `PolynomialLR(optimizer, total_iters=5, power=1.0)`): lr = base·(1 − min(T, e)/T)^power.
public final class PolynomialLR: LRScheduler {
    /// Epochs of decay (torch: `total_iters`, default 5).
    public let totalIters: Int
    /// The polynomial's power (torch: `power`, default 1.0).
    public let power: Double

    /// - Parameters: torch's: `totalIters` (`total_iters`, 5), `power` (1.0).
    public init(_ optimizer: any SchedulableOptimizer, totalIters: Int = 5, power: Double = 1.0, lastEpoch: Int = -1) throws {
        self.totalIters = totalIters; self.power = power
        try super.init(optimizer: optimizer, lastEpoch: lastEpoch)
    }

    public override func computeLR() throws -> [Double] {
        if isInitial || lastEpoch > totalIters { return currentLRs }
        let t = Double(totalIters), e = Double(lastEpoch)
        let decay = PyMath.pow((1.0 - e / t) / (1.0 - (e - 1) / t), power)
        return currentLRs.map { $0 * decay }
    }

    public override func closedFormLR() -> [Double]? {
        baseLRs.map { $0 * PyMath.pow(1.0 - Double(min(totalIters, lastEpoch)) / Double(totalIters), power) }
    }
}

/// Cosine annealing from the base learning rate to `etaMin` over `tMax` epochs, then back up
/// (periodic), in torch's recursive form (torch: `CosineAnnealingLR(optimizer, T_max, eta_min=0)`):
/// lr = η_min + (base − η_min)(1 + cos(π·e/T_max))/2.
public final class CosineAnnealingLR: LRScheduler {
    /// Half-period in epochs (torch: `T_max`).
    public let tMax: Int
    /// Minimum learning rate (torch: `eta_min`, default 0).
    public let etaMin: Double

    /// - Parameters: torch's: `tMax` (`T_max`, > 0), `etaMin` (`eta_min`, 0).
    public init(_ optimizer: any SchedulableOptimizer, tMax: Int, etaMin: Double = 0.0, lastEpoch: Int = -1) throws {
        guard tMax > 0 else { throw OptimError("T_max must be a positive integer, got \(tMax)") }
        self.tMax = tMax; self.etaMin = etaMin
        try super.init(optimizer: optimizer, lastEpoch: lastEpoch)
    }

    public override func computeLR() throws -> [Double] {
        let e = Double(lastEpoch), t = Double(tMax), pi = PyMath.pi
        if isInitial { return currentLRs }
        if stepCount == 1 && lastEpoch > 0 {
            return baseLRs.map { etaMin + ($0 - etaMin) * (1 + PyMath.cos(e * pi / t)) / 2 }
        }
        if (lastEpoch - 1 - tMax) % (2 * tMax) == 0 {
            return zip(baseLRs, currentLRs).map { base, lr in lr + (base - etaMin) * (1 - PyMath.cos(pi / t)) / 2 }
        }
        return currentLRs.map {
            (1 + PyMath.cos(pi * e / t)) / (1 + PyMath.cos(pi * (e - 1) / t)) * ($0 - etaMin) + etaMin
        }
    }

    public override func closedFormLR() -> [Double]? {
        baseLRs.map { etaMin + ($0 - etaMin) * (1 + PyMath.cos(PyMath.pi * Double(lastEpoch) / Double(tMax))) / 2 }
    }
}

/// lr = base·λ(epoch), with λ given per group or shared (torch: `LambdaLR(optimizer, lr_lambda)`).
public final class LambdaLR: LRScheduler {
    private let lambdas: [(Int) -> Double]

    /// - Parameters:
    ///   - optimizer: the optimizer whose learning rates the schedule sets.
    ///   - lrLambda: one function for every group, or one per group (torch: `lr_lambda`).
    ///   - lastEpoch: -1 to start (torch: `last_epoch`).
    public init(_ optimizer: any SchedulableOptimizer, lrLambda: [(Int) -> Double], lastEpoch: Int = -1) throws {
        lambdas = try perGroupLambdas(lrLambda, optimizer)
        try super.init(optimizer: optimizer, lastEpoch: lastEpoch)
    }

    /// One function for every group (torch: `lr_lambda`).
    public convenience init(_ optimizer: any SchedulableOptimizer, lrLambda: @escaping (Int) -> Double, lastEpoch: Int = -1) throws {
        try self.init(optimizer, lrLambda: [lrLambda], lastEpoch: lastEpoch)
    }

    public override func computeLR() throws -> [Double] { zip(baseLRs, lambdas).map { $0 * $1(lastEpoch) } }
}

/// lr ← lr·λ(epoch) every epoch after the first (torch: `MultiplicativeLR(optimizer, lr_lambda)`).
public final class MultiplicativeLR: LRScheduler {
    private let lambdas: [(Int) -> Double]

    /// - Parameters:
    ///   - optimizer: the optimizer whose learning rates the schedule sets.
    ///   - lrLambda: one function for every group, or one per group (torch: `lr_lambda`).
    ///   - lastEpoch: -1 to start (torch: `last_epoch`).
    public init(_ optimizer: any SchedulableOptimizer, lrLambda: [(Int) -> Double], lastEpoch: Int = -1) throws {
        lambdas = try perGroupLambdas(lrLambda, optimizer)
        try super.init(optimizer: optimizer, lastEpoch: lastEpoch)
    }

    /// One function for every group (torch: `lr_lambda`).
    public convenience init(_ optimizer: any SchedulableOptimizer, lrLambda: @escaping (Int) -> Double, lastEpoch: Int = -1) throws {
        try self.init(optimizer, lrLambda: [lrLambda], lastEpoch: lastEpoch)
    }

    public override func computeLR() throws -> [Double] {
        isInitial ? currentLRs : zip(currentLRs, lambdas).map { $0 * $1(lastEpoch) }
    }
}

/// One function per group: `lambdas` as given, or its single function repeated.
private func perGroupLambdas(_ lambdas: [(Int) -> Double], _ optimizer: any SchedulableOptimizer) throws -> [(Int) -> Double] {
    guard lambdas.count == 1 || lambdas.count == optimizer.groupCount else {
        throw OptimError("Expected \(optimizer.groupCount) lr_lambdas, but got \(lambdas.count)")
    }
    return lambdas.count == 1 ? Array(repeating: lambdas[0], count: optimizer.groupCount) : lambdas
}

/// Python's `//` on integers (floor division).
func floorDivide(_ a: Int, _ b: Int) -> Int {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}
