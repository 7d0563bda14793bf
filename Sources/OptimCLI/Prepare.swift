import ArgumentParser
import DataParallel
import Datasets
import Foundation
import Models
import Optim

/// Everything between a user's file and a fit: the model the targets call for, the split
/// (random and stratified for classes, seeded), the shuffled and standardized training rows,
/// and the defaults that fit the data's size.
struct PreparedData<Scalar: TrainingScalar> {
    var source: DataSource
    var choice: ModelChoice
    var training: TrainingRows<Scalar>
    var validation: TrainingRows<Scalar>?
    var split: RowSplit?
    var standardization: Standardization?
    var shuffled: Bool
    /// What was decided and why, for the user.
    var notes: [String]
    /// For a rank of an mpirun job: writes the features of the training and validation rows it
    /// reads (`FitConfiguration.rowsRead`), which were left unwritten; nil when all are there.
    var fillRows: ((_ training: [Range<Int>], _ validation: [Range<Int>]) -> Void)? = nil
}

/// What was loaded, for messages and the saved weights' notes.
struct DataSource {
    var name: String
    var rows: Int
    var features: Int
    var targetName: String?
    var featureNames: [String]?
    var libsvmBase: Int?
    /// What loading decided, for the user.
    var notes: [String]

    init<Scalar>(_ loaded: LoadedData<Scalar>) {
        name = loaded.dataset.name; rows = loaded.dataset.rows; features = loaded.dataset.features
        targetName = loaded.targetName; featureNames = loaded.featureNames; libsvmBase = loaded.libsvmBase; notes = loaded.notes
    }

    init<Scalar>(_ loaded: LoadedSparse<Scalar>) {
        name = loaded.dataset.name; rows = loaded.dataset.rows; features = loaded.dataset.features
        libsvmBase = loaded.libsvmBase; notes = loaded.notes
    }
}

/// Rows to train on or score: dense, or sparse (CSR).
enum TrainingRows<Scalar: TrainingScalar> {
    case dense(Dataset<Scalar>)
    case sparse(SparseDataset<Scalar>)

    var rows: Int {
        switch self {
        case .dense(let data): data.rows
        case .sparse(let data): data.rows
        }
    }

    var isSparse: Bool {
        if case .sparse = self { return true }
        return false
    }
}

/// Whether a copy of `bytes` may be made: half the memory budget (shuffling and standardizing
/// copy the data, which stays mapped or loaded beside it).
func fitsInMemory(bytes: Int) -> Bool { bytes >= 0 && bytes <= MemoryBudget.current.bytes / 2 }

