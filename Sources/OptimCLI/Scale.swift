import ArgumentParser
import DataParallel
import Datasets
import Foundation
import Models
import Topology

/// `optim scale`: the same training at 1, 2, ... N workers.
struct Scale: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Scaling benchmark: the same training at each worker count; a table, CSV, JSON and an SVG speedup plot.",
        discussion: """
            Examples:
              optim scale                       # 1, 2, ..., every allowed core
              optim scale --workers 1,2,4,8 --repetitions 5 --output scaling
            """
    )

    @OptionGroup(title: "Data") var data: DataOptions
    @OptionGroup(title: "Model") var model: ModelOptions
    @OptionGroup(title: "Optimizer") var optimizer: OptimizerOptions

    @Option(help: "Worker counts, comma-separated (default: 1, 2, ..., every allowed core within the CPU quota).") var workers: String?
    @Option(help: "Runs per worker count; the table shows medians.") var repetitions: Int = 3
    @Option(help: "Epochs per run.") var epochs: Int = 1
    @Option(help: "Rows per minibatch.") var batchSize: Int = 65_536
    @Flag(inversion: .prefixedNo, help: "Pin workers to cores with hwloc.") var bind = true
    @Option(help: "Write PREFIX.csv, PREFIX.json and PREFIX.svg.") var output: String?

    func workerCounts() throws -> [Int] {
        guard let workers else { return Array(1...defaultWorkerCount()) }
        let counts = workers.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !counts.isEmpty, counts.allSatisfy({ ($0 ?? 0) >= 1 }) else {
            throw ValidationError("--workers takes positive counts separated by commas, e.g. 1,2,4; got '\(workers)'")
        }
        return counts.map { $0! }
    }

    func validate() throws {
        _ = try workerCounts()
        if repetitions < 1 { throw ValidationError("--repetitions must be at least 1") }
        if epochs < 1 { throw ValidationError("--epochs must be at least 1") }
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
    }

    struct Row: Codable {
        var workers: Int
        var epochSeconds: Double
        var rowsPerSecond: Double
        var bytesPerSecond: Double
        var speedup: Double
        var efficiency: Double
        enum CodingKeys: String, CodingKey {
            case workers, speedup, efficiency
            case epochSeconds = "epoch_seconds", rowsPerSecond = "rows_per_second", bytesPerSecond = "bytes_per_second"
        }
    }

    func run() throws {
        let counts = try workerCounts()
        let cores = defaultWorkerCount()
        let (model, dataset) = try self.model.makeIndexed(for: data.load(workers: cores, bind: bind).dataset,
                                                         task: data.usesFile ? nil : data.syntheticTask)
        print("scaling: \(dataset.name); \(model.description); \(optimizer.summary); \(epochs) epoch(s) × \(repetitions) run(s) per count")
        if let most = counts.max(), most > cores {
            print("warning: \(most) workers on \(cores) allowed cores: workers beyond \(cores) share cores")
        }
        var rows: [Row] = []
        for count in counts {
            var times: [Double] = []
            for _ in 0..<repetitions {
                let parameters = model.makeParameters(seed: data.seed)
                let report = try fit(model, parameters: parameters, data: dataset, optimizer: optimizer.make(parameters),
                                     configuration: FitConfiguration(batchSize: batchSize, epochs: epochs, workers: count, bind: bind,
                                                                     seed: data.seed, scoreTrainingData: false))
                times.append(report.trainingSeconds / Double(report.epochs.count))
            }
            let epoch = times.sorted()[times.count / 2]
            let rowRate = Double(dataset.rows) / epoch
            rows.append(Row(workers: count, epochSeconds: epoch, rowsPerSecond: rowRate,
                            bytesPerSecond: Double(dataset.rows * (dataset.features + dataset.targetsPerRow) * 4) / epoch,
                            speedup: 0, efficiency: 0))
        }
        let base = rows[0].epochSeconds * Double(rows[0].workers)
        for i in rows.indices {
            rows[i].speedup = base / rows[i].epochSeconds
            rows[i].efficiency = rows[i].speedup / Double(rows[i].workers)
        }
        print("workers  epoch_s  rows/s     GB/s   speedup  efficiency")
        for r in rows {
            print(Format.pad("\(r.workers)", 7, right: true) + "  " + Format.pad(Format.fixed(r.epochSeconds, 4), 7, right: true) + "  "
                  + Format.pad(Format.rate(r.rowsPerSecond), 9) + " " + Format.pad(Format.fixed(r.bytesPerSecond / 1e9, 2), 6, right: true) + "  "
                  + Format.pad(Format.fixed(r.speedup, 2), 7, right: true) + "  " + Format.pad(Format.fixed(r.efficiency, 2), 10, right: true))
        }
        if let output { try write(rows, prefix: output) }
    }

    func write(_ rows: [Row], prefix: String) throws {
        var csv = "workers,epoch_seconds,rows_per_second,bytes_per_second,speedup,efficiency\n"
        for r in rows { csv += "\(r.workers),\(r.epochSeconds),\(r.rowsPerSecond),\(r.bytesPerSecond),\(r.speedup),\(r.efficiency)\n" }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeAtomically(Data(csv.utf8), to: prefix + ".csv")
        try writeAtomically(encoder.encode(rows), to: prefix + ".json")
        try writeAtomically(Data(SVGPlot.speedup(rows.map { (Double($0.workers), $0.speedup) }).utf8), to: prefix + ".svg")
        print("wrote \(prefix).csv, \(prefix).json, \(prefix).svg")
    }
}

