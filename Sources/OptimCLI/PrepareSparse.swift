import ArgumentParser
import DataParallel
import Datasets
import Models

extension Train {
    /// ``prepare(workers:as:)`` for sparse rows: the model the targets call for (one that takes
    /// sparse rows), the split (random and stratified for classes, seeded), the training rows
    /// shuffled; never standardized (centering would make every row dense).
    func prepareSparse<Scalar: TrainingScalar>(_ loaded: LoadedSparse<Scalar>, workers: Int) throws -> PreparedData<Scalar> {
        let dataset = loaded.dataset
        var notes: [String] = []
        let choice = try model.make(for: dataset, task: data.usesFile ? nil : data.syntheticTask)
        guard choice.model is any SparseModel else {
            throw ValidationError("\(choice.model.description) does not take sparse rows: --model linear, logistic, softmax or mlp does, or --dense expands them")
        }
        if training.standardize == true {
            throw ValidationError("--standardize centers each feature, which makes sparse rows dense: drop it, or --dense to expand the rows")
        }
        if model.classWeight != nil {
            throw ValidationError("--class-weight takes dense rows for now: --dense expands them")
        }
        let shuffle = training.shuffle ?? data.usesFile
        let fraction = training.validationData == nil ? training.validation : 0
        var classes: [Int]?
        if let index = choice.classIndex ?? (choice.classes != nil ? { $0 } : nil) {
            classes = (0..<dataset.rows).map { Int(index(Float(dataset.target($0)))) }
        }
        let copies = shuffle || choice.classIndex != nil
        let split = copies ? RowSplit(rows: dataset.rows, validationFraction: fraction, seed: data.seed, classes: classes, shuffle: shuffle)
            : RowSplit(training: [], validation: [])
        guard !copies || !split.training.isEmpty else {
            throw ValidationError("--validation \(fraction) leaves no training rows of \(dataset.rows)")
        }
        let trainingRows: SparseDataset<Scalar>, heldOut: SparseDataset<Scalar>?
        if copies {
            trainingRows = try dataset.gathered(rows: split.training, name: "\(dataset.name) (training)", targetIndex: choice.classIndex)
            heldOut = split.validation.isEmpty ? nil
                : try dataset.gathered(rows: split.validation, name: "\(dataset.name) (validation)", targetIndex: choice.classIndex)
        } else {
            (trainingRows, heldOut) = try dataset.split(validationFraction: fraction)
        }
        var validation = heldOut
        if let path = training.validationData {
            guard case .sparse(let other) = try data.loadRows(workers: workers, bind: training.bind, path: path, width: dataset.features,
                                                              libsvmBase: loaded.libsvmBase, forceSparse: true, as: Scalar.self) else {
                throw DataFileError(path, nil, "is not a libsvm file: sparse training rows take a libsvm validation file")
            }
            if let names = choice.classes {
                let known = Set(names)
                for row in 0..<other.dataset.rows where !known.contains(TargetSummary.name(Float(other.dataset.target(row)))) {
                    throw DataFileError(path, nil, "class \(TargetSummary.name(Float(other.dataset.target(row)))) does not occur in the training data "
                                        + "(its classes: \(names.joined(separator: ", ")))")
                }
            }
            validation = try other.dataset.gathered(rows: Array(0..<other.dataset.rows), name: path, targetIndex: choice.classIndex)
        }
        if shuffle {
            let stratified = classes != nil && fraction > 0
            notes.append(stratified ? "held out \(split.validation.count) rows at random, stratified by class (seed \(data.seed)); training rows shuffled"
                         : fraction > 0 ? "held out \(split.validation.count) rows at random (seed \(data.seed)); training rows shuffled"
                         : "training rows shuffled (seed \(data.seed))")
        }
        notes.append("sparse rows (\(dataset.nonZeros) non-zeros, \(formatBytes(dataset.bytesPerPass)) a pass): features as they are, not standardized")
        return PreparedData(source: DataSource(loaded), choice: choice, training: .sparse(trainingRows), validation: validation.map { .sparse($0) },
                            split: copies && fraction > 0 ? split : nil, standardization: nil, shuffled: shuffle, notes: notes)
    }
}
