import ArgumentParser
import DataParallel
import Datasets
import Foundation
import ModelIO
import Models
import Optim

/// `optim evaluate`: score saved weights on labelled data.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score saved weights on labelled data: MSE, MAE and R², or accuracy, log-loss, per-class precision, recall and F1, the confusion matrix and ROC AUC.",
        discussion: """
            The target column defaults to the one the weights were trained on; class labels are \
            mapped as in training. --held-out re-scores the rows `optim train` held out of the \
            same file.

            Examples:
              optim train --data train.csv --target species --save model.safetensors
              optim evaluate --weights model.safetensors --data test.csv
              optim evaluate --weights model.safetensors --data train.csv \\
                  --held-out --json
            """
    )

    @Option(help: "Weights written by `optim train --save` (safetensors).") var weights: String
    @OptionGroup(title: "Data") var data: DataOptions
    @Flag(help: "Score only the rows `optim train` held out of this file (its split: seed, share, stratification, from the weights).")
    var heldOut = false
    @Option(help: "Also write the predictions as CSV (as `optim predict` does).") var predictions: String?
    @Flag(help: "Print the metrics as one JSON object.") var json = false

    func run() throws {
        var files = FilePlan()
        files.read("--weights", weights)
        files.read("--data", data.data)
        files.write("--predictions", predictions)
        try files.check(Evaluate.self)
        // Under mpirun (see Launch): a rank that cannot read the weights or the data says so, and
        // every rank stops with it; then each scores its share of the rows.
        let launch = Launch.current
        let (saved, rows) = try launch.agree { () throws -> (SavedModel, LoadedRows<Float>) in try load() }
        switch rows {
        case .dense(let loaded):
            for note in loaded.notes where launch.isLead { FileHandle.standardError.write(Data("optim: \(note)\n".utf8)) }
            try evaluate(saved, loaded.dataset)
        case .sparse(let loaded):
            for note in loaded.notes where launch.isLead { FileHandle.standardError.write(Data("optim: \(note)\n".utf8)) }
            try evaluate(saved, loaded.dataset)
        }
    }

    /// The weights, and the data read as they say (their target column, libsvm base, width).
    func load() throws -> (SavedModel, LoadedRows<Float>) {
        let saved = try SavedModel.load(weights)
        var options = data
        if options.target == nil, let target = saved.target, options.data.map({ !$0.lowercased().hasSuffix(".npy") }) ?? true {
            options.target = target
        }
        if options.target == nil && options.data?.lowercased().hasSuffix(".npy") == true, let target = saved.target, let index = Int(target) {
            options.target = "\(index)"
        }
        if let column = saved.sampleWeightColumn, options.sampleWeight == nil, let path = options.data,
           (try? CSV.columnNames(path: path, separator: path.lowercased().hasSuffix(".tsv") ? 0x09 : UInt8(ascii: ",")))?.contains(column) == true {
            options.ignore.append(column)  // the training's weights, not a feature
        }
        let rows = try options.loadRows(workers: Launch.current.defaultWorkers, bind: true, width: saved.model.inputFeatures,
                                        libsvmBase: saved.libsvmBase, sparseModel: saved.model is any SparseModel, as: Float.self)
        return (saved, rows)
    }

    /// The rest of `run`, on dense or sparse rows.
    func evaluate<Rows: ScoredRows>(_ saved: SavedModel, _ loaded: Rows) throws {
        var dataset = try saved.indexed(loaded)
        if heldOut {
            guard let split = saved.split else {
                throw DataFileError(weights, nil, "has no record of a held-out split (trained with --validation 0, or by an older optim)")
            }
            guard split.rows == dataset.rows else {
                throw DataFileError(dataset.name, nil, "has \(dataset.rows) rows; the weights were trained on a file of \(split.rows): not the same data")
            }
            let classes = saved.classes != nil && split.stratified ? (0..<dataset.rows).map { Int(dataset.target($0, 0)) } : nil
            let rows = RowSplit(rows: dataset.rows, validationFraction: split.validation, seed: split.seed, classes: classes,
                                shuffle: split.shuffle).validation
            guard !rows.isEmpty else { throw DataFileError(weights, nil, "its split held out no rows") }
            dataset = try dataset.subset(rows: rows, name: "\(dataset.name) (the \(rows.count) held-out rows)", targetIndex: nil)
        }
        let model = saved.model
        guard dataset.features == model.inputFeatures else {
            throw DataFileError(dataset.name, nil, "rows have \(dataset.features) features; the weights take \(model.inputFeatures)"
                + (saved.columns.map { " (trained on the columns \($0.joined(separator: ", ")))" } ?? ""))
        }
        let metrics = try dataset.scored(by: saved)
        let outputs = try dataset.outputs(of: saved)
        let report = DetailedMetrics(model: model, outputs: outputs, data: dataset, classes: saved.classes)
        if json {
            var object: [String: Any] = ["event": "evaluation", "data": dataset.name, "rows": dataset.rows, "loss": metrics.loss]
            if let x = metrics.mse { object["mse"] = x }
            if let x = metrics.r2 { object["r2"] = x }
            if let x = metrics.accuracy { object["accuracy"] = x }
            if let x = metrics.logLoss { object["log_loss"] = x }
            object.merge(report.object) { a, _ in a }
            print(Format.jsonLine(object))
        } else {
            var line = "\(dataset.name): \(dataset.rows) rows; \(model.description); loss \(Format.general(metrics.loss))"
            if let r2 = metrics.r2 { line += ", mse \(Format.general(metrics.mse!)), r2 \(Format.fixed(r2, 4))" }
            if let accuracy = metrics.accuracy { line += ", accuracy \(Format.fixed(accuracy, 4)), log_loss \(Format.general(metrics.logLoss!))" }
            print(line)
            report.lines.forEach { print($0) }
        }
        if let path = predictions, Launch.current.isLead {
            let table = PredictionTable(model: model, outputs: outputs, rows: dataset.rows, classes: saved.classes, logits: false, ids: nil)
            try writeAtomically(Data(table.csv.utf8), to: path)
            print("wrote \(path)")
        }
    }
}

