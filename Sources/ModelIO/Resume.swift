import DataParallel
import Datasets
import VectorMath
import Foundation
import Models
import Optim

/// One training run's checkpoints: written at the positions `DataParallel.fit` offers, and read back into the same run, so that a run stopped anywhere (Ctrl-C, a killed
/// job, a full disk) continues to bitwise the weights it would have reached uninterrupted.
///
/// ```swift
/// let run = TrainingRun(model: model, parameters: parameters, optimizer: adam,
///                       identity: ["data": fileFingerprint(path), "lr": "0.001", "batch_size": "256"])
/// var configuration = FitConfiguration(batchSize: 256, epochs: 20)
/// if FileManager.default.fileExists(atPath: "run.ckpt") {
///     configuration.start = try run.resume(from: "run.ckpt")
/// }
/// let writer = CheckpointWriter(run: run, path: "run.ckpt", epochs: configuration.epochs)
/// _ = try fit(model, parameters: parameters, data: data, optimizer: adam,
///             configuration: configuration, checkpoint: writer.offer)
/// try writer.flush()
/// ```
///
/// A checkpoint holds the parameters, every optimizer buffer (as tensors), the scheduler's,
/// early stopping's and the convergence test's state, the position (epoch and minibatch), and
/// the run's `identity`: what must match for a checkpoint to continue this run (the data, the
/// model, every hyperparameter that changes the trajectory). ``resume(from:)`` refuses a
/// checkpoint of another run, of another model (shape by shape), or one that is damaged (its
/// checksum), before it changes anything.
public struct TrainingRun {
    public let model: any Model
    public let parameters: Parameters<Float>
    public let optimizer: any Optimizer<Float>
    public let schedule: EpochSchedule?
    /// Averaged weights the run keeps (SWA or EMA), saved in its checkpoints and restored on resume.
    public let average: AveragedModel<Float>?
    /// What a checkpoint must match to continue this run, compared key by key. Put in it
    /// everything that changes the trajectory and is not in the checkpoint's state: the data
    /// (``fileFingerprint(_:)`` of a file), the model, the hyperparameters with their values,
    /// the batch size, the seed, the schedule's options.
    public var identity: [String: String]

    public init(model: any Model, parameters: Parameters<Float>, optimizer: any Optimizer<Float>, schedule: EpochSchedule? = nil,
                average: AveragedModel<Float>? = nil, identity: [String: String] = [:]) {
        self.model = model
        self.average = average
        self.parameters = parameters
        self.optimizer = optimizer
        self.schedule = schedule
        self.identity = identity
    }

    /// The checkpoint of this run at `position` (what ``save(at:to:)`` writes).
    public func checkpoint(at position: TrainingPosition) throws -> Checkpoint {
        var early = position.earlyStopping
        let bestWeights = early?.bestWeights
        early?.bestWeights = []  // a tensor of its own, not JSON
        var tensors = bestWeights.map { ["early_stopping.best_weights": Float.narrowed($0)] } ?? [:]
        if let average { tensors["average"] = average.averaged.values.array }
        return Checkpoint(epoch: position.epoch, batch: position.batch, optimizerState: try OptimizerState.encodeBinary(optimizer),
                          schedulerState: try schedule.map(Self.state(of:)),
                          earlyStoppingState: try early.map { try $0.encoded() },
                          convergenceState: try position.convergence.map { try JSONEncoder.canonical.encode($0) },
                          tensors: tensors, averageCount: average?.nAveraged, identity: identity)
    }

    /// Writes this run's checkpoint at `position` to `path`, atomically: a reader (or a run
    /// killed mid-write) sees the previous checkpoint or this one, never a mix.
    public func save(at position: TrainingPosition, to path: String) throws {
        try checkpoint(at: position).save(model, parameters, to: path)
    }

    /// Loads the checkpoint at `path` into this run's parameters, optimizer and schedule, and
    /// returns the position to start from (`FitConfiguration.start`).
    ///
    /// - Throws: ``ResumeError/anotherRun(key:checkpoint:run:)`` when an identity entry differs
    ///   (nothing is changed then); `DataFileError` for a damaged checkpoint, one of another
    ///   model, or state the optimizer or schedule refuses.
    public func resume(from path: String) throws -> TrainingPosition {
        let (_, saved, checkpoint) = try Checkpoint.load(path)
        for (key, value) in identity.sorted(by: { $0.key < $1.key }) where checkpoint.identity[key] != value {
            throw ResumeError.anotherRun(key: key, checkpoint: checkpoint.identity[key], run: value)
        }
        guard saved.count == parameters.count, saved.tensors.map(\.shape) == parameters.tensors.map(\.shape) else {
            throw DataFileError(path, nil, "the checkpoint's tensors \(saved.tensors.map(\.shape)) are not this model's \(parameters.tensors.map(\.shape))")
        }
        var earlyStopping: EarlyStoppingState?
        var convergence: ConvergenceState?
        do {
            // The state is loaded before the parameters change, so a refusal leaves the run as it was
            // (each loadStateDict validates before it assigns).
            try OptimizerState.load(checkpoint.optimizerState, into: optimizer)
            if let state = checkpoint.schedulerState, let schedule { try Self.load(state, into: schedule) }
            earlyStopping = try checkpoint.earlyStoppingState.map { try EarlyStoppingState.decode($0) }
            // Its best weights are a tensor of their own (format 2); format 1 kept them in the JSON.
            if let weights = checkpoint.tensors["early_stopping.best_weights"] { earlyStopping?.bestWeights = Float.widened(weights) }
            convergence = try checkpoint.convergenceState.map { try JSONDecoder().decode(ConvergenceState.self, from: $0) }
        } catch {
            throw DataFileError(path, nil, "corrupt checkpoint state: \(error)")
        }
        if let earlyStopping, earlyStopping.bestWeights.count != parameters.count {
            throw DataFileError(path, nil, "corrupt checkpoint state: early stopping's best weights have \(earlyStopping.bestWeights.count) values, the model \(parameters.count)")
        }
        if let average {
            guard let values = checkpoint.tensors["average"], let count = checkpoint.averageCount else {
                throw DataFileError(path, nil, "the checkpoint has no averaged weights, and this run averages them")
            }
            do {
                try average.loadStateDict(["n_averaged": .number(Double(count)), "averaged": .tensor(values.map(Double.init))])
            } catch {
                throw DataFileError(path, nil, "corrupt checkpoint state: \(error)")
            }
        }
        parameters.values.assign(saved.values.array)
        return TrainingPosition(epoch: checkpoint.epoch, batch: checkpoint.batch, earlyStopping: earlyStopping, convergence: convergence)
    }

