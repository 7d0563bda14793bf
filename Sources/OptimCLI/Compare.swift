import ArgumentParser
import DataParallel
import Datasets
import Foundation
import Models
import Optim
import SeedRegression

/// `optim compare`: several optimizers on the same data.
struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare optimizers on the same data: a table (final loss, time, epochs to a target loss) and a loss-curve plot (SVG).",
        discussion: """
            Each optimizer starts from the same initial weights and sees the same minibatches. \
            Without --lr, each uses torch's default learning rate.

            Examples:
              optim compare --dataset seed      # the seed document's example
              optim compare --optimizers sgd,adam,rmsprop,lbfgs --lr 0.01 \\
                  --epochs 20 --output curves
            """
    )

    enum DatasetKind: String, ExpressibleByArgument, CaseIterable { case synthetic, seed }

    @Option(help: "seed: the seed document's 15-point regression and its five optimizers; synthetic: --rows, --features, ... or --data.")
    var dataset: DatasetKind = .synthetic
    @OptionGroup(title: "Data") var data: DataOptions
    @OptionGroup(title: "Model") var model: ModelOptions
    @Option(help: "Optimizers to compare, comma-separated.") var optimizers: String = "sgd,adam,adamw,rmsprop,adagrad"
    @Option(help: "Learning rate for every optimizer (default: each one's torch default).") var lr: Double?
    @Option(help: "Epochs per optimizer.") var epochs: Int = 10
    @Option(help: "Rows per minibatch.") var batchSize: Int = 16_384
    @Option(help: "Loss to reach for the 'epochs to target' column (default: the median of the best losses).") var targetLoss: Double?
    @Option(help: "Write PREFIX.svg (loss curves) and PREFIX.csv (losses per epoch).") var output: String?

    func kinds() throws -> [OptimizerKind] {
        try optimizers.split(separator: ",").map { name in
            guard let kind = OptimizerKind(rawValue: String(name).trimmingCharacters(in: .whitespaces).lowercased()) else {
                throw ValidationError("unknown optimizer '\(name)' in --optimizers (choose from \(OptimizerKind.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return kind
        }
    }

    func validate() throws {
        _ = try kinds()
        if epochs < 1 { throw ValidationError("--epochs must be at least 1") }
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
        if dataset == .seed && (data.data != nil || lr != nil) { throw ValidationError("--dataset seed runs the seed's own data and optimizers; drop --data and --lr") }
    }

    struct Curve {
        let name: String
        let losses: [Double]
        let seconds: Double
    }

    func run() throws {
        var curves: [Curve] = []
        if dataset == .seed {
            for run in try SeedRegression.runAll() {
                run.printed.forEach { print($0) }
                curves.append(Curve(name: run.optimizer, losses: run.losses, seconds: run.seconds))
            }
            print("")
        } else {
            let workers = defaultWorkerCount()
            let (model, dataset) = try self.model.makeIndexed(for: data.load(workers: workers, bind: true).dataset,
                                                             task: data.usesFile ? nil : data.syntheticTask)
            print("comparing on \(dataset.name); \(model.description); \(epochs) epoch(s), batch \(batchSize)")
            for kind in try kinds() {
                let options = try OptimizerOptions.parse(["--optimizer", kind.rawValue] + (lr.map { ["--lr", "\($0)"] } ?? []))
                let parameters = model.makeParameters(seed: data.seed)
                let report = try fit(model, parameters: parameters, data: dataset, optimizer: options.make(parameters),
                                     configuration: FitConfiguration(batchSize: batchSize, epochs: epochs, workers: workers,
                                                                     seed: data.seed, scoreTrainingData: false))
                curves.append(Curve(name: options.summary, losses: report.epochs.map(\.trainingLoss), seconds: report.trainingSeconds))
            }
        }
        let target = targetLoss ?? curves.map { $0.losses.min() ?? .infinity }.sorted()[curves.count / 2]
        let unit = dataset == .seed ? "epochs (steps for LBFGS)" : "epochs"
        print("target loss \(Format.general(target)); \(unit) to reach it:")
        print("optimizer                        final loss    best loss     time   to target")
        for curve in curves {
            let reached = curve.losses.firstIndex { $0 <= target }.map { "\($0 + 1)" } ?? "never"
            print(Format.pad(curve.name, 30) + " " + Format.pad(Format.general(curve.losses.last ?? .nan), 12, right: true) + " "
                  + Format.pad(Format.general(curve.losses.min() ?? .nan), 12, right: true) + " "
                  + Format.pad(Format.seconds(curve.seconds), 8, right: true) + " " + Format.pad(reached, 11, right: true))
        }
        if let output {
            let series = curves.map { curve in (curve.name, curve.losses.enumerated().map { (Double($0.offset + 1), $0.element) }) }
            try writeAtomically(Data(SVGPlot.lines(title: "Training loss", xLabel: unit, yLabel: "loss (log scale)",
                                                   series: series, logY: true).utf8), to: output + ".svg")
            var csv = "optimizer,epoch,loss\n"
            for curve in curves { for (i, loss) in curve.losses.enumerated() { csv += "\"\(curve.name)\",\(i + 1),\(loss)\n" } }
            try writeAtomically(Data(csv.utf8), to: output + ".csv")
            print("wrote \(output).svg, \(output).csv")
        }
    }
}
