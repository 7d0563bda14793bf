import ArgumentParser
import DataParallel
import Datasets
import Foundation
import ModelIO
import Models
import Optim
import Topology

/// `optim train`: fit a model data-parallel on every core.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model, data-parallel on every allowed core.",
        discussion: """
            With no arguments, trains linear regression with Adam on a built-in synthetic data set \
            (2M rows × 64 features, 10% held out for validation), on every allowed core.

            Examples:
              optim train
              optim train --rows 4000000 --features 32 --optimizer sgd --lr 0.05 --momentum 0.9
              optim train --task logistic --optimizer adamw --lr 0.01 --weight-decay 0.05 --scheduler cosine
              optim train --data train.npy --model mlp --hidden 64 --epochs 20 --json
              optim train --data houses.csv --target price --optimizer lbfgs --line-search-fn strong_wolfe --batch-size 100000
            """
    )

    @OptionGroup(title: "Data") var data: DataOptions
    @OptionGroup(title: "Model") var model: ModelOptions
    @OptionGroup(title: "Optimizer") var optimizer: OptimizerOptions
    @OptionGroup(title: "Schedule") var schedule: SchedulerOptions
    @OptionGroup(title: "Training") var training: TrainingOptions

    @Flag(help: "Print one JSON object per epoch (epoch, loss, validation metrics, epoch_seconds), then one for the run.")
    var json = false

    @Flag(name: .shortAndLong, help: "Print only the final summary.")
    var quiet = false

    @Option(help: "Save the trained weights as safetensors (torch's tensor names; Python's safetensors reads them).")
    var save: String?

    @Option(help: "Write a checkpoint (parameters, optimizer, schedule and early-stopping state, position) at every epoch and on Ctrl-C.")
    var checkpoint: String?

    @Option(help: "Resume from a checkpoint of the same run (same data, model, optimizer, batch size and seed): the final weights are bitwise those of an uninterrupted run.")
    var resume: String?

    func run() throws {
        let interrupted = InterruptFlag.install()
        let workers = training.workers ?? defaultWorkerCount()
        let loadStart = ContinuousClock.now
        let dataset = try data.load(workers: workers, bind: training.bind)
        let loadSeconds = seconds(ContinuousClock.now - loadStart)
        let (trainingData, validationData) = try dataset.split(validationFraction: training.validation)
        let model = try self.model.make(for: dataset, task: data.usesFile ? nil : data.task)
        let parameters = model.makeParameters(seed: data.seed)
        let optimizer = try self.optimizer.make(parameters)
        let epochSchedule = try schedule.make(optimizer, epochs: training.epochs)
        var configuration = training.configuration(seed: data.seed, workers: workers)
        let identity = [
            "data": dataset.name, "rows": "\(dataset.rows)", "features": "\(dataset.features)", "model": model.description,
            "optimizer": self.optimizer.summary, "scheduler": schedule.scheduler.rawValue, "batch_size": "\(training.batchSize)",
            "seed": "\(data.seed)", "validation": "\(training.validation)",
            "early_stopping": training.earlyStopping.map { "patience \($0)" } ?? "off",
        ]
        if let resume {
            let (_, saved, checkpoint) = try Checkpoint.load(resume)
            for (key, value) in identity where checkpoint.identity[key] != value {
                throw UsageError(message: "--resume \(resume) is from another run: its \(key) is '\(checkpoint.identity[key] ?? "?")', this run's is '\(value)'",
                                 command: Train.self)
            }
            parameters.values.assign(saved.values.array)
            var earlyStopping: EarlyStoppingState?
            do {
                try OptimizerState.load(checkpoint.optimizerState, into: optimizer)
                if let state = checkpoint.schedulerState, let epochSchedule { try loadScheduleState(state, into: epochSchedule) }
                earlyStopping = try checkpoint.earlyStoppingState.map { try EarlyStoppingState.decode($0) }
            } catch {
                throw DataFileError(resume, nil, "corrupt checkpoint state: \(error)")
            }
            if let earlyStopping, earlyStopping.bestWeights.count != parameters.count {
                throw DataFileError(resume, nil, "corrupt checkpoint state: early stopping's best weights have \(earlyStopping.bestWeights.count) values, the model \(parameters.count)")
            }
            configuration.start = TrainingPosition(epoch: checkpoint.epoch, batch: checkpoint.batch, earlyStopping: earlyStopping)
            if !json && !quiet { print("resuming from \(resume) at epoch \(checkpoint.epoch), minibatch \(checkpoint.batch)") }
        }
        let writeCheckpoint: ((TrainingPosition) throws -> Void)? = checkpoint.map { path in
            { position in
                let state = Checkpoint(epoch: position.epoch, batch: position.batch, optimizerState: try OptimizerState.encode(optimizer),
                                       schedulerState: try epochSchedule.map(scheduleState),
                                       earlyStoppingState: try position.earlyStopping.map { try $0.encoded() },
                                       identity: identity)
                try state.save(model, parameters, to: path)
            }
        }

        if !json && !quiet {
            print("data: \(dataset.name) (\(trainingData.rows) training rows\(validationData.map { ", \($0.rows) validation" } ?? "")), loaded in \(Format.seconds(loadSeconds))")
            print("model: \(model.description); optimizer: \(self.optimizer.summary); \(workers) worker(s)")
        }
        let bar = ProgressBar(enabled: !json && !quiet && isatty(STDOUT_FILENO) != 0, epochs: training.epochs)
        let report = try fit(
            model, parameters: parameters, data: trainingData, validation: validationData, optimizer: optimizer,
            schedule: epochSchedule, configuration: configuration, cancellation: interrupted,
            progress: { epoch in
                bar.clear()
            if json {
                print(Format.jsonLine(epochObject(epoch)))
            } else if !quiet {
                print(epochLine(epoch, of: training.epochs))
            }
            fflush(nil)  // every line reaches a pipe as the epoch ends
            },
            onBatch: { bar.update($0) },
            checkpoint: { position in try writeCheckpoint?(position) }
        )
        bar.clear()
        if json {
            print(Format.jsonLine(summaryObject(report)))
        } else {
            printSummary(report)
        }
        if report.stopReason == .cancelled {
            throw InterruptedError(checkpoint: checkpoint)
        }
        if let save {
            var notes = ["optimizer": self.optimizer.summary, "epochs": "\(report.epochs.count)", "data": dataset.name]
            if let loss = report.epochs.last?.trainingLoss { notes["training_loss"] = "\(loss)" }
            try Weights.save(model, parameters, notes: notes, to: save)
            if !json { print("saved the weights to \(save)") }
        }
    }

    func epochLine(_ epoch: EpochReport, of total: Int) -> String {
        var line = "epoch \(epoch.epoch)/\(total)  loss \(Format.general(epoch.trainingLoss))"
        if let v = epoch.validation {
            line += "  val_loss \(Format.general(v.loss))"
            if let r2 = v.r2 { line += "  val_r2 \(Format.fixed(r2, 4))" }
            if let accuracy = v.accuracy { line += "  val_accuracy \(Format.fixed(accuracy, 4))" }
        }
        line += "  lr \(Format.general(epoch.learningRate))  \(Format.seconds(epoch.seconds))  \(Format.rate(epoch.rowsPerSecond)) rows/s"
        return line
    }

    func epochObject(_ epoch: EpochReport) -> [String: Any] {
        var object: [String: Any] = ["epoch": epoch.epoch, "loss": epoch.trainingLoss, "lr": epoch.learningRate,
                                     "epoch_seconds": epoch.seconds, "rows_per_second": epoch.rowsPerSecond]
        if let v = epoch.validation { object.merge(metricsObject(v, prefix: "val_")) { a, _ in a } }
        return object
    }

    func metricsObject(_ m: Metrics, prefix: String) -> [String: Any] {
        var object: [String: Any] = ["\(prefix)loss": m.loss]
        if let x = m.mse { object["\(prefix)mse"] = x }
        if let x = m.r2 { object["\(prefix)r2"] = x }
        if let x = m.accuracy { object["\(prefix)accuracy"] = x }
        if let x = m.logLoss { object["\(prefix)log_loss"] = x }
        return object
    }

    func summaryObject(_ report: TrainingReport) -> [String: Any] {
        var object: [String: Any] = [
            "event": "done", "epochs": report.epochs.count, "stop_reason": report.stopReason.rawValue,
            "training_seconds": report.trainingSeconds, "rows_per_second": report.rowsPerSecond,
            "bytes_per_second": report.bytesPerSecond, "compute_seconds": report.computeSeconds,
            "reduce_seconds": report.reduceSeconds, "step_seconds": report.stepSeconds,
            "workers": report.placement.workers, "processing_units": report.placement.units, "pinned": report.placement.pinned,
            "chunk_rows": report.chunkRows,
        ]
        if let m = report.finalMetrics { object.merge(metricsObject(m, prefix: "final_")) { a, _ in a } }
        if let d = report.trueWeightDistance { object["true_weight_distance"] = d }
        if let note = report.placement.note { object["placement_note"] = note }
        return object
    }

    func printSummary(_ report: TrainingReport) {
        print("done: \(report.epochs.count) epoch(s) (\(report.stopReason.rawValue)) in \(Format.seconds(report.trainingSeconds)), \(Format.rate(report.rowsPerSecond)) rows/s, \(Format.fixed(report.bytesPerSecond / 1e9, 2)) GB/s; compute \(Format.seconds(report.computeSeconds)), reduce \(Format.seconds(report.reduceSeconds)), step \(Format.seconds(report.stepSeconds))")
        if let m = report.finalMetrics {
            var line = "final: loss \(Format.general(m.loss))"
            if let r2 = m.r2 { line += ", mse \(Format.general(m.mse!)), r2 \(Format.fixed(r2, 4))" }
            if let accuracy = m.accuracy { line += ", accuracy \(Format.fixed(accuracy, 4)), log_loss \(Format.general(m.logLoss!))" }
            if let d = report.trueWeightDistance { line += "; distance to the true weights \(Format.general(d))" }
            print(line)
        }
        let placement = report.placement
        print("workers: \(placement.workers), \(placement.pinned ? "pinned to PUs \(placement.units)" : "unpinned")\(placement.note.map { " (\($0))" } ?? ""); chunks of \(report.chunkRows) rows")
    }
}

