import ArgumentParser
import DataParallel

/// How to train.
struct TrainingOptions: ParsableArguments {
    @Option(help: "Rows per minibatch (one optimizer step each). Default: all the training rows for lbfgs; otherwise 16,384, or about a 64th of the rows (32 to 16,384) on fewer than 1,048,576.")
    var batchSize: Int?
    @Option(help: "The most passes over the training data. Default: 100 for lbfgs (each pass up to --max-iter iterations), 200 on fewer than 1,048,576 rows, else 10; training stops sooner when the loss converges (--tol).")
    var epochs: Int?
    @Option(parsing: .unconditional, help: "Stop when the training loss improved by less than this (relative to max(|loss|, 1)) for --tol-epochs epochs in a row; 0 runs every epoch. Default: 1e-6 for lbfgs, 1e-4 otherwise.")
    var tol: Double?
    @Option(help: "Epochs without an improvement of --tol before stopping (default: 2 for lbfgs, 5 otherwise).")
    var tolEpochs: Int?
    @Option(help: "Workers (default: every allowed core, no more than a cgroup CPU quota allows). More than the cores is allowed; they share.") var workers: Int?
    @Flag(inversion: .prefixedNo, help: "Pin workers to cores with hwloc.") var bind = true
    @Option(parsing: .unconditional, help: "Share of the rows held out for validation, in [0, 1): at random (stratified by class for classifiers) for files, the last rows for synthetic data unless --shuffle.")
    var validation: Double = 0.1
    @Option(help: ArgumentHelp("Validate on this file instead of holding out rows of --data (same columns and format options).", valueName: "file"))
    var validationData: String?
    @Flag(inversion: .prefixedNo, help: "Shuffle the rows once (seeded) before the split and training. Default: on for files, off for synthetic data (its rows are independent draws).")
    var shuffle: Bool?
    @Flag(inversion: .prefixedNo, help: "Standardize the features with the training rows' means and scales; saved weights take raw features (the scaling is folded into them). Default: on for files, off for synthetic data.")
    var standardize: Bool?
    @Option(help: "Stop after this many epochs without improvement of the validation loss (keeps the best weights).")
    var earlyStopping: Int?
    @Option(help: ArgumentHelp("With --checkpoint, write at most one checkpoint per this many seconds (0: at every epoch); always on Ctrl-C and at the end.", valueName: "seconds"))
    var checkpointEvery: Double = 0
    @Option(help: ArgumentHelp("Rows per partial gradient (default: a power of two from 128 to 4096 chosen from the model's size and the batch size, at least 64 chunks a minibatch where it can).",
                               discussion: "Results are bitwise the same for any --workers at a given chunk size; a different chunk size sums the same gradient in a different order."))
    var chunkRows: Int?

    @Option(help: ArgumentHelp("Average the weights at the end of each epoch from this one on (stochastic weight averaging, torch.optim.swa_utils.AveragedModel); --save writes the average, and the summary scores it beside the last weights.", valueName: "epoch"))
    var swaStart: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Keep an exponential moving average of the weights, updated after every minibatch: average ← decay·average + (1 − decay)·weights (e.g. 0.999); --save writes the average, and the summary scores it beside the last weights.", valueName: "decay"))
    var emaDecay: Double?

    static let limit = 1 << 40

    func validate() throws {
        if let batchSize, !(1...Self.limit).contains(batchSize) { throw ValidationError("--batch-size must be at least 1") }
        if let epochs, !(1...1_000_000_000).contains(epochs) { throw ValidationError("--epochs must be at least 1 (and at most 1,000,000,000)") }
        if let workers, !(1...4096).contains(workers) { throw ValidationError("--workers must be at least 1 (and at most 4096)") }
        if !(0..<1).contains(validation) { throw ValidationError("--validation must be in [0, 1), got \(validation)") }
        if let tol, !(tol >= 0 && tol.isFinite) { throw ValidationError("--tol must be finite and 0 or more, got \(tol)") }
        if let tolEpochs, !(1...1_000_000).contains(tolEpochs) { throw ValidationError("--tol-epochs must be at least 1") }
        if let earlyStopping, !(1...1_000_000).contains(earlyStopping) { throw ValidationError("--early-stopping must be at least 1") }
        if let chunkRows, !(1...Self.limit).contains(chunkRows) { throw ValidationError("--chunk-rows must be at least 1") }
        if !(checkpointEvery >= 0 && checkpointEvery.isFinite) { throw ValidationError("--checkpoint-every must be 0 or more seconds") }
        if let swaStart, !(1...1_000_000_000).contains(swaStart) { throw ValidationError("--swa-start must be an epoch, 1 or more") }
        if let emaDecay, !(0...1).contains(emaDecay) { throw ValidationError("--ema-decay must be in [0, 1], got \(emaDecay)") }
        if swaStart != nil && emaDecay != nil { throw ValidationError("--swa-start and --ema-decay are two ways of averaging the weights; give one") }
        if earlyStopping != nil && validation == 0 && validationData == nil {
            throw ValidationError("--early-stopping needs validation data (--validation > 0 or --validation-data)")
        }
    }

    func configuration(seed: UInt64, workers: Int, defaults: RunDefaults, penalty: FitConfiguration.Penalty) -> FitConfiguration {
        FitConfiguration(batchSize: defaults.batchSize, epochs: defaults.epochs, workers: workers, bind: bind, seed: seed, chunkRows: chunkRows,
                         earlyStopping: earlyStopping.map { .init(patience: $0) }, penalty: penalty, convergence: defaults.convergence)
    }
}
