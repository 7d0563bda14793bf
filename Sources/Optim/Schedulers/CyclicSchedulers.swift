/// Writes a group's momentum the way torch's cyclic schedulers do: into `momentum` (SGD,
/// RMSprop) or `betas[0]` (the Adam family).
private func requireCyclicMomentum(_ optimizer: any SchedulableOptimizer) throws {
    for g in 0..<optimizer.groupCount where optimizer.cyclicMomentum(group: g) == nil {
        throw OptimError("optimizer must support momentum or beta1 with `cycle_momentum` option enabled")
    }
}

private func perGroup(_ values: [Double], _ name: String, _ optimizer: any SchedulableOptimizer) throws -> [Double] {
    if values.count == 1 { return Array(repeating: values[0], count: optimizer.groupCount) }
    guard values.count == optimizer.groupCount else {
        throw OptimError("\(name) must have the same length as optimizer.param_groups. \(name) has \(values.count) values, param_groups has \(optimizer.groupCount).")
    }
    return values
}

/// Cycles the learning rate between `baseLR` and `maxLR` (torch: `CyclicLR`), and the momentum
/// inversely between `maxMomentum` and `baseMomentum`. Step it after every batch.
///
/// With c = ⌊1 + e/(up + down)⌋, x = 1 + e/(up + down) − c, s = x/r when x ≤ r else (x − 1)/(r − 1)
/// (r = up/(up + down)): lr = base + (max − base)·s·f, where f is 1 (`triangular`), 1/2^(c−1)
/// (`triangular2`) or γ^e (`expRange`).
public final class CyclicLR: LRScheduler {
    /// The amplitude policy (torch: `mode`).
    public enum Mode: String, Sendable, CaseIterable {
        case triangular, triangular2
        case expRange = "exp_range"
    }

    /// The lower learning rate of the cycle, per group (torch: `base_lr`).
    public let cycleBaseLRs: [Double]
    /// The upper learning rate of the cycle, per group (torch: `max_lr`).
    public let maxLRs: [Double]
    /// Steps per cycle, up plus down (torch: `total_size`).
    public let totalSize: Double
    /// The share of a cycle spent going up (torch: `step_ratio`).
    public let stepRatio: Double
    /// The amplitude policy (torch: `mode`).
    public let mode: Mode
    /// Decay factor (torch: `gamma`).
    public let gamma: Double
    /// Whether momentum cycles inversely to the learning rate (torch: `cycle_momentum`).
    public let cycleMomentum: Bool
    /// The lower momentum, per group (torch: `base_momentum`).
    public let baseMomentums: [Double]
    /// The upper momentum, per group (torch: `max_momentum`).
    public let maxMomentums: [Double]

    /// - Parameters: torch's: `baseLR` (`base_lr`, one value or one per group), `maxLR` (`max_lr`),
    ///   `stepSizeUp` (`step_size_up`, 2000), `stepSizeDown` (`step_size_down`, = up),
    ///   `mode` (triangular), `gamma` (1.0, for exp_range), `cycleMomentum` (`cycle_momentum`,
    ///   true), `baseMomentum` (`base_momentum`, 0.8), `maxMomentum` (`max_momentum`, 0.9).
    public init(_ optimizer: any SchedulableOptimizer, baseLR: [Double], maxLR: [Double], stepSizeUp: Int = 2000,
                stepSizeDown: Int? = nil, mode: Mode = .triangular, gamma: Double = 1.0, cycleMomentum: Bool = true,
                baseMomentum: [Double] = [0.8], maxMomentum: [Double] = [0.9], lastEpoch: Int = -1) throws {
        let bases = try perGroup(baseLR, "base_lr", optimizer)
        if lastEpoch == -1 { for (g, lr) in bases.enumerated() { optimizer.setLearningRate(lr, group: g) } }
        cycleBaseLRs = bases
        maxLRs = try perGroup(maxLR, "max_lr", optimizer)
        let up = Double(stepSizeUp), down = Double(stepSizeDown ?? stepSizeUp)
        guard up + down > 0 else { throw OptimError("step_size_up + step_size_down must be positive") }
        totalSize = up + down
        stepRatio = up / totalSize
        self.mode = mode
        self.gamma = gamma
        self.cycleMomentum = cycleMomentum
        if cycleMomentum {
            try requireCyclicMomentum(optimizer)
            baseMomentums = try perGroup(baseMomentum, "base_momentum", optimizer)
            maxMomentums = try perGroup(maxMomentum, "max_momentum", optimizer)
            if lastEpoch == -1 {
                for g in 0..<optimizer.groupCount {
                    optimizer.setCyclicMomentum(maxMomentums[g], group: g)
                    optimizer.setSchedulerValue(maxMomentums[g], key: "max_momentum", group: g)
                    optimizer.setSchedulerValue(baseMomentums[g], key: "base_momentum", group: g)
                }
            }
        } else {
            baseMomentums = []; maxMomentums = []
        }
        try super.init(optimizer: optimizer, lastEpoch: lastEpoch)
        baseLRs = cycleBaseLRs
    }

