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
            Under mpirun (an optim built with the trait MPI), every count is workers per rank and \
            the table says how many ranks ran; --reduction times one step's reduction across the \
            ranks (the ordered tree gather against MPI_Allreduce) at 10², 10⁴ and 10⁶ parameters.

            Examples:
              optim scale                       # 1, 2, ..., every allowed core
              optim scale --workers 1,2,4,8 --repetitions 5 --output scaling
              optim scale --dtype float64       # in double precision
              optim scale --sparse --task logistic --rows 700000 \\
                  --features 47236 --non-zeros 75   # sparse rows, rcv1-like
              for r in 1 2 4; do \\
                  mpirun -np $r optim scale --workers 1 --output scale-r$r; done
              mpirun -np 2 optim scale --reduction
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
    @Option(help: "Precision: float32 or float64.") var dtype: DType = .float32
    @Flag(help: "Under mpirun: time one step's reduction across the ranks (tree gather and MPI_Allreduce) instead of training.")
    var reduction = false

    func workerCounts() throws -> [Int] {
        guard let workers else { return Array(1...Launch.current.defaultWorkers) }
        let counts = workers.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !counts.isEmpty, counts.allSatisfy({ (1...4096).contains($0 ?? 0) }) else {
            throw ValidationError("--workers takes positive counts (at most 4096) separated by commas, e.g. 1,2,4; got '\(workers)'")
        }
        return counts.map { $0! }
    }

    func validate() throws {
        _ = try workerCounts()
        if !(1...1000).contains(repetitions) { throw ValidationError("--repetitions must be from 1 to 1000") }
        if !(1...100_000).contains(epochs) { throw ValidationError("--epochs must be from 1 to 100,000") }
        if batchSize < 1 || batchSize > 1 << 40 { throw ValidationError("--batch-size must be at least 1") }
    }

    struct Row: Codable {
        var ranks = 1
        var workers: Int
        var epochSeconds: Double
        var rowsPerSecond: Double
        var bytesPerSecond: Double
        var speedup: Double
        var efficiency: Double
        enum CodingKeys: String, CodingKey {
            case ranks, workers, speedup, efficiency
            case epochSeconds = "epoch_seconds", rowsPerSecond = "rows_per_second", bytesPerSecond = "bytes_per_second"
        }
    }

    func run() throws {
        if reduction { return try measureReduction() }
        switch dtype {
        case .float32: try measure(Float.self)
        case .float64: try measure(Double.self)
        }
    }

    func measure<Scalar: TrainingScalar>(_: Scalar.Type) throws {
        var files = FilePlan()
        files.read("--data", data.data)
        for suffix in [".csv", ".json", ".svg"] { files.write("--output", output.map { $0 + suffix }) }
        try files.check(Scale.self)
        let counts = try workerCounts()
        let launch = Launch.current
        let cores = launch.defaultWorkers
        let model: any Model, rowsToTrain: TrainingRows<Scalar>, name: String, bytesPerEpoch: Int, rowCount: Int
        switch try data.loadRows(workers: cores, bind: bind, as: Scalar.self) {
        case .dense(let loaded):
            let (chosen, dataset) = try self.model.makeIndexed(for: loaded.dataset, task: data.usesFile ? nil : data.syntheticTask)
            (model, rowsToTrain, name, rowCount) = (chosen, .dense(dataset), dataset.name, dataset.rows)
            bytesPerEpoch = dataset.rows * (dataset.features + dataset.targetsPerRow) * MemoryLayout<Scalar>.stride
        case .sparse(let loaded):
            let dataset = loaded.dataset
            let choice = try self.model.make(for: dataset, task: data.usesFile ? nil : data.syntheticTask)
            let indexed = try choice.classIndex.map { try dataset.gathered(rows: Array(0..<dataset.rows), name: dataset.name, targetIndex: $0) } ?? dataset
            (model, rowsToTrain, name, rowCount) = (choice.model, .sparse(indexed), dataset.name, dataset.rows)
            bytesPerEpoch = dataset.bytesPerPass
        }
        let ranks = launch.size > 1 ? "; \(launch.size) ranks, workers per rank" : ""
        print("scaling: \(name); \(model.description); \(optimizer.summary); \(Scalar.dtypeName); \(epochs) epoch(s) × \(repetitions) run(s) per count\(ranks)")
        if let most = counts.max(), most > cores {
            print("warning: \(most) workers on \(cores) allowed cores: workers beyond \(cores) share cores")
        }
        var rows: [Row] = []
        for count in counts {
            var times: [Double] = []
            for _ in 0..<repetitions {
                let parameters = model.makeParameters(seed: data.seed, as: Scalar.self)
                var configuration = FitConfiguration(batchSize: batchSize, epochs: epochs, workers: count, bind: bind, seed: data.seed,
                                                     scoreTrainingData: false)
                configuration.cluster = launch.cluster
                configuration.processingUnits = launch.hostShare
                let report = try fit(model, parameters: parameters, data: rowsToTrain, validation: nil, optimizer: optimizer.make(parameters),
                                     schedule: nil, configuration: configuration,
                                     cancellation: nil, progress: { _ in }, onBatch: { _ in }, checkpoint: { _ in })
                times.append(report.trainingSeconds / Double(report.epochs.count))
            }
            let epoch = times.sorted()[times.count / 2]
            let rowRate = Double(rowCount) / epoch
            rows.append(Row(ranks: launch.size, workers: count, epochSeconds: epoch, rowsPerSecond: rowRate, bytesPerSecond: Double(bytesPerEpoch) / epoch,
                            speedup: 0, efficiency: 0))
        }
        let base = rows[0].epochSeconds * Double(rows[0].workers)
        for i in rows.indices {
            rows[i].speedup = base / rows[i].epochSeconds
            rows[i].efficiency = rows[i].speedup / Double(rows[i].workers)
        }
        print((launch.size > 1 ? "ranks  " : "") + "workers  epoch_s  rows/s     GB/s   speedup  efficiency")
        for r in rows {
            print((launch.size > 1 ? Format.pad("\(r.ranks)", 5, right: true) + "  " : "") + Format.pad("\(r.workers)", 7, right: true) + "  " + Format.pad(Format.fixed(r.epochSeconds, 4), 7, right: true) + "  "
                  + Format.pad(Format.rate(r.rowsPerSecond), 9) + " " + Format.pad(Format.fixed(r.bytesPerSecond / 1e9, 2), 6, right: true) + "  "
                  + Format.pad(Format.fixed(r.speedup, 2), 7, right: true) + "  " + Format.pad(Format.fixed(r.efficiency, 2), 10, right: true))
        }
        if let output, launch.isLead {
            try write(rows, prefix: output, plotTitle: "Speedup by workers\(launch.size > 1 ? " per rank, \(launch.size) ranks" : ""): \(name); \(model.description)")
        }
    }

    func write(_ rows: [Row], prefix: String, plotTitle: String = "Speedup by worker count") throws {
        var csv = "workers,epoch_seconds,rows_per_second,bytes_per_second,speedup,efficiency,ranks\n"
        for r in rows { csv += "\(r.workers),\(r.epochSeconds),\(r.rowsPerSecond),\(r.bytesPerSecond),\(r.speedup),\(r.efficiency),\(r.ranks)\n" }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeAtomically(Data(csv.utf8), to: prefix + ".csv")
        try writeAtomically(encoder.encode(rows), to: prefix + ".json")
        try writeAtomically(Data(SVGPlot.speedup(rows.map { (Double($0.workers), $0.speedup) }, title: plotTitle).utf8), to: prefix + ".svg")
        print("wrote \(prefix).csv, \(prefix).json, \(prefix).svg")
    }
}

/// Writes `data` to `path` through a temporary file and a rename: never half a file.
func writeAtomically(_ data: Data, to path: String) throws {
    do { try data.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
        throw DataFileError(path, nil, "cannot write: \(error.localizedDescription)")
    }
}