/// A weights file with what `optim train --save` recorded beside the tensors.
struct SavedModel {
    var model: any Model
    var parameters: Parameters<Float>
    /// The weights exactly, when the file holds float64 tensors (`train --dtype float64`): then
    /// evaluate and predict compute in double precision.
    var doubleParameters: Parameters<Double>?
    var classes: [String]?
    var target: String?
    var columns: [String]?
    var split: Split?
    /// The first index of the libsvm file it was trained on, to read others the same way.
    var libsvmBase: Int?
    /// The CSV column that held the training rows' weights (not a feature).
    var sampleWeightColumn: String?

    struct Split {
        var seed: UInt64, validation: Double, shuffle: Bool, stratified: Bool, rows: Int
    }

    static func load(_ path: String) throws -> SavedModel {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw DataFileError(path, nil, "is a directory, not a weights file")
        }
        let (model, parameters, metadata) = try Weights.load(path)
        func strings(_ key: String) -> [String]? {
            metadata[key].flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) }
        }
        var saved = SavedModel(model: model, parameters: parameters, classes: strings("classes"), target: metadata["target"],
                               columns: strings("columns"))
        if metadata["dtype"] == Double.dtypeName { saved.doubleParameters = try Weights.load(path, as: Double.self).parameters }
        saved.sampleWeightColumn = metadata["sample_weight"]
        saved.libsvmBase = metadata["libsvm_base"].flatMap(Int.init).flatMap { $0 == 0 || $0 == 1 ? $0 : nil }
        if let classes = saved.classes {
            let expected = model.outputsPerRow == 1 ? 2 : model.outputsPerRow
            guard classes.count == expected, model.loss == .bceWithLogits || model.loss == .crossEntropy else {
                throw DataFileError(path, nil, "its metadata lists \(classes.count) classes for a model of \(model.outputsPerRow) output(s)")
            }
        }
        if let text = metadata["split"], let split = try? JSONDecoder().decode([String: String].self, from: Data(text.utf8)),
           let seed = split["seed"].flatMap(UInt64.init), let validation = split["validation"].flatMap(Double.init),
           (0..<1).contains(validation), let rows = split["rows"].flatMap(Int.init), rows > 0, validation > 0 {
            saved.split = Split(seed: seed, validation: validation, shuffle: split["shuffle"] == "true",
                                stratified: split["stratified"] == "true", rows: rows)
        }
        return saved
    }

    /// `data` with its labels as this model's class indices (text or numbers, by name).
    func indexed<Rows: ScoredRows>(_ data: Rows) throws -> Rows {
        guard let classes else { return data }
        let position = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, Float($0)) })
        let table: [Float]
        if let labels = data.labels {
            if let unknown = labels.first(where: { position[$0] == nil }) {
                throw DataFileError(data.name, nil, "class '\(unknown)' is not one the model knows (\(classes.joined(separator: ", ")))")
            }
            table = labels.map { position[$0]! }
            return try data.subset(rows: Array(0..<data.rows), name: data.name, targetIndex: { table[Int($0)] })
        }
        for row in 0..<data.rows where position[TargetSummary.name(data.target(row, 0))] == nil {
            throw DataFileError(data.name, "row \(row)", "target \(TargetSummary.name(data.target(row, 0))) is not a class the model knows (\(classes.joined(separator: ", ")))")
        }
        if classes.enumerated().allSatisfy({ $0.element == "\($0.offset)" }) { return data }
        return try data.subset(rows: Array(0..<data.rows), name: data.name,
                               targetIndex: { position[TargetSummary.name($0)] ?? 0 })
    }
}