/// How to train.
struct TrainingOptions: ParsableArguments {
    @Option(help: "Rows per minibatch (one optimizer step each).") var batchSize: Int = 16_384
    @Option(help: "Passes over the training data.") var epochs: Int = 10
    @Option(help: "Workers (default: every allowed core, no more than a cgroup CPU quota allows). More than the cores is allowed; they share.") var workers: Int?
    @Flag(inversion: .prefixedNo, help: "Pin workers to cores with hwloc.") var bind = true
    @Option(help: "Share of the rows held out for validation, in [0, 1).") var validation: Double = 0.1
    @Option(help: "Stop after this many epochs without improvement of the validation loss (keeps the best weights).")
    var earlyStopping: Int?
    @Option(help: ArgumentHelp("Rows per partial gradient (default: a power of two from 128 to 4096 chosen from the model's size and the batch size, at least 64 chunks a minibatch where it can).",
                               discussion: "Results are bitwise the same for any --workers at a given chunk size; a different chunk size sums the same gradient in a different order."))
    var chunkRows: Int?

    func validate() throws {
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
        if epochs < 1 { throw ValidationError("--epochs must be at least 1") }
        if let workers, workers < 1 { throw ValidationError("--workers must be at least 1") }
        if !(0..<1).contains(validation) { throw ValidationError("--validation must be in [0, 1), got \(validation)") }
        if let earlyStopping, earlyStopping < 1 { throw ValidationError("--early-stopping must be at least 1") }
        if let chunkRows, chunkRows < 1 { throw ValidationError("--chunk-rows must be at least 1") }
        if earlyStopping != nil && validation == 0 { throw ValidationError("--early-stopping needs validation data (--validation > 0)") }
    }