    private func scale(_ x: Double) -> Double {
        switch mode {
        case .triangular: 1.0
        case .triangular2: 1 / PyMath.pow(2.0, x - 1)
        case .expRange: PyMath.pow(gamma, x)
        }
    }

    public override func computeLR() throws -> [Double] {
        let e = Double(lastEpoch)
        let cycle = PyMath.floor(1 + e / totalSize)
        let x = 1.0 + e / totalSize - cycle
        let scaleFactor = x <= stepRatio ? x / stepRatio : (x - 1) / (stepRatio - 1)
        let amplitude = mode == .expRange ? scale(e) : scale(cycle)
        let lrs = zip(cycleBaseLRs, maxLRs).map { base, top in base + (top - base) * scaleFactor * amplitude }
        if cycleMomentum {
            for g in 0..<optimizer.groupCount {
                let height = (maxMomentums[g] - baseMomentums[g]) * scaleFactor
                optimizer.setCyclicMomentum(maxMomentums[g] - height * amplitude, group: g)
            }
        }
        return lrs
    }
}

/// The 1cycle policy (torch: `OneCycleLR`): the learning rate rises from max_lr/div_factor to
/// `maxLR` over `pctStart` of the steps, then anneals to initial/final_div_factor (three phases
/// with `threePhase`); momentum moves the opposite way. Step it after every batch.
public final class OneCycleLR: LRScheduler {
    /// How each phase interpolates (torch: `anneal_strategy`).
    public enum AnnealStrategy: String, Sendable, CaseIterable { case cos, linear }

    struct Phase {
        let endStep: Double
        let startLR: String, endLR: String
        let startMomentum: String, endMomentum: String
    }

    /// The length of the cycle in steps (torch: `total_steps`).
    public let totalSteps: Int
    /// How each phase interpolates (torch: `anneal_strategy`).
    public let annealStrategy: AnnealStrategy
    /// Whether momentum cycles inversely to the learning rate (torch: `cycle_momentum`).
    public let cycleMomentum: Bool
    let phases: [Phase]

