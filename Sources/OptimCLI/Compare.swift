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
            Without --lr, each uses torch's default learning rate; an optimizer's own options \
            go in parentheses after its name, with torch's names. The plot shows the training \
            loss (solid) and the validation loss (dashed) per optimizer, and marks a run that \
            diverged where its loss was last finite.

            Examples:
              optim compare --dataset seed      # the seed document's example
              optim compare --optimizers sgd,adam,rmsprop,lbfgs --lr 0.01 \\
                  --epochs 20 --output curves
              optim compare --optimizers 'sgd(lr=0.05,momentum=0.9),adam(lr=0.01)' \\
                  --data train.csv --target price --output curves
            """
    )

    enum DatasetKind: String, ExpressibleByArgument, CaseIterable { case synthetic, seed }

    @Option(help: "seed: the seed document's 15-point regression and its five optimizers; synthetic: --rows, --features, ... or --data.")
    var dataset: DatasetKind = .synthetic
    @OptionGroup(title: "Data") var data: DataOptions
    @OptionGroup(title: "Model") var model: ModelOptions
    @Option(help: ArgumentHelp("Optimizers to compare, comma-separated, each with its options in parentheses: sgd(lr=0.05,momentum=0.9),adam(betas=0.9;0.99),lbfgs(line_search_fn=strong_wolfe).",
                               valueName: "list"))
    var optimizers: String = "sgd,adam,adamw,rmsprop,adagrad"
    @Option(help: "Learning rate for every optimizer (default: each one's torch default).") var lr: Double?
    @Option(help: "Epochs per optimizer.") var epochs: Int = 10
    @Option(help: "Rows per minibatch.") var batchSize: Int = 16_384
    @Option(help: "Loss to reach for the 'epochs to target' column (default: the median of the best losses).") var targetLoss: Double?
    @Option(help: "Share of the rows held out and scored after each epoch (the dashed curves), in [0, 1).") var validation: Double = 0.1
    @Option(help: "Write PREFIX.svg (loss curves) and PREFIX.csv (losses per epoch).") var output: String?

    /// Each optimizer of --optimizers with its options as command-line arguments.
    func entries() throws -> [(kind: OptimizerKind, arguments: [String])] {
        // Split at the commas outside parentheses.
        var items: [String] = [], current = "", depth = 0
        for character in optimizers {
            if character == "(" { depth += 1 } else if character == ")" { depth -= 1 }
            if character == "," && depth == 0 { items.append(current); current = "" } else { current.append(character) }
        }
        items.append(current)
        return try items.map { item in
            let text = item.trimmingCharacters(in: .whitespaces)
            let name = String(text.prefix { $0 != "(" }).lowercased()
            guard let kind = OptimizerKind(rawValue: name) else {
                throw ValidationError("unknown optimizer '\(name)' in --optimizers (choose from \(OptimizerKind.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            var arguments: [String] = []
            if let open = text.firstIndex(of: "(") {
                guard text.hasSuffix(")") else { throw ValidationError("--optimizers: '\(text)' has no closing parenthesis") }
                for pair in text[text.index(after: open)..<text.index(before: text.endIndex)].split(separator: ",") {
                    let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                    guard parts.count == 2 || (parts.count == 1 && ["nesterov", "amsgrad", "centered", "maximize"].contains(parts[0])) else {
                        throw ValidationError("--optimizers: '\(pair)' in \(name)(...) is not name=value")
                    }
                    let flag = "--" + parts[0].replacingOccurrences(of: "_", with: "-")
                    if parts.count == 1 || parts[1] == "true" || parts[1] == "True" { arguments.append(flag) }
                    else if parts[1] != "false" && parts[1] != "False" { arguments += [flag, parts[1].replacingOccurrences(of: ";", with: ",")] }
                }
            }
            return (kind, arguments)
        }
    }

    func kinds() throws -> [OptimizerKind] { try entries().map(\.kind) }

    func validate() throws {
        _ = try kinds()
        if !(1...100_000).contains(epochs) { throw ValidationError("--epochs must be from 1 to 100,000") }
        if batchSize < 1 || batchSize > 1 << 40 { throw ValidationError("--batch-size must be at least 1") }
        if !(0..<1).contains(validation) { throw ValidationError("--validation must be in [0, 1), got \(validation)") }
        if dataset == .seed && (data.data != nil || lr != nil) { throw ValidationError("--dataset seed runs the seed's own data and optimizers; drop --data and --lr") }
    }

    struct Curve {
        let name: String
        let losses: [Double]
        let seconds: Double
        var validation: [Double] = []
        /// The epoch whose loss was the last finite one, when the run diverged.
        var divergedAfter: Int?
    }

    func run() throws {
        var files = FilePlan()
        files.read("--data", data.data)
        for suffix in [".svg", ".csv"] { files.write("--output", output.map { $0 + suffix }) }
        try files.check(Compare.self)
        var curves: [Curve] = []
        var title = "Training loss: the seed document's 15 points", subtitle: String? = "linear regression, 1 → 1, mse; full batch"

        if dataset == .seed {
            for run in try SeedRegression.runAll() {
                run.printed.forEach { print($0) }
                curves.append(Curve(name: run.optimizer, losses: run.losses, seconds: run.seconds))
            }
            print("")
        } else {
            let workers = defaultWorkerCount()
            let (model, all) = try self.model.makeIndexed(for: data.load(workers: workers, bind: true).dataset,
                                                         task: data.usesFile ? nil : data.syntheticTask)
            let (dataset, held) = try all.split(validationFraction: validation)
            title = "Training loss: \(all.name)"
            subtitle = "\(model.description); batch \(batchSize), \(epochs) epoch(s)\(held.map { ", \($0.rows) rows held out (dashed: validation loss)" } ?? "")"
            print("comparing on \(all.name); \(model.description); \(epochs) epoch(s), batch \(batchSize)")
            for (kind, arguments) in try entries() {
                let options = try OptimizerOptions.parse(["--optimizer", kind.rawValue] + (lr.map { ["--lr", "\($0)"] } ?? []) + arguments)
                let parameters = model.makeParameters(seed: data.seed)
                var epochsSeen: [EpochReport] = []
                let configuration = FitConfiguration(batchSize: batchSize, epochs: epochs, workers: workers, seed: data.seed, scoreTrainingData: false)
                // On a terminal, which optimizer and epoch a long comparison is at (on stderr, then cleared).
                let terminal = isatty(STDERR_FILENO) != 0
                defer { if terminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) } }
                do {
                    let report = try fit(model, parameters: parameters, data: dataset, validation: held, optimizer: options.make(parameters),
                                         configuration: configuration, progress: { epoch in
                                             epochsSeen.append(epoch)
                                             if terminal { FileHandle.standardError.write(Data("\r\u{1B}[K  \(options.summary): epoch \(epoch.epoch)/\(epochs)".utf8)) }
                                         })
                    curves.append(Curve(name: options.summary, losses: report.epochs.map(\.trainingLoss), seconds: report.trainingSeconds,
                                        validation: report.epochs.compactMap { $0.validation?.loss }))
                } catch {
                    guard let failure = error as? TrainingError, case let .diverged(epoch, _, _, report) = failure else { throw error }
                    // The epochs that ended, then the point where it went: kept, and marked.
                    curves.append(Curve(name: options.summary, losses: epochsSeen.map(\.trainingLoss), seconds: report.trainingSeconds,
                                        validation: epochsSeen.compactMap { $0.validation?.loss }, divergedAfter: max(epoch - 1, 0)))
                }
            }
        }
        let target = targetLoss ?? curves.map { $0.losses.min() ?? .infinity }.sorted()[curves.count / 2]
        let unit = dataset == .seed ? "epochs (steps for LBFGS)" : "epochs"
        print("target loss \(Format.general(target)); \(unit) to reach it:")
        // The name column as wide as the longest name (at least the header's 30).
        let width = max(30, curves.map(\.name.count).max() ?? 0)
        print(Format.pad("optimizer", width) + "   final loss    best loss     time   to target")
        for curve in curves {
            let reached = curve.divergedAfter != nil ? "diverged" : curve.losses.firstIndex { $0 <= target }.map { "\($0 + 1)" } ?? "never"
            print(Format.pad(curve.name, width) + " " + Format.pad(Format.general(curve.losses.last ?? .nan), 12, right: true) + " "
                  + Format.pad(Format.general(curve.losses.min() ?? .nan), 12, right: true) + " "
                  + Format.pad(Format.seconds(curve.seconds), 8, right: true) + " " + Format.pad(reached, 11, right: true))
        }
        if let output {
            var series: [SVGPlot.Series] = []
            for (index, curve) in curves.enumerated() {
                let points = curve.losses.enumerated().map { (Double($0.offset + 1), $0.element) }
                let last = points.last { $0.1.isFinite }
                series.append(SVGPlot.Series(name: curve.name, points: points, diverged: curve.divergedAfter != nil ? (last ?? (1, 1)) : nil, group: index))
                if !curve.validation.isEmpty {
                    series.append(SVGPlot.Series(name: curve.name + " (validation)", points: curve.validation.enumerated().map { (Double($0.offset + 1), $0.element) },
                                                 dashed: true, group: index, outlier: curve.divergedAfter != nil))
                }
            }
            try writeAtomically(Data(SVGPlot.lines(title: title, subtitle: subtitle, xLabel: unit, yLabel: "loss", series: series,
                                                   integerX: true, logY: true).utf8), to: output + ".svg")
            var csv = "optimizer,epoch,loss,validation_loss\n"
            for curve in curves {
                for (i, loss) in curve.losses.enumerated() {
                    csv += "\"\(curve.name)\",\(i + 1),\(loss),\(i < curve.validation.count ? "\(curve.validation[i])" : "")\n"
                }
            }
            try writeAtomically(Data(csv.utf8), to: output + ".csv")
            print("wrote \(output).svg, \(output).csv")
        }
    }
}
