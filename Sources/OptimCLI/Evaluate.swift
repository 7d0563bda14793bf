import ArgumentParser
import DataParallel
import Datasets
import Foundation
import ModelIO
import Models
import Optim

/// `optim evaluate`: score saved weights on a data set.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score saved weights on a data set (MSE and R², or accuracy and log-loss), and optionally write the predictions.",
        discussion: """
            Example:
              optim train --data train.npy --save model.safetensors
              optim evaluate --weights model.safetensors --data test.npy --predictions predictions.csv
            """
    )

    @Option(help: "Weights written by `optim train --save` (safetensors).") var weights: String
    @OptionGroup(title: "Data") var data: DataOptions
    @Option(help: "Write the predictions (logits for classifiers) as CSV, one row per data row.") var predictions: String?
    @Flag(help: "Print the metrics as one JSON object.") var json = false

    func run() throws {
        let (model, parameters, _) = try Weights.load(weights)
        let dataset = try data.load(workers: defaultWorkerCount(), bind: true)
        let metrics = try scoreAny(model, parameters, dataset)
        if json {
            var object: [String: Any] = ["rows": dataset.rows, "loss": metrics.loss]
            if let x = metrics.mse { object["mse"] = x }
            if let x = metrics.r2 { object["r2"] = x }
            if let x = metrics.accuracy { object["accuracy"] = x }
            if let x = metrics.logLoss { object["log_loss"] = x }
            print(Format.jsonLine(object))
        } else {
            var line = "\(dataset.name): \(dataset.rows) rows; \(model.description); loss \(Format.general(metrics.loss))"
            if let r2 = metrics.r2 { line += ", mse \(Format.general(metrics.mse!)), r2 \(Format.fixed(r2, 4))" }
            if let accuracy = metrics.accuracy { line += ", accuracy \(Format.fixed(accuracy, 4)), log_loss \(Format.general(metrics.logLoss!))" }
            print(line)
        }
        if let path = predictions {
            let outputs = predictAny(model, parameters, dataset)
            let k = model.outputsPerRow
            var text = (0..<k).map { k == 1 ? "prediction" : "output_\($0)" }.joined(separator: ",") + "\n"
            for row in 0..<dataset.rows {
                text += (0..<k).map { "\(outputs[row * k + $0])" }.joined(separator: ",") + "\n"
            }
            try writeAtomically(Data(text.utf8), to: path)
            print("wrote \(path)")
        }
    }
}

func scoreAny(_ model: any Model, _ parameters: Parameters<Float>, _ data: Dataset) throws -> Metrics {
    func open<M: Model>(_ m: M) throws -> Metrics { try score(m, parameters: parameters, data: data) }
    return try open(model)
}

func predictAny(_ model: any Model, _ parameters: Parameters<Float>, _ data: Dataset) -> [Float] {
    func open<M: Model>(_ m: M) -> [Float] { predict(m, parameters: parameters, data: data) }
    return open(model)
}
