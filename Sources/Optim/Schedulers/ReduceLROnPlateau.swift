/// Reduces the learning rate when a metric stops improving (torch: `ReduceLROnPlateau`).
///
/// After more than `patience` epochs without improvement (relative or absolute `threshold`),
/// each group's lr becomes max(lr·`factor`, `minLR`), if that changes it by more than `eps`;
/// then `cooldown` epochs pass before bad epochs count again. Call `step(metric:)` after
/// validation, with the metric to watch.
public final class ReduceLROnPlateau {
    /// Whether the metric should go down (`min`, a loss) or up (`max`, an accuracy) (torch: `mode`).
    public enum Mode: String, Sendable, CaseIterable { case min, max }
    /// Whether `threshold` is relative or absolute (torch: `threshold_mode`).
    public enum ThresholdMode: String, Sendable, CaseIterable { case rel, abs }

    /// The optimizer whose learning rates this scheduler sets.
    public let optimizer: any SchedulableOptimizer
    /// The amplitude policy (torch: `mode`).
    public let mode: Mode
    /// The reduction factor (torch: `factor`).
    public let factor: Double
    /// Epochs without improvement tolerated (torch: `patience`).
    public let patience: Int
    /// The least change that counts as improvement (torch: `threshold`).
    public let threshold: Double
    /// How `threshold` applies (torch: `threshold_mode`).
    public let thresholdMode: ThresholdMode
    /// Epochs to wait after a reduction (torch: `cooldown`).
    public let cooldown: Int
    /// The lowest learning rate per group (torch: `min_lr`).
    public let minLRs: [Double]
    /// Reductions smaller than this are skipped (torch: `eps`).
    public let eps: Double
    /// The best metric so far (torch: `best`).
    public private(set) var best: Double
    /// Epochs without improvement so far (torch: `num_bad_epochs`).
    public private(set) var numBadEpochs = 0
    /// Cooldown epochs left (torch: `cooldown_counter`).
    public private(set) var cooldownCounter = 0
    /// Metrics seen (torch: `last_epoch`).
    public private(set) var lastEpoch = 0
    /// The learning rates set by the last step (torch: `get_last_lr()`).
    public private(set) var lastLR: [Double]

    /// - Parameters: torch's: `mode` (min), `factor` (0.1, < 1), `patience` (10), `threshold`
    ///   (1e-4), `thresholdMode` (`threshold_mode`, rel), `cooldown` (0), `minLR` (`min_lr`, one
    ///   value or one per group, 0), `eps` (1e-8).
    public init(_ optimizer: any SchedulableOptimizer, mode: Mode = .min, factor: Double = 0.1, patience: Int = 10,
                threshold: Double = 1e-4, thresholdMode: ThresholdMode = .rel, cooldown: Int = 0,
                minLR: [Double] = [0], eps: Double = 1e-8) throws {
        guard factor < 1.0 else { throw OptimError("Factor should be < 1.0.") }
        guard minLR.count == 1 || minLR.count == optimizer.groupCount else {
            throw OptimError("expected \(optimizer.groupCount) min_lrs, got \(minLR.count)")
        }
        self.optimizer = optimizer
        self.mode = mode; self.factor = factor; self.patience = patience; self.threshold = threshold
        self.thresholdMode = thresholdMode; self.cooldown = cooldown; self.eps = eps
        minLRs = minLR.count == 1 ? Array(repeating: minLR[0], count: optimizer.groupCount) : minLR
        best = mode == .min ? .infinity : -.infinity
        lastLR = (0..<optimizer.groupCount).map { optimizer.learningRate(group: $0) }
    }

    private func isBetter(_ a: Double, than best: Double) -> Bool {
        switch (mode, thresholdMode) {
        case (.min, .rel): a < best * (1.0 - threshold)
        case (.min, .abs): a < best - threshold
        case (.max, .rel): a > best * (threshold + 1.0)
        case (.max, .abs): a > best + threshold
        }
    }

    /// Records one epoch's metric and reduces the learning rates if it has plateaued.
    public func step(metric current: Double) {
        lastEpoch += 1
        if isBetter(current, than: best) {
            best = current
            numBadEpochs = 0
        } else {
            numBadEpochs += 1
        }
        if cooldownCounter > 0 {
            cooldownCounter -= 1
            numBadEpochs = 0
        }
        if numBadEpochs > patience {
            for g in 0..<optimizer.groupCount {
                let old = optimizer.learningRate(group: g)
                let new = max(old * factor, minLRs[g])
                if old - new > eps { optimizer.setLearningRate(new, group: g) }
            }
            cooldownCounter = cooldown
            numBadEpochs = 0
        }
        lastLR = (0..<optimizer.groupCount).map { optimizer.learningRate(group: $0) }
    }

    /// The scheduler's progress under torch's names.
    public func stateDict() -> [String: StateValue] {
        ["best": .number(best), "num_bad_epochs": .number(Double(numBadEpochs)),
         "cooldown_counter": .number(Double(cooldownCounter)), "last_epoch": .number(Double(lastEpoch)),
         "_last_lr": .tensor(lastLR)]
    }

    /// Restores what ``stateDict()`` saved.
    public func loadStateDict(_ state: [String: StateValue]) throws {
        guard let best = state["best"]?.number, let bad = state["num_bad_epochs"]?.number,
              let cool = state["cooldown_counter"]?.number, let epoch = state["last_epoch"]?.number
        else { throw OptimError(.keyError, "scheduler state dict lacks best, num_bad_epochs, cooldown_counter or last_epoch") }
        guard !best.isNaN else { throw OptimError("state 'best' is nan") }
        let limit = StateValue.counterLimit
        let counts = (try StateValue.counter(bad, key: "num_bad_epochs"), try StateValue.counter(cool, key: "cooldown_counter"),
                      try StateValue.counter(epoch, key: "last_epoch", range: -1...limit))
        (numBadEpochs, cooldownCounter, lastEpoch) = counts
        self.best = best
        lastLR = state["_last_lr"]?.tensor ?? lastLR
    }
}