    func configuration(seed: UInt64, workers: Int) -> FitConfiguration {
        FitConfiguration(batchSize: batchSize, epochs: epochs, workers: workers, bind: bind, seed: seed, chunkRows: chunkRows,
                         earlyStopping: earlyStopping.map { .init(patience: $0) })
    }
}


func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }

/// The schedule's state as JSON.
func scheduleState(_ schedule: EpochSchedule) throws -> Data {
    switch schedule {
    case .stepping(let s): try JSONEncoder().encode(s.stateDict())
    case .plateau(let p): try JSONEncoder().encode(p.stateDict())
    }
}

func loadScheduleState(_ data: Data, into schedule: EpochSchedule) throws {
    let state = try JSONDecoder().decode([String: StateValue].self, from: data)
    switch schedule {
    case .stepping(let s): try s.loadStateDict(state)
    case .plateau(let p): try p.loadStateDict(state)
    }
}

/// Ctrl-C: stop after the current minibatch (and write the checkpoint, if one was asked for).
enum InterruptFlag {
    static let shared = CancellationFlag()
    static func install() -> CancellationFlag {
        signal(SIGINT) { _ in InterruptFlag.shared.cancel() }
        return shared
    }
}

/// Training stopped on Ctrl-C.
struct InterruptedError: Error, CustomStringConvertible {
    let checkpoint: String?
    var description: String {
        "interrupted" + (checkpoint.map { "; resume with --resume \($0)" } ?? " (no --checkpoint was given: progress is lost)")
    }
}