extension Train {
    /// Loads the data, chooses the model, splits, shuffles and standardizes.
    func prepare<Scalar: TrainingScalar>(workers: Int, as _: Scalar.Type) throws -> PreparedData<Scalar> {
        var loaded: LoadedData<Scalar>
        // A rank of an mpirun job writes only the rows it reads, once the fit's settings say which.
        let cluster = Launch.launchedRanks > 1
        switch try data.loadRows(workers: workers, bind: training.bind, pending: cluster, as: Scalar.self) {
        case .dense(let dense): loaded = dense
        case .sparse(let sparse): return try prepareSparse(sparse, workers: workers)
        }
        var dataset = loaded.dataset
        var notes = loaded.notes
        let choice = try model.make(for: dataset, task: data.usesFile ? nil : data.syntheticTask)
        let isFile = data.usesFile
        let copyBytes = dataset.rows.multipliedReportingOverflow(by: (dataset.features + dataset.targetsPerRow) * MemoryLayout<Scalar>.stride)
        let canCopy = !copyBytes.overflow && fitsInMemory(bytes: copyBytes.partialValue)
        var shuffle = training.shuffle ?? isFile
        var standardize = training.standardize ?? isFile
        if (shuffle || standardize) && !canCopy {
            notes.append("the data is more than half of \(MemoryBudget.current.source): rows are not shuffled or standardized (that copies them); minibatches are still visited in a random order")
            shuffle = false
            standardize = false
        }
        if choice.classIndex != nil && !canCopy {
            throw DataFileError(dataset.name, nil, "the class labels need a copy of the data as class indices 0, 1, ..., which does not fit in memory")
        }

        var validationFile: Dataset<Scalar>?
        if let path = training.validationData {
            let other = try data.load(workers: workers, bind: training.bind, path: path, width: loaded.libsvmBase != nil ? dataset.features : nil,
                                      libsvmBase: loaded.libsvmBase, as: Scalar.self).dataset
            guard other.features == dataset.features, other.targetsPerRow == dataset.targetsPerRow else {
                throw DataFileError(path, nil, "has \(other.features) features and \(other.targetsPerRow) target(s) per row; --data \(dataset.name) has \(dataset.features) and \(dataset.targetsPerRow)")
            }
            validationFile = other
        }

        // The split: random (stratified by class) for files, the tail for synthetic rows (they are
        // independent draws) unless --shuffle.
        let fraction = training.validationData == nil ? training.validation : 0
        var classes: [Int]?
        if let index = choice.classIndex ?? (choice.classes != nil ? { $0 } : nil) {
            classes = (0..<dataset.rows).map { Int(index(Float(dataset.target($0)))) }
        }
        let copies = shuffle || standardize || choice.classIndex != nil
        // Before any copy, so that a message's row is the file's (without one, the fit checks).
        // (A file read in parts, CSV or libsvm, has refused any value that is not finite.)
        if copies && loaded.scattered == nil { try dataset.validateFinite() }
        let split = copies ? RowSplit(rows: dataset.rows, validationFraction: fraction, seed: data.seed, classes: classes, shuffle: shuffle)
            : RowSplit(training: [], validation: [])
        guard !copies || !split.training.isEmpty else {
            throw ValidationError("--validation \(fraction) leaves no training rows of \(dataset.rows)")
        }
        let stratified = classes != nil && shuffle && fraction > 0
        dataset = try weighted(dataset, loaded: loaded, choice: choice, classes: classes,
                                   trainingRows: { copies ? split.training : Array(0..<(dataset.rows - Int((Double(dataset.rows) * fraction).rounded()))) },
                                   notes: &notes)
        var standardization: Standardization?
        if standardize {
            let scaler = if let scattered = loaded.scattered {
                Standardization(of: scattered, rows: split.training.sorted(), workers: workers, bind: training.bind)
            } else {
                Standardization(of: dataset, rows: split.training.sorted(), workers: workers, bind: training.bind)
            }
            if !scaler.isIdentity { standardization = scaler }
        }
        let trainingData: Dataset<Scalar>, validationData: Dataset<Scalar>?
        var fillRows: (([Range<Int>], [Range<Int>]) -> Void)?
        if copies && loaded.scattered == nil { loaded.pending?.fillAll() }  // the copy reads every row (a CSV in parts: fetches)
        if !copies {
            // Nothing to copy: the rows are used in place (memory-mapped files, synthetic data).
            (trainingData, validationData) = try dataset.split(validationFraction: fraction)
            if let pending = loaded.pending {
                let offset = trainingData.rows
                fillRows = { training, validation in pending.fill(rows: training + validation.map { ($0.lowerBound + offset)..<($0.upperBound + offset) }) }
            }
        } else if cluster {
            // The copies' targets now, their features where this rank reads them.
            let pendingTraining = try dataset.pendingGather(rows: split.training, name: "\(dataset.name) (training)", standardization: standardization,
                                                            targetIndex: choice.classIndex, workers: workers, bind: training.bind, scattered: true,
                                                            source: loaded.scattered)
            let pendingValidation = split.validation.isEmpty ? nil
                : try dataset.pendingGather(rows: split.validation, name: "\(dataset.name) (validation)", standardization: standardization,
                                            targetIndex: choice.classIndex, workers: workers, bind: training.bind, scattered: true,
                                            source: loaded.scattered)
            (trainingData, validationData) = (pendingTraining.dataset, pendingValidation?.dataset)
            fillRows = { training, validation in
                pendingTraining.fill(rows: training)
                pendingValidation?.fill(rows: validation)
            }
        } else {
            trainingData = try dataset.gathered(rows: split.training, name: "\(dataset.name) (training)", standardization: standardization,
                                                targetIndex: choice.classIndex, workers: workers, bind: training.bind)
            validationData = split.validation.isEmpty ? nil
                : try dataset.gathered(rows: split.validation, name: "\(dataset.name) (validation)", standardization: standardization,
                                       targetIndex: choice.classIndex, workers: workers, bind: training.bind)
        }
        var validation = validationData
        if let other = validationFile {
            let labels = other.labels
            // Text labels are indices into each file's own sorted names: map them by name.
            var index = choice.classIndex
            if let names = choice.classes, let labels {
                let position = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, Float($0)) })
                if let unknown = labels.first(where: { position[$0] == nil }) {
                    throw DataFileError(other.name, nil, "class '\(unknown)' does not occur in the training data (its classes: \(names.joined(separator: ", ")))")
                }
                let table = labels.map { position[$0]! }
                index = { table[Int($0)] }
            } else if let names = choice.classes, let summary = Optional(TargetSummary(other)), let values = summary.distinct {
                let known = Set(names)
                if let unknown = values.map(TargetSummary.name).first(where: { !known.contains($0) }) {
                    throw DataFileError(other.name, nil, "class \(unknown) does not occur in the training data (its classes: \(names.joined(separator: ", ")))")
                }
                let table = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, Float($0)) })
                index = { table[TargetSummary.name($0)] ?? -1 }
            }
            validation = try other.gathered(rows: Array(0..<other.rows), name: other.name, standardization: standardization,
                                            targetIndex: index, workers: workers, bind: training.bind)
        }
        if shuffle {
            notes.append(stratified ? "held out \(split.validation.count) rows at random, stratified by class (seed \(data.seed)); training rows shuffled"
                         : fraction > 0 ? "held out \(split.validation.count) rows at random (seed \(data.seed)); training rows shuffled"
                         : "training rows shuffled (seed \(data.seed))")
        }
        if standardization != nil { notes.append("features standardized with the training rows' means and scales (--no-standardize to train on them as they are)") }
        loaded.notes = []
        return PreparedData(source: DataSource(loaded), choice: choice, training: .dense(trainingData), validation: validation.map { .dense($0) },
                            split: copies && fraction > 0 ? split : nil,
                            standardization: standardization, shuffled: shuffle, notes: notes, fillRows: fillRows)
    }
}

