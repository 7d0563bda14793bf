// The trainer's throughput, against a STREAM-like triad measured in the same run, printed as JSON
// (medians): the Swift side of tools/compare_epoch_with_torch.py and the README's tables.
//
//   swift run -c release --package-path Benchmarks train-throughput [--quick]

import BenchmarkSupport
import DataParallel
import Datasets
import Dispatch
import Foundation
import Models
import Optim
import Topology

let quick = CommandLine.arguments.contains("--quick")

// --epoch ROWS WORKERS REPETITIONS: only the end-to-end epoch (linear regression, d = 32,
// batch 65536, Adam), median seconds as JSON; what tools/compare_epoch_with_torch.py calls.
if let flag = CommandLine.arguments.firstIndex(of: "--epoch") {
    let arguments = CommandLine.arguments
    let rows = Int(arguments[flag + 1])!, workers = Int(arguments[flag + 2])!, repetitions = Int(arguments[flag + 3])!
    let data = try SyntheticRegression(task: .linear, rows: rows, features: 32, seed: 3).generate(workers: workers)
    let model = LinearRegression(features: 32)
    // Beside each epoch, a bare read of X on as many threads: the floor of any epoch here.
    let read = BareRead(data.x.base, count: data.rows * data.rowStride)
    var epochs: [Double] = [], reads: [Double] = [], sink: Float = 0
    for _ in 0..<repetitions {
        let parameters = model.makeParameters()
        let report = try fit(model, parameters: parameters, data: data, optimizer: Adam([parameters], lr: 1e-3),
                             configuration: FitConfiguration(batchSize: 65_536, epochs: 1, workers: workers))
        epochs.append(report.trainingSeconds)
        reads.append(seconds { sink += read.run(threads: workers) })
        if arguments.contains("--breakdown") {
            print("compute \(report.computeSeconds) reduce \(report.reduceSeconds) step \(report.stepSeconds) total \(report.trainingSeconds)")
        }
    }
    print("{\"epoch_seconds\": \(median(epochs)), \"read_seconds\": \(median(reads)), \"sum\": \(sink.isFinite ? 1 : 0)}")
    exit(0)
}
let allWorkers = (try? MachineTopology.current().cores.count) ?? 1
let repetitions = quick ? 3 : 7

func time(_ body: () -> Void) -> Double { seconds(body) }

var results: [String: Double] = ["workers_all": Double(allWorkers)]
let triad = Triad(count: quick ? 1 << 24 : 1 << 26)
triad.run(threads: allWorkers)
let triadBytes = Double(triad.bytes)
results["triad_GBps_1"] = triadBytes / median((0..<repetitions).map { _ in time { triad.run(threads: 1) } }) / 1e9
results["triad_GBps_all"] = triadBytes / median((0..<repetitions).map { _ in time { triad.run(threads: allWorkers) } }) / 1e9
// How far the machine's own bandwidth scales from one core to all: the bound on any DRAM-bound speedup.
results["triad_speedup"] = results["triad_GBps_all"]! / results["triad_GBps_1"]!

// The fused gradient pass of linear regression (MSE), as a fraction of the triad's bandwidth
// measured right before it in the same repetition (the machine is shared: ratios, not rates), in
// float32 and in float64 (the same rows widened: twice the bytes).
@MainActor func gradientRatios<Scalar: TrainingScalar>(_ data: Dataset<Scalar>, d: Int, key: String) {
    let model = LinearRegression(features: d)
    let parameters = model.makeParameters(as: Scalar.self)
    let rows = data.rows
    for (label, workers) in [("1", 1), ("all", allWorkers)] {
        let evaluator = GradientEvaluator<LinearRegression, Scalar>(model: model, workers: workers, maxRows: rows)
        _ = evaluator.evaluate(parameters, on: data)
        var rates: [Double] = [], ratios: [Double] = []
        for _ in 0..<repetitions {
            let triadRate = triadBytes / time { triad.run(threads: workers) }
            let rate = Double(data.featureBytes) / time { _ = evaluator.evaluate(parameters, on: data) }
            rates.append(rate / 1e9)
            ratios.append(rate / triadRate)
        }
        results["gradient_d\(d)\(key)_GBps_\(label)"] = median(rates)
        results["gradient_d\(d)\(key)_over_triad_\(label)"] = median(ratios)
    }
}
for d in [32, 256] {
    let rows = (quick ? 1 << 26 : 1 << 28) / (4 * d)   // 64 MiB (quick) or 256 MiB of X in float32
    let data = try SyntheticRegression(task: .linear, rows: rows, features: d, seed: 1).generate(workers: allWorkers)
    gradientRatios(data, d: d, key: "")
    gradientRatios(try data.converted(to: Double.self), d: d, key: "_f64")
}