/// A one-line progress bar, redrawn in place at most ten times a second: the epoch, its share
/// done, rows per second, the last minibatch's loss, and the time left.
final class ProgressBar {
    let enabled: Bool
    let epochs: Int
    private let start = ContinuousClock.now
    private var lastDraw = ContinuousClock.now
    private var drawn = false

    init(enabled: Bool, epochs: Int) {
        self.enabled = enabled
        self.epochs = epochs
    }

    func update(_ progress: BatchProgress) {
        guard enabled, ContinuousClock.now - lastDraw > .milliseconds(100) else { return }
        lastDraw = ContinuousClock.now
        let position = progress.position
        let doneInEpoch = Double(position.batch + 1) / Double(progress.batchesPerEpoch)
        let overall = (Double(position.epoch - 1) + doneInEpoch) / Double(epochs)
        let elapsed = seconds(ContinuousClock.now - start)
        let width = 24, filled = Int(doneInEpoch * Double(width))
        let bar = String(repeating: "=", count: filled) + (filled < width ? ">" : "") + String(repeating: " ", count: max(0, width - filled - 1))
        let rate = Double(progress.rowsDone) / max(elapsed, 1e-9)
        let eta = overall > 0 ? elapsed * (1 - overall) / overall : 0
        print("\r[\(bar)] epoch \(position.epoch)/\(epochs) \(Int(doneInEpoch * 100))%  \(Format.rate(rate)) rows/s  loss \(Format.general(progress.loss))  ETA \(Format.seconds(eta))   ", terminator: "")
        fflush(nil)
        drawn = true
    }

    func clear() {
        guard drawn else { return }
        print("\r" + String(repeating: " ", count: 100) + "\r", terminator: "")
        drawn = false
    }
}

extension EarlyStoppingState {
    /// JSON that keeps every value exactly (a NaN or infinite loss included, as a string).
    func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try encoder.encode(self)
    }

    static func decode(_ data: Data) throws -> EarlyStoppingState {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try decoder.decode(EarlyStoppingState.self, from: data)
    }
}