/// Writes `data` to `path` through a temporary file and a rename: never half a file.
func writeAtomically(_ data: Data, to path: String) throws {
    do { try data.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
        throw DataFileError(path, nil, "cannot write: \(error.localizedDescription)")
    }
}

/// Small, dependency-free SVG charts.
enum SVGPlot {
    /// Speedup against workers, with the ideal (linear) speedup dashed.
    static func speedup(_ points: [(Double, Double)]) -> String {
        lines(title: "Speedup by worker count", xLabel: "workers", yLabel: "speedup",
              series: [("measured", points), ("ideal", points.map { ($0.0, $0.0) })], dashed: ["ideal"])
    }

    /// Line chart of named series.
    static func lines(title: String, xLabel: String, yLabel: String, series: [(String, [(Double, Double)])],
                      dashed: Set<String> = [], logY: Bool = false) -> String {
        let width = 800.0, height = 420.0, left = 80.0, right = 250.0, top = 40.0, bottom = 50.0
        let all = series.flatMap(\.1)
        let transform: (Double) -> Double = { logY ? log10(max($0, 1e-12)) : $0 }
        let xs = all.map(\.0), ys = all.map { transform($0.1) }
        let xMin = xs.min() ?? 0, xMax = max(xs.max() ?? 1, xMin + 1e-9)
        let yMin = min(ys.min() ?? 0, logY ? ys.min() ?? 0 : 0), yMax = max(ys.max() ?? 1, yMin + 1e-9)
        func px(_ x: Double) -> Double { left + (x - xMin) / (xMax - xMin) * (width - left - right) }
        func py(_ y: Double) -> Double { height - bottom - (transform(y) - yMin) / (yMax - yMin) * (height - top - bottom) }
        let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939"]
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        svg += "<text x=\"\(width / 2)\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">\(title)</text>\n"
        svg += "<line x1=\"\(left)\" y1=\"\(height - bottom)\" x2=\"\(width - right)\" y2=\"\(height - bottom)\" stroke=\"black\"/>\n"
        svg += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(height - bottom)\" stroke=\"black\"/>\n"
        for i in 0...4 {
            let fraction = Double(i) / 4
            let xValue = xMin + fraction * (xMax - xMin), yValue = yMin + fraction * (yMax - yMin)
            let shownY = logY ? pow(10, yValue) : yValue
            svg += "<text x=\"\(px(xValue))\" y=\"\(height - bottom + 18)\" text-anchor=\"middle\">\(Format.general(xValue))</text>\n"
            svg += "<text x=\"\(left - 6)\" y=\"\(height - bottom - fraction * (height - top - bottom) + 4)\" text-anchor=\"end\">\(Format.general(shownY))</text>\n"
        }
        svg += "<text x=\"\((left + width - right) / 2)\" y=\"\(height - 12)\" text-anchor=\"middle\">\(xLabel)</text>\n"
        svg += "<text x=\"16\" y=\"\(height / 2)\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(height / 2))\">\(yLabel)</text>\n"
        for (index, (name, points)) in series.enumerated() {
            let color = colors[index % colors.count]
            let path = points.map { "\(px($0.0)),\(py($0.1))" }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"\(dashed.contains(name) ? " stroke-dasharray=\"6 4\"" : "") points=\"\(path)\"/>\n"
            for point in points where points.count <= 40 {
                svg += "<circle cx=\"\(px(point.0))\" cy=\"\(py(point.1))\" r=\"3\" fill=\"\(color)\"/>\n"
            }
            svg += "<text x=\"\(width - right + 10)\" y=\"\(top + 18 * Double(index))\" fill=\"\(color)\">\(name)</text>\n"
        }
        return svg + "</svg>\n"
    }
}
