import ArgumentParser
import DataParallel
import Datasets
import Foundation
import ModelIO
import Models

/// `optim predict`: a saved model's predictions for rows without targets.
struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Predict with saved weights: class labels and probabilities for classifiers, values for regression; CSV or .npy.",
        discussion: """
            The data needs no target: a CSV's columns are matched to the training columns by \
            name (the training target, if present, is left out), a .npy holds the features (a \
            column more is taken as the target and left out), a libsvm file is padded to the \
            model's features. Output: CSV to standard output or --output FILE.csv; .npy holds \
            the probabilities (classifiers) or the values.

            Examples:
              optim predict --weights model.safetensors --data new.csv \\
                  --id customer_id --output predictions.csv
              optim predict --weights model.safetensors --data new.npy \\
                  --output probabilities.npy
              optim predict --weights model.safetensors --data new.svm --logits
            """
    )

    @Option(help: "Weights written by `optim train --save` (safetensors).") var weights: String
    @OptionGroup(title: "Data") var data: DataOptions
    @Option(help: ArgumentHelp("A CSV column passed through to the output as the row's id (not a feature).", valueName: "column"))
    var id: String?
    @Flag(help: "Write the raw outputs (logits) instead of probabilities for classifiers.") var logits = false
    @Option(help: ArgumentHelp("Where to write: a .csv or .npy file (default: CSV to standard output).", valueName: "file")) var output: String?

    func validate() throws {
        if let output, !(output.lowercased().hasSuffix(".csv") || output.lowercased().hasSuffix(".npy")) {
            throw ValidationError("--output must end in .csv or .npy, got \(output)")
        }
        if data.data == nil { throw ValidationError("predict needs --data FILE (the rows to predict)") }
    }

    func run() throws {
        var files = FilePlan()
        files.read("--weights", weights)
        files.read("--data", data.data)
        files.write("--output", output)
        try files.check(Predict.self)
        signal(SIGPIPE, SIG_IGN)
        let saved = try SavedModel.load(weights)
        let model = saved.model
        // A libsvm file or a scipy sparse matrix mostly of zeros is predicted from its sparse rows
        // (the same outputs, in memory and time that follow its non-zeros).
        if let path = data.data, path != "-", model is any SparseModel,
           let format = try? data.format(of: path), format == .libsvm || format == .npz && NPZ.isSparseMatrix(path: path),
           case .sparse(let loaded) = try data.loadRows(workers: defaultWorkerCount(), bind: true, withoutTarget: true, width: model.inputFeatures,
                                                        libsvmBase: saved.libsvmBase, as: Float.self) {
            for note in loaded.notes { FileHandle.standardError.write(Data("optim: \(note)\n".utf8)) }
            try write(try loaded.dataset.outputs(of: saved), rows: loaded.dataset.rows, saved: saved, ids: nil)
            return
        }
        let loaded = try data.load(workers: defaultWorkerCount(), bind: true, withoutTarget: true, width: model.inputFeatures, id: id,
                                   dropColumns: [saved.target, saved.sampleWeightColumn].compactMap { $0 }, libsvmBase: saved.libsvmBase)
        for note in loaded.notes { FileHandle.standardError.write(Data("optim: \(note)\n".utf8)) }
        var dataset = loaded.dataset
        if let trained = saved.columns, let names = loaded.featureNames, names != trained {
            let missing = trained.filter { !names.contains($0) }, extra = names.filter { !trained.contains($0) }
            guard missing.isEmpty && extra.isEmpty else {
                throw DataFileError(dataset.name, "line 1", "the columns do not match the training columns"
                    + (missing.isEmpty ? "" : "; missing: \(missing.joined(separator: ", "))")
                    + (extra.isEmpty ? "" : "; not in training (leave them out with --ignore): \(extra.joined(separator: ", "))"))
            }
            // The same columns in another order: put them in the training order.
            let order = trained.map { names.firstIndex(of: $0)! }
            let x = FloatStorage(count: dataset.rows * order.count)
            for row in 0..<dataset.rows { for (j, column) in order.enumerated() { x.base[row * order.count + j] = dataset.feature(row, column) } }
            dataset = try Dataset(name: dataset.name, x: x, y: dataset.y, rows: dataset.rows, features: order.count)
        }
        guard dataset.features == model.inputFeatures else {
            throw DataFileError(dataset.name, nil, "rows have \(dataset.features) features; the weights take \(model.inputFeatures)"
                + (saved.columns.map { " (the training columns: \($0.joined(separator: ", ")))" } ?? ""))
        }
        try dataset.validateFinite()
        try write(try predictAny(saved, dataset), rows: dataset.rows, saved: saved, ids: loaded.ids)
    }

    /// The predictions as CSV on standard output, or into `--output` (CSV or .npy).
    func write(_ outputs: [Float], rows: Int, saved: SavedModel, ids: [String]?) throws {
        let table = PredictionTable(model: saved.model, outputs: outputs, rows: rows, classes: saved.classes, logits: logits, ids: ids)
        guard let output else {
            FileHandle.standardOutput.write(Data(table.csv.utf8))
            return
        }
        if output.lowercased().hasSuffix(".npy") {
            let (values, columns) = table.matrix
            var writer = try NPY.Writer(path: output, rows: rows, columns: columns)
            do {
                try values.withUnsafeBufferPointer { try writer.append($0) }
                try writer.finish()
            } catch {
                writer.discard()
                throw error
            }
        } else {
            try writeAtomically(Data(table.csv.utf8), to: output)
        }
        FileHandle.standardError.write(Data("optim: wrote \(rows) predictions to \(output)\n".utf8))
    }
}