    /// - Parameters: torch's: `maxLR` (`max_lr`), `totalSteps` (`total_steps`) or `epochs` and
    ///   `stepsPerEpoch`, `pctStart` (`pct_start`, 0.3), `annealStrategy` (cos), `cycleMomentum`
    ///   (true), `baseMomentum` (0.85), `maxMomentum` (0.95), `divFactor` (`div_factor`, 25),
    ///   `finalDivFactor` (`final_div_factor`, 1e4), `threePhase` (`three_phase`, false).
    public init(_ optimizer: any SchedulableOptimizer, maxLR: [Double], totalSteps: Int? = nil, epochs: Int? = nil,
                stepsPerEpoch: Int? = nil, pctStart: Double = 0.3, annealStrategy: AnnealStrategy = .cos,
                cycleMomentum: Bool = true, baseMomentum: [Double] = [0.85], maxMomentum: [Double] = [0.95],
                divFactor: Double = 25.0, finalDivFactor: Double = 1e4, threePhase: Bool = false,
                lastEpoch: Int = -1) throws {
        if let totalSteps {
            guard totalSteps > 0 else { throw OptimError("Expected positive integer total_steps, but got \(totalSteps)") }
            self.totalSteps = totalSteps
        } else if let epochs, let stepsPerEpoch {
            guard epochs > 0 else { throw OptimError("Expected positive integer epochs, but got \(epochs)") }
            guard stepsPerEpoch > 0 else {
                throw OptimError("Expected positive integer steps_per_epoch, but got \(stepsPerEpoch)")
            }
            self.totalSteps = epochs * stepsPerEpoch
        } else {
            throw OptimError("You must define either total_steps OR (epochs AND steps_per_epoch)")
        }
        let n = Double(self.totalSteps)
        phases = threePhase
            ? [Phase(endStep: pctStart * n - 1, startLR: "initial_lr", endLR: "max_lr", startMomentum: "max_momentum", endMomentum: "base_momentum"),
               Phase(endStep: 2 * pctStart * n - 2, startLR: "max_lr", endLR: "initial_lr", startMomentum: "base_momentum", endMomentum: "max_momentum"),
               Phase(endStep: n - 1, startLR: "initial_lr", endLR: "min_lr", startMomentum: "max_momentum", endMomentum: "max_momentum")]
            : [Phase(endStep: pctStart * n - 1, startLR: "initial_lr", endLR: "max_lr", startMomentum: "max_momentum", endMomentum: "base_momentum"),
               Phase(endStep: n - 1, startLR: "max_lr", endLR: "min_lr", startMomentum: "base_momentum", endMomentum: "max_momentum")]
        guard pctStart >= 0, pctStart <= 1 else {
            throw OptimError("Expected float between 0 and 1 pct_start, but got \(pythonRepr(pctStart))")
        }
        self.annealStrategy = annealStrategy
        let maxLRs = try perGroup(maxLR, "max_lr", optimizer)
        if lastEpoch == -1 {
            for g in 0..<optimizer.groupCount {
                let initial = maxLRs[g] / divFactor
                optimizer.setSchedulerValue(initial, key: "initial_lr", group: g)
                optimizer.setSchedulerValue(maxLRs[g], key: "max_lr", group: g)
                optimizer.setSchedulerValue(initial / finalDivFactor, key: "min_lr", group: g)
            }
        }
        self.cycleMomentum = cycleMomentum
        if cycleMomentum {
            try requireCyclicMomentum(optimizer)
            let maxes = try perGroup(maxMomentum, "max_momentum", optimizer)
            let bases = try perGroup(baseMomentum, "base_momentum", optimizer)
            if lastEpoch == -1 {
                for g in 0..<optimizer.groupCount {
                    optimizer.setCyclicMomentum(maxes[g], group: g)
                    optimizer.setSchedulerValue(maxes[g], key: "max_momentum", group: g)
                    optimizer.setSchedulerValue(bases[g], key: "base_momentum", group: g)
                }
            }
        }
        try super.init(optimizer: optimizer, lastEpoch: lastEpoch)
    }

    private func anneal(_ start: Double, _ end: Double, _ pct: Double) -> Double {
        switch annealStrategy {
        case .cos: end + (start - end) / 2.0 * (PyMath.cos(PyMath.pi * pct) + 1)
        case .linear: (end - start) * pct + start
        }
    }

    public override func computeLR() throws -> [Double] {
        let stepNumber = Double(lastEpoch)
        guard lastEpoch <= totalSteps else {
            throw OptimError("Tried to step \(lastEpoch) times. The specified number of total steps is \(totalSteps)")
        }
        var lrs: [Double] = []
        for g in 0..<optimizer.groupCount {
            func value(_ key: String) -> Double { optimizer.schedulerValue(key, group: g) ?? 0 }
            var startStep = 0.0
            for (i, phase) in phases.enumerated() {
                if stepNumber <= phase.endStep || i == phases.count - 1 {
                    let pct = (stepNumber - startStep) / (phase.endStep - startStep)
                    lrs.append(anneal(value(phase.startLR), value(phase.endLR), pct))
                    if cycleMomentum {
                        optimizer.setCyclicMomentum(anneal(value(phase.startMomentum), value(phase.endMomentum), pct), group: g)
                    }
                    break
                }
                startStep = phase.endStep
            }
        }
        return lrs
    }
}

