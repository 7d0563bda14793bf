import Benchmark
import BenchmarkSupport
import DataParallel
import Datasets
import Models
import Optim
import Topology

// The trainer's workloads, each beside the STREAM-like triad that bounds it (same suite, same
// run). Compare p50s as ratios: GB/s of X = bytes of X / time.

let allWorkers = (try? MachineTopology.current().cores.count) ?? 1

/// A gradient evaluator over a synthetic data set, ready to time.
struct GradientWorkload<M: Model> {
    let evaluator: GradientEvaluator<M, Float>
    let parameters: Parameters<Float>
    let data: Dataset<Float>

    /// With the chunk size a fit of one `rows`-row minibatch would use.
    init(_ model: M, task: SyntheticRegression.Task, rows: Int, workers: Int) throws {
        data = try SyntheticRegression(task: task, rows: rows, features: model.inputFeatures, seed: 1).generate(workers: allWorkers)
        parameters = model.makeParameters()
        evaluator = GradientEvaluator(model: model, workers: workers, maxRows: rows)
    }

    func run() -> Double { evaluator.evaluate(parameters, on: data) }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .throughput], warmupIterations: 1,
                                           maxDuration: .seconds(10), maxIterations: 30)

    for workers in Set([1, allWorkers]).sorted() {
        Benchmark("Triad 256MiB threads=\(workers)") { benchmark, triad in
            for _ in benchmark.scaledIterations { triad.run(threads: workers) }
            blackHole(triad.a[0])
        } setup: {
            Triad(count: 1 << 26)
        }

        for d in [32, 256] {
            Benchmark("LinearRegression.gradient X=256MiB d=\(d) workers=\(workers)") { benchmark, workload in
                for _ in benchmark.scaledIterations { blackHole(workload.run()) }
            } setup: {
                try! GradientWorkload(LinearRegression(features: d), task: .linear, rows: (1 << 28) / (4 * d), workers: workers)
            }
        }

        Benchmark("LogisticRegression.gradient rows=16384 d=256 workers=\(workers)") { benchmark, workload in
            for _ in benchmark.scaledIterations { blackHole(workload.run()) }
        } setup: {
            try! GradientWorkload(LogisticRegression(features: 256), task: .logistic, rows: 16_384, workers: workers)
        }

        Benchmark("MLP.gradient rows=16384 d=256 hidden=32 workers=\(workers)") { benchmark, workload in
            for _ in benchmark.scaledIterations { blackHole(workload.run()) }
        } setup: {
            try! GradientWorkload(MLP(features: 256, hidden: [32], loss: .bceWithLogits), task: .logistic, rows: 16_384, workers: workers)
        }

        Benchmark("fit 1 epoch linear n=4M d=32 batch=65536 Adam workers=\(workers)",
                  configuration: .init(metrics: [.wallClock], maxDuration: .seconds(15), maxIterations: 10)) { benchmark, data in
            for _ in benchmark.scaledIterations {
                let model = LinearRegression(features: 32)
                let parameters = model.makeParameters()
                let report = try! fit(model, parameters: parameters, data: data, optimizer: Adam([parameters], lr: 1e-3),
                                      configuration: FitConfiguration(batchSize: 65_536, epochs: 1, workers: workers, scoreTrainingData: false))
                precondition(report.epochs.count == 1)
            }
        } setup: {
            try! SyntheticRegression(task: .linear, rows: 4 << 20, features: 32, seed: 3).generate(workers: allWorkers)
        }
    }
}