/// A model's outputs for a block of rows as users read them: labels and probabilities for
/// classifiers (σ of the logit for one output, the softmax for several), values for regression.
struct PredictionTable {
    let model: any Model
    let outputs: [Float]
    let rows: Int
    let classes: [String]?
    let logits: Bool
    let ids: [String]?

    var isClassifier: Bool { model.loss == .bceWithLogits || model.loss == .crossEntropy }

    /// Class probabilities of `row`, one per class.
    func probabilities(_ row: Int) -> [Double] {
        let k = model.outputsPerRow
        if k == 1 {
            let p = 1 / (1 + Foundation.exp(-Double(outputs[row])))
            return [1 - p, p]
        }
        let z = (0..<k).map { Double(outputs[row * k + $0]) }, peak = z.max()!
        let e = z.map { Foundation.exp($0 - peak) }, sum = e.reduce(0, +)
        return e.map { $0 / sum }
    }

    /// The predicted class of `row`: a positive logit, or the first largest.
    func predictedClass(_ row: Int) -> Int {
        let k = model.outputsPerRow
        if k == 1 { return outputs[row] > 0 ? 1 : 0 }
        var best = 0
        for o in 1..<k where outputs[row * k + o] > outputs[row * k + best] { best = o }
        return best
    }

    var classNames: [String] { classes ?? (0..<max(model.outputsPerRow, 2)).map { "\($0)" } }

    var header: [String] {
        let k = model.outputsPerRow
        var names = ids == nil ? [] : ["id"]
        if isClassifier {
            names.append("label")
            if logits { names += k == 1 ? ["logit"] : classNames.map { "logit_\($0)" } }
            else { names += classNames.map { "probability_\($0)" } }
        } else {
            names += k == 1 ? ["prediction"] : (0..<k).map { "prediction_\($0)" }
        }
        return names
    }

    var csv: String {
        var text = header.map(csvField).joined(separator: ",") + "\n"
        text.reserveCapacity(rows * 24)
        let k = model.outputsPerRow, names = classNames
        for row in 0..<rows {
            var fields = ids.map { [csvField($0[row])] } ?? []
            if isClassifier {
                fields.append(csvField(names[predictedClass(row)]))
                if logits { fields += (0..<k).map { "\(outputs[row * k + $0])" } }
                else { fields += probabilities(row).map { "\(Float($0))" } }
            } else {
                fields += (0..<k).map { "\(outputs[row * k + $0])" }
            }
            text += fields.joined(separator: ",") + "\n"
        }
        return text
    }

    /// The numbers, row-major, and the columns per row: probabilities (or logits), or values.
    var matrix: ([Float], Int) {
        guard isClassifier && !logits else { return (outputs, model.outputsPerRow) }
        let k = classNames.count
        var values: [Float] = []
        values.reserveCapacity(rows * k)
        for row in 0..<rows { values += probabilities(row).map { Float($0) } }
        return (values, k)
    }
}