/// Cosine annealing with warm restarts (SGDR; torch: `CosineAnnealingWarmRestarts`): the
/// learning rate follows η_min + (base − η_min)(1 + cos(π·T_cur/T_i))/2 and restarts every T_i
/// epochs, T_i growing by `tMult` after each restart.
public final class CosineAnnealingWarmRestarts: LRScheduler {
    /// Length of the first period (torch: `T_0`).
    public let t0: Int
    /// Growth factor of the period (torch: `T_mult`, default 1).
    public let tMult: Int
    /// Minimum learning rate (torch: `eta_min`, default 0).
    public let etaMin: Double
    /// Current period length and position in it (torch: `T_i`, `T_cur`).
    public private(set) var tI: Double
    /// Epochs since the last restart (torch: `T_cur`).
    public private(set) var tCur: Double
    private var explicitEpoch: Double?

    /// - Parameters: torch's: `t0` (`T_0`, > 0), `tMult` (`T_mult`, ≥ 1), `etaMin` (`eta_min`).
    public init(_ optimizer: any SchedulableOptimizer, t0: Int, tMult: Int = 1, etaMin: Double = 0.0, lastEpoch: Int = -1) throws {
        guard t0 > 0 else { throw OptimError("Expected positive integer T_0, but got \(t0)") }
        guard tMult >= 1 else { throw OptimError("Expected integer T_mult >= 1, but got \(tMult)") }
        self.t0 = t0; self.tMult = tMult; self.etaMin = etaMin
        tI = Double(t0); tCur = Double(lastEpoch)
        try super.init(optimizer: optimizer, lastEpoch: lastEpoch)
    }

    public override func computeLR() throws -> [Double] {
        baseLRs.map { etaMin + ($0 - etaMin) * (1 + PyMath.cos(PyMath.pi * tCur / tI)) / 2 }
    }

    /// Advances one epoch (torch: `step()`).
    public override func step() throws {
        stepCount += 1
        if lastEpoch < 0 {
            try jump(to: 0)
            return
        }
        tCur += 1
        if tCur >= tI {
            tCur = tCur.truncatingRemainder(dividingBy: tI)
            tI *= Double(tMult)
        }
        try apply(epoch: lastEpoch + 1)
    }

    /// Jumps to a possibly fractional epoch, e.g. `epoch + batch / batchesPerEpoch`
    /// (torch: `step(epoch)`).
    public func step(epoch: Double) throws {
        stepCount += 1
        try jump(to: epoch)
    }

    private func jump(to epoch: Double) throws {
        guard epoch >= 0 else { throw OptimError("Expected non-negative epoch, but got \(pythonRepr(epoch))") }
        let first = Double(t0), mult = Double(tMult)
        if epoch >= first {
            if tMult == 1 {
                tCur = epoch.truncatingRemainder(dividingBy: first)
            } else {
                let n = (PyMath.log(epoch / first * (mult - 1) + 1) / PyMath.log(mult)).rounded(.towardZero)
                tCur = epoch - first * (PyMath.pow(mult, n) - 1) / (mult - 1)
                tI = first * PyMath.pow(mult, n)
            }
        } else {
            tI = first
            tCur = epoch
        }
        try apply(epoch: Int(PyMath.floor(epoch)))
    }

    private func apply(epoch: Int) throws {
        lastEpoch = epoch
        for (g, lr) in try computeLR().enumerated() { optimizer.setLearningRate(lr, group: g) }
        lastLR = currentLRs
    }

    public override func stateDict() -> [String: StateValue] {
        var state = super.stateDict()
        state["T_i"] = .number(tI)
        state["T_cur"] = .number(tCur)
        return state
    }

    public override func loadStateDict(_ state: [String: StateValue]) throws {
        try super.loadStateDict(state)
        guard let i = state["T_i"]?.number, let cur = state["T_cur"]?.number else {
            throw OptimError(.keyError, "scheduler state dict lacks T_i or T_cur")
        }
        tI = i; tCur = cur
    }
}