extension Train {
    /// `dataset` with each row's weight in the loss: its `--sample-weight` times its class's
    /// `--class-weight` (balanced: training rows / (classes × the class's training rows), as
    /// scikit-learn's `class_weight="balanced"`); unchanged without either.
    func weighted<Scalar: TrainingScalar>(_ dataset: Dataset<Scalar>, loaded: LoadedData<Scalar>, choice: ModelChoice, classes: [Int]?,
                                          trainingRows rows: () -> [Int], notes: inout [String]) throws -> Dataset<Scalar> {
        var weights = loaded.sampleWeights
        if let sampleWeight = data.sampleWeight, let values = weights {
            notes.append("rows weighted by the column '\(sampleWeight)' (total \(Format.general(values.reduce(0) { $0 + Double($1) })))")
        }
        if let spec = model.classWeight {
            guard let names = choice.classes, let classes else {
                throw ValidationError("--class-weight applies to classifiers; \(choice.model.description) fits values")
            }
            var perClass = [Float](repeating: 1, count: names.count)
            if spec == "balanced" {
                let trainingRows = rows()
                var counts = [Int](repeating: 0, count: names.count)
                for row in trainingRows { counts[classes[row]] += 1 }
                for c in counts.indices where counts[c] > 0 {
                    perClass[c] = Float(Double(trainingRows.count) / (Double(names.count) * Double(counts[c])))
                }
            } else {
                for item in spec.split(separator: ",") {
                    let parts = item.split(separator: "=", maxSplits: 1).map { String($0).trimmingCharacters(in: .whitespaces) }
                    guard parts.count == 2, let value = Float(parts[1]), value >= 0, value.isFinite else {
                        throw ValidationError("--class-weight takes 'balanced' or class=weight,... (weights ≥ 0), got '\(item)'")
                    }
                    guard let index = names.firstIndex(of: parts[0]) else {
                        throw ValidationError("--class-weight: no class '\(parts[0])' (the classes are \(names.joined(separator: ", ")))")
                    }
                    perClass[index] = value
                }
            }
            notes.append("class weights: " + zip(names, perClass).map { "\($0) \(Format.general(Double($1)))" }.joined(separator: ", "))
            weights = (0..<dataset.rows).map { (weights?[$0] ?? 1) * Scalar(perClass[classes[$0]]) }
        }
        guard let weights else { return dataset }
        return try dataset.weighted(weights)
    }
}

/// The run's settings once the data is known: the optimizer, batch size, epochs and stopping
/// rule the data calls for, where the user did not say.
struct RunDefaults {
    var optimizer: OptimizerKind
    var batchSize: Int
    var epochs: Int
    var convergence: FitConfiguration.Convergence?
    /// Why, for the user.
    var notes: [String]
    var warnings: [String]

    /// The most training rows full-batch LBFGS takes by default.
    static let fullBatchRows = 1_000_000