    /// A schedule's state dict as JSON.
    static func state(of schedule: EpochSchedule) throws -> Data {
        switch schedule {
        case .stepping(let s): try JSONEncoder.canonical.encode(s.stateDict())
        case .plateau(let p): try JSONEncoder.canonical.encode(p.stateDict())
        }
    }

    static func load(_ data: Data, into schedule: EpochSchedule) throws {
        let state = try JSONDecoder().decode([String: StateValue].self, from: data)
        switch schedule {
        case .stepping(let s): try s.loadStateDict(state)
        case .plateau(let p): try p.loadStateDict(state)
        }
    }
}

/// A checkpoint that does not continue this run.
public enum ResumeError: Error, Equatable, CustomStringConvertible {
    /// The identity entry `key` is `checkpoint` in the checkpoint (nil: absent) and `run` in this run.
    case anotherRun(key: String, checkpoint: String?, run: String)

    public var description: String {
        switch self {
        case let .anotherRun(key, checkpoint, run): "the checkpoint is from another run: its \(key) is '\(checkpoint ?? "?")', this run's is '\(run)'"
        }
    }
}

/// Writes a run's checkpoints as a fit offers positions: every one, or with an `interval` (in
/// seconds) at most one per interval — always the last position offered (``flush()``, when the
/// fit returns; the state has not changed since) and one at an interruption. Pass ``offer(_:)``
/// as `fit`'s `checkpoint`.
public final class CheckpointWriter {
    public let path: String
    public let interval: Double
    /// Checkpoints written so far, and the seconds they took.
    public private(set) var written = 0
    public private(set) var totalSeconds = 0.0
    private let epochs: Int
    private let write: (TrainingPosition) throws -> Void
    private var last = ContinuousClock.now
    private var pending: TrainingPosition?

    /// Writes `run`'s checkpoints to `path`; `epochs` is the fit's, so that the position past
    /// the last epoch is always written.
    public convenience init(run: TrainingRun, path: String, interval: Double = 0, epochs: Int) {
        self.init(path: path, interval: interval, epochs: epochs) { try run.save(at: $0, to: path) }
    }

    /// Calls `write` for each position to keep (another way of storing them).
    public init(path: String, interval: Double = 0, epochs: Int, write: @escaping (TrainingPosition) throws -> Void) {
        self.path = path
        self.interval = interval
        self.epochs = epochs
        self.write = write
    }

    /// A position the fit reached: written now when it is an interruption (mid-epoch), the end
    /// of the run, or the interval has passed; otherwise kept for ``flush()``.
    public func offer(_ position: TrainingPosition) throws {
        let final = position.batch > 0 || position.epoch > epochs
        guard final || interval <= 0 || ContinuousClock.now - last >= .seconds(interval) else {
            pending = position
            return
        }
        try store(position)
    }

    /// Writes the last position offered and not yet written.
    public func flush() throws {
        if let pending { try store(pending) }
    }

    private func store(_ position: TrainingPosition) throws {
        let start = ContinuousClock.now
        try write(position)
        let took = ContinuousClock.now - start
        totalSeconds += Double(took.components.seconds) + Double(took.components.attoseconds) * 1e-18
        written += 1
        last = ContinuousClock.now
        pending = nil
    }
}

extension EarlyStoppingState {
    /// JSON that keeps every value exactly (a NaN or infinite loss included, as a string).
    public func encoded() throws -> Data {
        let encoder = JSONEncoder.canonical
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try encoder.encode(self)
    }

    public static func decode(_ data: Data) throws -> EarlyStoppingState {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try decoder.decode(EarlyStoppingState.self, from: data)
    }
}

/// What identifies a file's content cheaply: its size, its modification time and a hash of 64
/// blocks of 4 KiB spread over it (all of it when it is smaller) — for a run's identity, so that
/// another file at the same path, or the same file edited, is another run.
public func fileFingerprint(_ path: String) -> String {
    var info = stat()
    guard stat(path, &info) == 0, let handle = FileHandle(forReadingAtPath: path) else { return "unreadable \(path)" }
    defer { try? handle.close() }
    let size = UInt64(info.st_size), block: UInt64 = 4096, blocks: UInt64 = 64
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    let step = size <= block * blocks ? block : (size - block) / (blocks - 1)
    var offset: UInt64 = 0
    while offset < size {
        try? handle.seek(toOffset: offset)
        for byte in (try? handle.read(upToCount: Int(block))) ?? Data() { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        offset += max(step, block)
    }
    return "\(size) bytes, modified \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec), content \(String(hash, radix: 16))"
}
