/// Runs schedulers one after another, switching at each milestone epoch (torch: `SequentialLR`).
/// At a milestone the next scheduler restarts from the base learning rates.
///
/// ```swift
/// let warmup = try LinearLR(optimizer, startFactor: 0.1, totalIters: 5)
/// let decay = try CosineAnnealingLR(optimizer, tMax: 95)
/// let schedule = try SequentialLR(optimizer, schedulers: [warmup, decay], milestones: [5])
/// ```
public final class SequentialLR: Scheduler {
    /// The optimizer whose learning rates this scheduler sets.
    public let optimizer: any SchedulableOptimizer
    /// The schedulers, in the order they take over (torch: `schedulers`).
    public let schedulers: [LRScheduler]
    /// The epochs at which the next scheduler takes over (torch: `milestones`).
    public let milestones: [Int]
    /// The epoch counter (torch: `last_epoch`).
    public private(set) var lastEpoch: Int
    /// The learning rates set by the last step (torch: `get_last_lr()`).
    public private(set) var lastLR: [Double]

    /// - Parameters: torch's: `schedulers`, and `milestones`, one fewer than the schedulers.
    public init(_ optimizer: any SchedulableOptimizer, schedulers: [LRScheduler], milestones: [Int], lastEpoch: Int = -1) throws {
        guard !schedulers.isEmpty else {
            throw OptimError("SequentialLR expects at least one scheduler, but got no scheduler.")
        }
        for (i, s) in schedulers.enumerated() where s.optimizer !== optimizer {
            throw OptimError("SequentialLR expects all schedulers to belong to the same optimizer, but got scheduler \(type(of: s)) at index \(i) with a different optimizer.")
        }
        guard milestones.count == schedulers.count - 1 else {
            throw OptimError("Sequential Schedulers expects number of schedulers provided to be one more than the number of milestone points, but got number of schedulers \(schedulers.count) and the number of milestones to be equal to \(milestones.count)")
        }
        self.optimizer = optimizer
        self.schedulers = schedulers
        self.milestones = milestones
        self.lastEpoch = lastEpoch + 1
        for g in 0..<optimizer.groupCount {
            if let initial = optimizer.schedulerValue("initial_lr", group: g) { optimizer.setLearningRate(initial, group: g) }
        }
        for s in schedulers { s.undoEpoch() }
        let index = milestones.filter { $0 <= 0 }.count
        try schedulers[index].initialStep()
        lastLR = schedulers[index].lastLR
    }

    public func step() throws {
        lastEpoch += 1
        let index = milestones.filter { $0 <= lastEpoch }.count
        let scheduler = schedulers[index]
        if index > 0 && milestones[index - 1] == lastEpoch {
            try scheduler.updateLR(epoch: 0)
        } else {
            try scheduler.step()
        }
        lastLR = scheduler.lastLR
    }

    public func stateDict() -> [String: StateValue] {
        var state: [String: StateValue] = ["last_epoch": .number(Double(lastEpoch)), "_last_lr": .tensor(lastLR)]
        for (i, s) in schedulers.enumerated() {
            for (key, value) in s.stateDict() { state["_schedulers.\(i).\(key)"] = value }
        }
        return state
    }

    public func loadStateDict(_ state: [String: StateValue]) throws {
        guard let epoch = state["last_epoch"]?.number else { throw OptimError(.keyError, "scheduler state dict lacks last_epoch") }
        for (i, s) in schedulers.enumerated() {
            let prefix = "_schedulers.\(i)."
            var child: [String: StateValue] = [:]
            for (key, value) in state where key.hasPrefix(prefix) { child[String(key.dropFirst(prefix.count))] = value }
            try s.loadStateDict(child)
        }
        lastEpoch = try StateValue.counter(epoch, key: "last_epoch", range: -1...StateValue.counterLimit)
        lastLR = state["_last_lr"]?.tensor ?? lastLR
    }
}

/// Steps several schedulers together, so that their multiplicative effects compose
/// (torch: `ChainedScheduler`).
public final class ChainedScheduler: Scheduler {
    /// The schedulers stepped together, in order (torch: `schedulers`).
    public let schedulers: [any Scheduler]
    /// The learning rates set by the last step (torch: `get_last_lr()`).
    public private(set) var lastLR: [Double]

    /// Chains `schedulers`, all over the same optimizer.
    public init(_ schedulers: [any Scheduler]) throws {
        guard let last = schedulers.last else {
            throw OptimError("ChainedScheduler expects at least one scheduler to be chained, but got no scheduler.")
        }
        self.schedulers = schedulers
        lastLR = last.lastLR
    }

    public func step() throws {
        for s in schedulers { try s.step() }
        lastLR = schedulers[schedulers.count - 1].lastLR
    }

    public func stateDict() -> [String: StateValue] {
        var state: [String: StateValue] = ["_last_lr": .tensor(lastLR)]
        for (i, s) in schedulers.enumerated() {
            for (key, value) in s.stateDict() { state["_schedulers.\(i).\(key)"] = value }
        }
        return state
    }

    public func loadStateDict(_ state: [String: StateValue]) throws {
        for (i, s) in schedulers.enumerated() {
            let prefix = "_schedulers.\(i)."
            var child: [String: StateValue] = [:]
            for (key, value) in state where key.hasPrefix(prefix) { child[String(key.dropFirst(prefix.count))] = value }
            try s.loadStateDict(child)
        }
        lastLR = state["_last_lr"]?.tensor ?? lastLR
    }
}