    /// - Parameter newton: whether trust-region Newton fits these rows (linear regression with
    ///   one output or logistic regression, on sparse rows, without an l1 penalty).
    init(options: TrainingOptions, optimizer given: OptimizerOptions, model: any Model, trainingRows rows: Int, newton: Bool = false) {
        notes = []
        warnings = []
        let linear = !(model is MLP)
        if let kind = given.optimizerChoice {
            optimizer = kind
        } else {
            // The first that takes every hyperparameter given.
            let fullBatch: [OptimizerKind] = newton ? [.newton, .lbfgs] : [.lbfgs]
            let candidates: [OptimizerKind] = (linear && rows <= Self.fullBatchRows ? fullBatch : []) + [.adam] + OptimizerKind.allCases
            optimizer = candidates.first { given.given.isSubset(of: $0.flags) } ?? .adam
            if optimizer == .lbfgs {
                notes.append("optimizer: full-batch lbfgs with a strong Wolfe line search, until the loss stops improving (\(rows) training rows; --optimizer adam for minibatches)")
            }
            if optimizer == .newton {
                notes.append("optimizer: full-batch newton (trust-region Newton-CG, LIBLINEAR's solver), an iteration an epoch, until the loss stops improving (\(rows) sparse training rows; --optimizer lbfgs or adam otherwise)")
            }
        }
        let fullBatch = optimizer == .lbfgs || optimizer == .newton
        let automaticBatch = fullBatch ? rows
            : rows >= 1 << 20 ? 16_384
            : min(16_384, max(32, 1 << max(0, Int.bitWidth - 1 - (rows / 64).leadingZeroBitCount)))
        let requested = options.batchSize ?? automaticBatch
        if requested > rows {
            if options.batchSize != nil {
                warnings.append("--batch-size \(requested) is more than the \(rows) training rows: each step takes them all (full batch)")
            }
        }
        batchSize = min(requested, rows)
        let small = rows < 1 << 20
        epochs = options.epochs ?? (fullBatch ? 100 : small ? 200 : 10)
        if options.tol == nil && options.earlyStopping != nil {
            convergence = nil  // the validation loss decides when to stop
        } else if let tolerance = options.tol {
            convergence = tolerance > 0 ? .init(tolerance: tolerance, patience: options.tolEpochs ?? (fullBatch ? 2 : 5)) : nil
        } else {
            convergence = .init(tolerance: fullBatch ? 1e-6 : 1e-4, patience: options.tolEpochs ?? (fullBatch ? 2 : 5))
        }
        let steps = ((rows + batchSize - 1) / batchSize).multipliedReportingOverflow(by: epochs)
        if !fullBatch && !steps.overflow && steps.partialValue < 100 {
            warnings.append("only \(steps.partialValue) optimizer steps in all (\(epochs) epoch(s) × \((rows + batchSize - 1) / batchSize) minibatch(es) of \(batchSize) rows): too few to converge; lower --batch-size or raise --epochs, or leave --optimizer out for full-batch lbfgs")
        }
    }
}

/// ``DataParallel/fit(_:parameters:data:validation:optimizer:schedule:configuration:cancellation:progress:onBatch:checkpoint:)``
/// on dense or sparse rows (the model must take sparse rows for the latter).
func fit<Scalar: TrainingScalar>(
    _ model: any Model, parameters: Parameters<Scalar>, data: TrainingRows<Scalar>, validation: TrainingRows<Scalar>?,
    optimizer: any Optimizer<Scalar>, schedule: EpochSchedule?, configuration: FitConfiguration, cancellation: CancellationFlag?,
    progress: @escaping (EpochReport) -> Void, onBatch: @escaping (BatchProgress) -> Void, checkpoint: @escaping (TrainingPosition) throws -> Void
) throws(TrainingError) -> TrainingReport {
    switch data {
    case .dense(let rows):
        let held: Dataset<Scalar>?
        switch validation {
        case .dense(let other)?: held = other
        case .sparse?: preconditionFailure("dense training rows with sparse validation rows")
        case nil: held = nil
        }
        return try fit(model, parameters: parameters, data: rows, validation: held, optimizer: optimizer, schedule: schedule,
                       configuration: configuration, cancellation: cancellation, progress: progress, onBatch: onBatch, checkpoint: checkpoint)
    case .sparse(let rows):
        guard let sparseModel = model as? any SparseModel else {
            throw .invalidConfiguration("\(model.description) does not take sparse rows: --model linear, logistic, softmax or mlp does, or --dense expands them")
        }
        let held: SparseDataset<Scalar>?
        switch validation {
        case .sparse(let other)?: held = other
        case .dense?: preconditionFailure("sparse training rows with dense validation rows")
        case nil: held = nil
        }
        return try fit(sparseModel, parameters: parameters, data: rows, validation: held, optimizer: optimizer, schedule: schedule,
                       configuration: configuration, cancellation: cancellation, progress: progress, onBatch: onBatch, checkpoint: checkpoint)
    }
}

/// The mean loss of `parameters` on dense or sparse rows.
func validationLoss<Scalar: TrainingScalar>(_ model: any Model, _ parameters: Parameters<Scalar>, on data: TrainingRows<Scalar>,
                                            workers: Int, like fit: FitConfiguration, chunkRows: Int) throws -> Double {
    switch data {
    case .dense(let rows): return validationLoss(model, parameters, on: rows, workers: workers, like: fit, chunkRows: chunkRows)
    case .sparse(let rows):
        guard let sparseModel = model as? any SparseModel else { throw ValidationError("\(model.description) does not take sparse rows") }
        return try score(sparseModel, parameters: parameters, data: rows, workers: workers).loss
    }
}