/// The metrics of the saved model on `data`, in the precision it was trained in.
func scoreAny(_ saved: SavedModel, _ data: Dataset<Float>) throws -> Metrics {
    func open<M: Model>(_ m: M) throws -> Metrics {
        let cluster = Launch.current.cluster
        if let exact = saved.doubleParameters { return try score(m, parameters: exact, data: data.converted(to: Double.self), cluster: cluster) }
        return try score(m, parameters: saved.parameters, data: data, cluster: cluster)
    }
    return try open(saved.model)
}

/// The saved model's outputs for `data`, computed in the precision it was trained in (written as
/// float32).
func predictAny(_ saved: SavedModel, _ data: Dataset<Float>) throws -> [Float] {
    func open<M: Model>(_ m: M) throws -> [Float] {
        let cluster = Launch.current.cluster
        if let exact = saved.doubleParameters {
            return predict(m, parameters: exact, data: try data.converted(to: Double.self), cluster: cluster).map { Float($0) }
        }
        return predict(m, parameters: saved.parameters, data: data, cluster: cluster)
    }
    return try open(saved.model)
}

/// Dense or sparse rows as `evaluate` and `predict` read them.
protocol ScoredRows: TargetRows where Scalar == Float {
    /// Rows `rows` in that order, targets mapped by `targetIndex`.
    func subset(rows: [Int], name: String, targetIndex: (@Sendable (Float) -> Float)?) throws -> Self
    /// The saved model's metrics on these rows, in the precision it was trained in.
    func scored(by saved: SavedModel) throws -> Metrics
    /// The saved model's outputs for these rows.
    func outputs(of saved: SavedModel) throws -> [Float]
}

extension Dataset: ScoredRows where Scalar == Float {
    func subset(rows: [Int], name: String, targetIndex: (@Sendable (Float) -> Float)?) throws -> Dataset<Float> {
        try gathered(rows: rows, name: name, targetIndex: targetIndex)
    }
    func scored(by saved: SavedModel) throws -> Metrics { try scoreAny(saved, self) }
    func outputs(of saved: SavedModel) throws -> [Float] { try predictAny(saved, self) }
}

extension SparseDataset: ScoredRows where Scalar == Float {
    func subset(rows: [Int], name: String, targetIndex: (@Sendable (Float) -> Float)?) throws -> SparseDataset<Float> {
        try gathered(rows: rows, name: name, targetIndex: targetIndex)
    }
    func scored(by saved: SavedModel) throws -> Metrics {
        guard let model = saved.model as? any SparseModel else { throw ValidationError("\(saved.model.description) does not take sparse rows") }
        func open<M: SparseModel>(_ m: M) throws -> Metrics {
            if let exact = saved.doubleParameters { return try score(m, parameters: exact, data: converted(to: Double.self)) }
            return try score(m, parameters: saved.parameters, data: self)
        }
        return try open(model)
    }
    func outputs(of saved: SavedModel) throws -> [Float] {
        guard let model = saved.model as? any SparseModel else { throw ValidationError("\(saved.model.description) does not take sparse rows") }
        func open<M: SparseModel>(_ m: M) throws -> [Float] {
            if let exact = saved.doubleParameters { return predict(m, parameters: exact, data: try converted(to: Double.self)).map { Float($0) } }
            return predict(m, parameters: saved.parameters, data: self)
        }
        return try open(model)
    }
}