func csvField(_ text: String) -> String {
    text.contains(",") || text.contains("\"") || text.contains("\n") ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
}

/// What users read beside the loss: MAE for regression; for classifiers, the confusion matrix,
/// precision, recall and F1 per class (and their macro averages), and ROC AUC for two classes.
struct DetailedMetrics {
    var object: [String: Any] = [:]
    var lines: [String] = []

    init<Rows: TargetRows>(model: any Model, outputs: [Float], data: Rows, classes: [String]?) {
        let k = model.outputsPerRow, n = data.rows
        if model.loss.isRegression {
            var absolute = 0.0
            for row in 0..<n { for o in 0..<k { absolute += abs(Double(outputs[row * k + o]) - Double(data.target(row, o))) } }
            let mae = absolute / Double(n * k)
            object["mae"] = mae
            lines.append("mae \(Format.general(mae))")
            return
        }
        let table = PredictionTable(model: model, outputs: outputs, rows: n, classes: classes, logits: false, ids: nil)
        let names = table.classNames, c = names.count
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: c), count: c)
        for row in 0..<n {
            let truth = Int(data.target(row, 0))
            guard truth >= 0 && truth < c else { continue }
            confusion[truth][table.predictedClass(row)] += 1
        }
        var perClass: [[String: Any]] = []
        var f1Sum = 0.0, precisionSum = 0.0, recallSum = 0.0
        let width = max(8, names.map(\.count).max()! + 2)
        lines.append("class" + String(repeating: " ", count: max(1, width - 5)) + "precision  recall     f1  support")
        for i in 0..<c {
            let truePositive = Double(confusion[i][i])
            let predicted = Double((0..<c).reduce(0) { $0 + confusion[$1][i] }), actual = Double(confusion[i].reduce(0, +))
            let precision = predicted > 0 ? truePositive / predicted : 0, recall = actual > 0 ? truePositive / actual : 0
            let f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
            precisionSum += precision; recallSum += recall; f1Sum += f1
            perClass.append(["class": names[i], "precision": precision, "recall": recall, "f1": f1, "support": Int(actual)])
            lines.append(Format.pad(names[i], width) + Format.pad(Format.fixed(precision, 4), 9, right: true) + Format.pad(Format.fixed(recall, 4), 8, right: true)
                         + Format.pad(Format.fixed(f1, 4), 7, right: true) + Format.pad("\(Int(actual))", 9, right: true))
        }
        object["per_class"] = perClass
        object["macro_precision"] = precisionSum / Double(c)
        object["macro_recall"] = recallSum / Double(c)
        object["macro_f1"] = f1Sum / Double(c)
        object["confusion_matrix"] = confusion
        object["classes"] = names
        lines.append("macro f1 \(Format.fixed(f1Sum / Double(c), 4))")
        lines.append("confusion matrix (rows: true class, columns: predicted):")
        let cell = max(6, names.map(\.count).max()! + 1, "\(n)".count + 1)
        lines.append(String(repeating: " ", count: width) + names.map { Format.pad($0, cell, right: true) }.joined())
        for i in 0..<c { lines.append(Format.pad(names[i], width) + confusion[i].map { Format.pad("\($0)", cell, right: true) }.joined()) }
        if k == 1 {
            let auc = rocAUC(scores: outputs, labels: (0..<n).map { data.target($0, 0) == 1 })
            if let auc {
                object["roc_auc"] = auc
                lines.append("roc_auc \(Format.fixed(auc, 4))")
            }
        }
    }
}

/// The area under the ROC curve: the probability that a random positive scores above a random
/// negative, ties counting half (the Mann–Whitney statistic); nil without both classes.
func rocAUC(scores: [Float], labels: [Bool]) -> Double? {
    let order = scores.indices.sorted { scores[$0] < scores[$1] }
    let positives = labels.filter { $0 }.count, negatives = labels.count - positives
    guard positives > 0 && negatives > 0 else { return nil }
    var rankSum = 0.0, i = 0
    while i < order.count {
        var j = i
        while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
        let rank = Double(i + j) / 2 + 1
        for t in i...j where labels[order[t]] { rankSum += rank }
        i = j + 1
    }
    return (rankSum - Double(positives) * Double(positives + 1) / 2) / (Double(positives) * Double(negatives))
}
