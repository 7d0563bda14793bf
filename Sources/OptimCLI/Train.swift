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

            On a file, only --data (and --target for CSV) is needed: the model follows the \
            targets (two distinct values: logistic; text labels or a few whole numbers: softmax; \
            otherwise linear regression), 10% of the rows are held out at random (stratified by \
            class), the rows are shuffled and the features standardized, and linear models train \
            full-batch with LBFGS until the loss converges (on sparse rows, linear and logistic \
            regression with trust-region Newton). Each choice is printed with the option that \
            changes it.

            Under mpirun, an optim built with the trait MPI trains on every rank, each its share \
            of every minibatch, to bitwise the weights of one process; rank 0 prints and writes.

            Examples:
              optim train
              optim train --data iris.csv --target species --save model.safetensors
              optim train --data train.svm --validation-data test.svm
              optim train --rows 4000000 --features 32 \\
                  --optimizer sgd --lr 0.05 --momentum 0.9
              optim train --task logistic --optimizer adamw --lr 0.01 \\
                  --weight-decay 0.05 --scheduler cosine
              optim train --data train.npy --model mlp --hidden 64 --epochs 20 --json
              optim train --data houses.csv.gz --target price --l2 0.001
              mpirun -np 4 optim train --data train.npy --save model.safetensors
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

    @Option(help: ArgumentHelp("Precision of the training: float32 (torch's default) or float64 (scikit-learn's).",
                               discussion: "float64 reads the data file and keeps the data, the parameters and the optimizer's state in double precision, as ill-conditioned fits need; it reads twice the bytes per epoch. The saved weights are F64 tensors; evaluate and predict compute in float64 from them. --checkpoint, --resume, --swa-start and --ema-decay are float32 only for now."))
    var dtype: DType = .float32

    @Option(help: "Write a checkpoint (parameters, optimizer, schedule and early-stopping state, position) at every epoch and on Ctrl-C.")
    var checkpoint: String?

    @Option(help: "Resume from a checkpoint of the same run (same data, model, optimizer, batch size and seed): the final weights are bitwise those of an uninterrupted run.")
    var resume: String?

    /// Messages for the user: stdout normally, stderr with --json (whose stdout is JSON only).
    func say(_ line: String) {
        if quiet { return }
        if json {
            var standardError = StandardError()
            print(line, to: &standardError)
        } else {
            print(line)
        }
    }

    func warn(_ line: String) {
        var standardError = StandardError()
        print("optim: warning: \(line)", to: &standardError)
    }

    /// What this run reads and writes.
    var files: FilePlan {
        var plan = FilePlan()
        plan.read("--data", data.data)
        plan.read("--validation-data", training.validationData)
        plan.read("--resume", resume)
        plan.write("--save", save)
        plan.write("--checkpoint", checkpoint)
        plan.sharing = [["--checkpoint", "--resume"]]
        return plan
    }

    func run() throws {
        switch dtype {
        case .float32: try train(Float.self)
        case .float64:
            // Checkpoints hold float32 state; a float64 run has none yet, and says so before any work.
            for (flag, given) in [("--checkpoint", checkpoint != nil), ("--resume", resume != nil),
                                  ("--swa-start", training.swaStart != nil), ("--ema-decay", training.emaDecay != nil)] where given {
                throw UsageError(message: "\(flag) is float32 only for now: drop it, or train with --dtype float32", command: Train.self)
            }
            try train(Double.self)
        }
    }

    /// The run in `Scalar`: the data converted to it after loading, the parameters, the
    /// optimizer's state and the saved weights in it.
    func train<Scalar: TrainingScalar>(_: Scalar.Type) throws {
        // Every output path checked before any work (and never onto an input).
        try files.check(Train.self)
        // Under mpirun (see Launch): every rank trains its share; rank 0 alone writes files.
        let launch = Launch.current
        let lock = try launch.isLead ? checkpoint.map { try CheckpointLock(checkpoint: $0) } : nil
        defer { withExtendedLifetime(lock) {} }
        let interrupted = InterruptFlag.install(cluster: launch.size > 1)
        // A closed stdout (| head) must not kill the run before it saves.
        signal(SIGPIPE, SIG_IGN)
        let workers = training.workers ?? launch.defaultWorkers
        let loadStart = ContinuousClock.now
        // A rank that cannot read its data says so, and every rank stops with it.
        let prepared = try launch.agree { try prepare(workers: workers, as: Scalar.self) }
        let loadSeconds = seconds(ContinuousClock.now - loadStart)
        let dataset = prepared.source, model = prepared.choice.model
        let trainingData = prepared.training, validationData = prepared.validation
        let defaults = RunDefaults(options: training, optimizer: optimizer, model: model, trainingRows: trainingData.rows,
                                   newton: trainingData.isSparse && (self.model.l1 ?? 0) == 0 && newtonFits(model))
        let classifier = prepared.choice.classes != nil
        let penalty = self.model.penalty(trainingRows: trainingData.rows, classifier: classifier, standardization: prepared.standardization)
        let parameters = model.makeParameters(seed: data.seed, as: Scalar.self)
        let optimizer = try self.optimizer.make(parameters, as: defaults.optimizer)
        let epochSchedule = try schedule.make(optimizer, epochs: defaults.epochs)
        var configuration = training.configuration(seed: data.seed, workers: workers, defaults: defaults, penalty: penalty)
        configuration.cluster = launch.cluster
        configuration.processingUnits = launch.hostShare  // ranks sharing a host: each its own cores
        if let fillRows = prepared.fillRows {
            let read = configuration.rowsRead(model: model, trainingRows: trainingData.rows, validationRows: validationData?.rows,
                                              scalarBytes: MemoryLayout<Scalar>.stride)
            fillRows(read.training, read.validation)
        }
        let hyperparameters = OptimizerOptions.hyperparameters(of: optimizer)
        let optimizerSummary = "\(defaults.optimizer.rawValue)(" + hyperparameters.sorted { $0.key < $1.key }
            .filter { !["differentiable", "foreach", "fused", "capturable", "initial_lr"].contains($0.key) }
            .map { "\($0.key)=\($0.value)" }.joined(separator: ", ") + ")"
        // What must match for --resume to continue this very run.
        let identityPenalty = "l2 \(penalty.l2), l1 \(penalty.l1)" + (penalty.featureScales != nil ? " on the raw features' weights" : "")
        let convergenceText = defaults.convergence.map { "tol \($0.tolerance), \($0.patience) epochs" } ?? "off"
        var identity: [String: String] = [
            "data": data.usesFile ? "file" : dataset.name, "rows": "\(dataset.rows)", "features": "\(dataset.features)",
            "model": model.description, "optimizer": optimizerSummary, "batch_size": "\(defaults.batchSize)",
            "seed": "\(data.seed)", "validation": "\(training.validation)",
            "early_stopping": training.earlyStopping.map { "patience \($0)" } ?? "off",
            "penalty": identityPenalty, "shuffle": "\(prepared.shuffled)", "standardize": "\(prepared.standardization != nil)",
            "target": prepared.source.targetName ?? "", "convergence": convergenceText, "epochs": "\(defaults.epochs)",
            "chunk_rows": training.chunkRows.map { "\($0)" } ?? "auto",
            "class_weight": self.model.classWeight ?? "none", "sample_weight": data.sampleWeight ?? "none",
            "dtype": Scalar.dtypeName,
        ]
        if let path = data.data, path != "-" { identity["data_file"] = fileFingerprint(path) }
        if let path = training.validationData {
            identity["validation_data"] = fileFingerprint(path)
        }
        identity["scheduler"] = schedule.summary(epochs: defaults.epochs)
        // SWA or EMA weights, kept beside the trained ones (and in the checkpoints).
        let average: AveragedModel<Scalar>?
        if let decay = training.emaDecay {
            average = try AveragedModel(parameters, average: .ema(decay: decay))
            identity["averaging"] = "ema, decay \(decay)"
        } else if let start = training.swaStart {
            average = try AveragedModel(parameters)
            identity["averaging"] = "swa from epoch \(start)"
        } else {
            average = nil
        }
        // Checkpoints are float32 (a float64 run was refused them above).
        let run = (parameters as? Parameters<Float>).map {
            TrainingRun(model: model, parameters: $0, optimizer: optimizer as! any Optimizer<Float>, schedule: epochSchedule,
                        average: average as! AveragedModel<Float>?, identity: identity)
        }
        if let resume, let run {
            do {
                configuration.start = try run.resume(from: resume)
            } catch {
                guard case let .anotherRun(key, theirs, ours) = error as? ResumeError else { throw error }
                throw UsageError(message: "--resume \(resume) is from another run: its \(key) is '\(theirs ?? "?")', this run's is '\(ours)'",
                                 command: Train.self)
            }
            say("resuming from \(resume) at epoch \(configuration.start.epoch), minibatch \(configuration.start.batch)")
        }
        let writer = checkpoint.flatMap { path in launch.isLead ? path : nil }.flatMap { path in
            run.map { CheckpointWriter(run: $0, path: path, interval: training.checkpointEvery, epochs: defaults.epochs) }
        }

        let shape = data.usesFile ? ", \(dataset.rows) rows × \(dataset.features) features" : ""
        let dataLine = "data: \(dataset.name)\(prepared.source.targetName.map { ", target \($0)" } ?? "")\(shape) (\(trainingData.rows) training rows\(validationData.map { ", \($0.rows) validation" } ?? "")), loaded in \(Format.seconds(loadSeconds))"
        say(dataLine)
        for note in prepared.source.notes + prepared.notes + defaults.notes { say("  \(note)") }
        for warning in defaults.warnings { warn(warning) }
        let modelLine = "model: \(model.description)\(prepared.choice.classes.map { "; classes \(TargetSummaryList.text($0))" } ?? "")\(prepared.choice.reason.map { " (\($0); --model to choose)" } ?? "")"
        say(modelLine)
        let penaltyText = penalty.isZero ? "" : "; penalty " + [penalty.l2 > 0 ? "l2 \(Format.general(penalty.l2))" : nil, penalty.l1 > 0 ? "l1 \(Format.general(penalty.l1))" : nil].compactMap { $0 }.joined(separator: ", ")
        if defaults.optimizer == .muon {
            say("  muon steps the 2-D weights; the biases take adamw(lr=0.001, weight_decay=0.01), as torch's documentation pairs them")
        }
        if Scalar.self == Double.self { say("  float64: the data, parameters and optimizer state in double precision") }
        let ranks = launch.size > 1 ? "\(launch.size) ranks × " : ""
        say("optimizer: \(optimizerSummary); batch \(defaults.batchSize), up to \(defaults.epochs) epoch(s)\(defaults.convergence.map { ", tol \(Format.general($0.tolerance))" } ?? "")\(penaltyText); \(ranks)\(workers) worker(s)")
        if json {
            var object: [String: Any] = [
                "event": "config", "data": data.usesFile ? "file" : dataset.name, "rows": dataset.rows, "features": dataset.features,
                "training_rows": trainingData.rows, "validation_rows": validationData?.rows ?? 0, "model": ModelDescriptionText.object(model),
                "optimizer": defaults.optimizer.rawValue, "hyperparameters": hyperparameters, "batch_size": defaults.batchSize,
                "epochs": defaults.epochs, "workers": workers, "seed": data.seed, "shuffle": prepared.shuffled,
                "standardize": prepared.standardization != nil, "l2": penalty.l2, "l1": penalty.l1, "scheduler": schedule.scheduler.rawValue,
                "tol": defaults.convergence?.tolerance ?? 0, "tol_epochs": defaults.convergence?.patience ?? 0,
                "dtype": Scalar.dtypeName,
            ]
            if let target = prepared.source.targetName { object["target"] = target }
            if let names = prepared.source.featureNames { object["columns"] = names }
            if let classes = prepared.choice.classes { object["classes"] = classes }
            if let reason = prepared.choice.reason { object["model_reason"] = reason }
            if let path = training.validationData { object["validation_data"] = path }
            if !quiet { print(Format.jsonLine(object)) }
        }
        let bar = ProgressBar(enabled: !json && !quiet && isatty(STDOUT_FILENO) != 0, epochs: defaults.epochs)
        let tiny = trainingData.rows < 10_000
        let report: TrainingReport
        do {
            report = try fit(
                model, parameters: parameters, data: trainingData, validation: validationData, optimizer: optimizer,
                schedule: epochSchedule, configuration: configuration, cancellation: interrupted,
                progress: { epoch in
                    if let start = training.swaStart, epoch.epoch >= start { average?.updateParameters(parameters) }
                    bar.clear()
                    if json {
                        if !quiet { print(Format.jsonLine(epochObject(epoch))) }
                    } else if !quiet {
                        print(epochLine(epoch, of: defaults.epochs, rates: !tiny))
                    }
                    fflush(nil)  // every line reaches a pipe as the epoch ends
                },
                onBatch: { batch in
                    if training.emaDecay != nil { average?.updateParameters(parameters) }
                    bar.update(batch)
                },
                checkpoint: { position in try writer?.offer(position) }
            )
        } catch {
            bar.clear()
            guard case let .diverged(epoch, batch, loss, report) = error else { throw error }
            // The fit left the weights of the last finite loss in place: nothing trained is lost.
            if let save, launch.isLead {
                try saveWeights(to: save, prepared, parameters: parameters, optimizer: optimizerSummary, hyperparameters: hyperparameters,
                                penalty: penalty, report: report, startEpoch: configuration.start.epoch)
                warn("saved the weights of the last finite loss (before epoch \(epoch), minibatch \(batch)) to \(save)")
            }
            let lr = optimizer.learningRate(group: 0)
            throw DivergedError(epoch: epoch, batch: batch, loss: loss, hint: defaults.optimizer == .lbfgs
                ? "standardize the features (--standardize) or add a penalty (--l2)"
                : "lower the learning rate (--lr \(Format.general(lr / 10)); it is \(Format.general(lr)))", epochs: report.epochs.count)
        }
        bar.clear()
        try writer?.flush()
        if let writer, writer.written > 0 {
            say("checkpoints: \(writer.written) written to \(writer.path) in \(Format.seconds(writer.totalSeconds)) (\(Format.seconds(writer.totalSeconds / Double(writer.written))) each)")
        }
        let scoredOn = validationData != nil ? (training.validationData != nil ? "the validation file" : "the \(validationData!.rows) held-out rows")
            : "the training rows (nothing held out)"
        if json {
            var object = summaryObject(report)
            object["metrics_on"] = scoredOn
            object["last_epoch"] = report.epochs.last?.epoch ?? configuration.start.epoch - 1
            print(Format.jsonLine(object))
        } else {
            printSummary(report, scoredOn: scoredOn, startEpoch: configuration.start.epoch, rates: !tiny)
        }
        if report.stopReason == .cancelled {
            throw InterruptedError(checkpoint: checkpoint)
        }
        if report.stopReason == .completed, let convergence = defaults.convergence, report.epochs.count == defaults.epochs,
           training.epochs == nil, defaults.optimizer == .lbfgs || defaults.optimizer == .newton {
            warn("the loss was still improving by more than --tol \(Format.general(convergence.tolerance)) after \(defaults.epochs) epochs: raise --epochs")
        }
        // The averaged weights are the run's result when there are any.
        var result = parameters
        if let average {
            if average.nAveraged > 0 {
                result = average.averaged
                let kind = training.emaDecay.map { "EMA, decay \(Format.general($0)), over \(average.nAveraged) minibatches" }
                    ?? "SWA of \(average.nAveraged) epoch(s) from epoch \(training.swaStart ?? 1)"
                if let validationData {
                    let averaged = try validationLoss(model, average.averaged, on: validationData, workers: workers, like: configuration,
                                                  chunkRows: report.chunkRows)
                    let last = try validationLoss(model, parameters, on: validationData, workers: workers, like: configuration, chunkRows: report.chunkRows)
                    say("averaged weights (\(kind)): validation loss \(Format.general(averaged)); the last weights' \(Format.general(last))")
                } else {
                    say("averaged weights (\(kind))")
                }
            } else {
                warn("--swa-start \(training.swaStart ?? 0): the run ended at epoch \(report.epochs.last?.epoch ?? 0) before averaging began; the last weights are the result")
            }
        }
        if let save, launch.isLead {
            let start = ContinuousClock.now
            try saveWeights(to: save, prepared, parameters: result, optimizer: optimizerSummary, hyperparameters: hyperparameters,
                            penalty: penalty, report: report, startEpoch: configuration.start.epoch)
            let took = Format.seconds(seconds(ContinuousClock.now - start))
            say("saved the weights to \(save) in \(took)\(prepared.standardization != nil ? " (the standardization folded in: they take raw features)" : "")")
        }
    }

    /// Writes the weights (the standardization folded in) with their metadata.
    func saveWeights<Scalar: TrainingScalar>(to path: String, _ prepared: PreparedData<Scalar>, parameters: Parameters<Scalar>, optimizer: String,
                     hyperparameters: [String: String], penalty: FitConfiguration.Penalty, report: TrainingReport, startEpoch: Int) throws {
        let model = prepared.choice.model
        var notes = savedNotes(prepared, optimizer: optimizer, hyperparameters: hyperparameters, penalty: penalty,
                               report: report, startEpoch: startEpoch)
        let saved = Parameters<Scalar>(shapes: model.parameterShapes)
        saved.values.assign(parameters.values.array)
        if let standardization = prepared.standardization {
            standardization.fold(into: saved)
            notes["standardization"] = String(decoding: try JSONEncoder.canonical.encode(standardization), as: UTF8.self)
            notes["standardization_folded"] = "true"
        }
        try Weights.save(model, saved, notes: notes, to: path)
    }

    /// What the weights file records beside the tensors, for `evaluate` and `predict` (classes,
    /// target, columns, libsvm base, weight column, split) and for the record (the optimizer and
    /// every hyperparameter, the penalty, epochs, final training loss).
    func savedNotes<Scalar>(_ prepared: PreparedData<Scalar>, optimizer: String, hyperparameters: [String: String], penalty: FitConfiguration.Penalty,
                    report: TrainingReport, startEpoch: Int) -> [String: String] {
        var notes: [String: String] = ["optimizer": optimizer, "epochs": "\(report.epochs.last?.epoch ?? startEpoch - 1)",
                                       "data": prepared.source.name]
        if let loss = report.epochs.last?.trainingLoss { notes["training_loss"] = "\(loss)" }
        if let classes = prepared.choice.classes { notes["classes"] = jsonText(classes) }
        if let target = prepared.source.targetName { notes["target"] = target }
        if let names = prepared.source.featureNames { notes["columns"] = jsonText(names) }
        if let base = prepared.source.libsvmBase { notes["libsvm_base"] = "\(base)" }
        if let column = data.sampleWeight { notes["sample_weight"] = column }
        if let classWeight = model.classWeight { notes["class_weight"] = classWeight }
        let heldOut = training.validationData == nil ? training.validation : 0
        notes["split"] = jsonText(["seed": "\(data.seed)", "validation": "\(heldOut)", "shuffle": "\(prepared.shuffled)",
                                   "stratified": "\(prepared.choice.classes != nil && prepared.shuffled)", "rows": "\(prepared.source.rows)"])
        notes["hyperparameters"] = jsonText(hyperparameters)
        notes["dtype"] = dtype.rawValue
        notes["penalty"] = jsonText(["l2": "\(penalty.l2)", "l1": "\(penalty.l1)", "on": penalty.featureScales != nil ? "raw features" : "features as trained"])
        return notes
    }
}

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }

/// Ctrl-C, and SIGTERM and SIGHUP (what `timeout`, `docker stop`, batch schedulers and a closed
/// terminal send): stop after the current minibatch (and write the checkpoint, if one was asked
/// for).
enum InterruptFlag {
    static let shared = CancellationFlag()
    /// - Parameter cluster: a rank of an mpirun job: SIGUSR1 too, which mpirun forwards to every
    ///   rank (`kill -USR1 <mpirun's pid>`: a stop with time to checkpoint, where Ctrl-C reaches
    ///   the ranks as SIGTERM followed by SIGKILL about a second later).
    static func install(cluster: Bool = false) -> CancellationFlag {
        var signals = sigset_t()
        sigemptyset(&signals)
        for signalNumber in [SIGINT, SIGTERM, SIGHUP] + (cluster ? [SIGUSR1] : []) {
            signal(signalNumber) { _ in InterruptFlag.shared.cancel() }
            sigaddset(&signals, signalNumber)
        }
        // A parent that blocks them (some test runners and job launchers do) would otherwise keep
        // them pending until the run ends, and Ctrl-C would never reach it.
        pthread_sigmask(SIG_UNBLOCK, &signals, nil)
        return shared
    }
}

/// The mean loss of `model` with `parameters` on `data`, data-parallel (what an epoch's
/// validation loss is, for weights the fit did not score: averaged ones), on the fit's cluster and
/// in its chunks (so that a rank reads the validation rows it holds).
func validationLoss<M: Model, Scalar: TrainingScalar>(_ model: M, _ parameters: Parameters<Scalar>, on data: Dataset<Scalar>,
                                                      workers: Int, like fit: FitConfiguration, chunkRows: Int) -> Double {
    let evaluator = GradientEvaluator<M, Scalar>(model: model, workers: workers, bind: fit.bind, chunkRows: chunkRows, maxRows: data.rows,
                                                 cluster: fit.cluster)
    return evaluator.evaluate(parameters, on: data)
}

/// The precision a command computes in.
enum DType: String, ExpressibleByArgument, CaseIterable {
    case float32, float64
}

/// Whether trust-region Newton fits `model`: z = Wx + b with one output, and a loss with curvature
/// (squared error, logistic).
func newtonFits(_ model: any Model) -> Bool {
    guard let linear = model as? any SparseLinearModel else { return false }
    return linear.sparseWidth == 1 && linear.parameterCount == linear.inputFeatures + 1 && (model.loss == .mse || model.loss == .bceWithLogits)
}