// Speedup from 1 to every worker for logistic regression and an MLP at d = 256: a few passes on
// each timed back to back in each repetition (as a training loop runs them), the median of the
// ratios of 61 repetitions (a pass is 0.1-5 ms, and a shared machine's noise comes in bursts
// longer than that). A 16 MiB minibatch
// (cache-resident: the engine's own scaling) and a 128 MiB pass (DRAM-bound: the machine's
// bandwidth scaling).
let speedupRows = 16_384
let speedupData = try SyntheticRegression(task: .logistic, rows: speedupRows, features: 256, seed: 2).generate(workers: allWorkers)
func speedup<M: Model>(_ model: M, _ speedupData: Dataset<Float>) -> Double {
    let parameters = model.makeParameters()
    let one = GradientEvaluator<M, Float>(model: model, workers: 1, maxRows: speedupData.rows)
    let all = GradientEvaluator<M, Float>(model: model, workers: allWorkers, maxRows: speedupData.rows)
    _ = one.evaluate(parameters, on: speedupData); _ = all.evaluate(parameters, on: speedupData)
    let passes = speedupData.rows > speedupRows ? 1 : 4
    return median((0..<61).map { _ in
        time { for _ in 0..<passes { _ = one.evaluate(parameters, on: speedupData) } }
            / time { for _ in 0..<passes { _ = all.evaluate(parameters, on: speedupData) } }
    })
}
results["speedup_logistic_d256"] = speedup(LogisticRegression(features: 256), speedupData)
results["speedup_mlp_d256"] = speedup(MLP(features: 256, hidden: [32], activation: .relu, loss: .bceWithLogits), speedupData)
let streamingData = try SyntheticRegression(task: .logistic, rows: 131_072, features: 256, seed: 2).generate(workers: allWorkers)
results["speedup_logistic_d256_streaming"] = speedup(LogisticRegression(features: 256), streamingData)

// One epoch of linear regression, n = 4M, d = 32, batch 65536, Adam; and the share of a step that
// reducing and stepping take at batch 65536, d = 64.
let epochRows = quick ? 1 << 20 : 4 << 20
let epochData = try SyntheticRegression(task: .linear, rows: epochRows, features: 32, seed: 3).generate(workers: allWorkers)
for (label, workers) in [("1", 1), ("all", allWorkers)] {
    let model = LinearRegression(features: 32)
    var epochs: [Double] = []
    for _ in 0..<(quick ? 2 : 5) {
        let parameters = model.makeParameters()
        let report = try fit(model, parameters: parameters, data: epochData, optimizer: Adam([parameters], lr: 1e-3),
                             configuration: FitConfiguration(batchSize: 65_536, epochs: 1, workers: workers))
        epochs.append(report.trainingSeconds)
    }
    results["epoch_seconds_\(label)"] = median(epochs)
}
do {
    let data = try SyntheticRegression(task: .linear, rows: 65_536 * 16, features: 64, seed: 4).generate(workers: allWorkers)
    let model = LinearRegression(features: 64)
    let parameters = model.makeParameters()
    let report = try fit(model, parameters: parameters, data: data, optimizer: Adam([parameters], lr: 1e-3),
                         configuration: FitConfiguration(batchSize: 65_536, epochs: 3, workers: allWorkers))
    results["reduce_step_share_b65536_d64"] = (report.reduceSeconds + report.stepSeconds) / report.trainingSeconds
}

let json = try JSONSerialization.data(withJSONObject: results, options: [.sortedKeys])
print(String(decoding: json, as: UTF8.self))
