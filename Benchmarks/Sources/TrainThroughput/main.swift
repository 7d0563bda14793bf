// The trainer's throughput, against a STREAM-like triad measured in the same run, printed as JSON
// (medians): the Swift side of tools/compare_epoch_with_torch.py and the README's tables.
//
//   swift run -c release --package-path Benchmarks train-throughput [--quick]

import DataParallel
import Datasets
import Dispatch
import Foundation
import Models
import Optim
import Topology

let quick = CommandLine.arguments.contains("--quick")
let allWorkers = (try? MachineTopology.current().cores.count) ?? 1
let repetitions = quick ? 3 : 7

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
func time(_ body: () -> Void) -> Double {
    let start = ContinuousClock.now
    body()
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

/// Pointers shared with concurrentPerform's iterations (disjoint ranges per iteration).
struct Shared: @unchecked Sendable { let a: UnsafeMutablePointer<Float>, b: UnsafeMutablePointer<Float>, c: UnsafeMutablePointer<Float> }

/// STREAM-like triad a = b + s·c over n floats, split over `threads` (12 bytes per element counted).
func triad(threads: Int, n: Int) -> Double {
    let a = FloatStorage(count: n), b = FloatStorage(count: n), c = FloatStorage(count: n)
    let shared = Shared(a: a.base, b: b.base, c: c.base)
    let run = {
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let lo = t * n / threads, hi = (t + 1) * n / threads
            for i in lo..<hi { shared.a[i] = shared.b[i] + 3 * shared.c[i] }
        }
    }
    run()
    return Double(12 * n) / median((0..<repetitions).map { _ in time(run) }) / 1e9
}

var results: [String: Double] = ["workers_all": Double(allWorkers)]
let triadElements = quick ? 1 << 24 : 1 << 26
results["triad_GBps_1"] = triad(threads: 1, n: triadElements)
results["triad_GBps_all"] = triad(threads: allWorkers, n: triadElements)

// The fused gradient pass of linear regression (MSE): GB/s of X read.
for d in [32, 256] {
    let rows = (quick ? 1 << 26 : 1 << 28) / (4 * d)   // 64 MiB (quick) or 256 MiB of X
    let data = try SyntheticRegression(task: .linear, rows: rows, features: d, seed: 1).generate(workers: allWorkers)
    let model = LinearRegression(features: d)
    let parameters = model.makeParameters()
    for (label, workers) in [("1", 1), ("all", allWorkers)] {
        let evaluator = GradientEvaluator(model: model, workers: workers, chunkRows: 4096, maxRows: rows)
        _ = evaluator.evaluate(parameters, on: data)
        let seconds = median((0..<repetitions).map { _ in time { _ = evaluator.evaluate(parameters, on: data) } })
        results["gradient_d\(d)_GBps_\(label)"] = Double(data.featureBytes) / seconds / 1e9
    }
}

// Speedup from 1 to every worker for logistic regression and an MLP at d = 256.
let speedupRows = quick ? 32_768 : 131_072
for (name, model) in [("logistic", LogisticRegression(features: 256) as any Model),
                      ("mlp", MLP(features: 256, hidden: [32], activation: .relu, loss: .bceWithLogits) as any Model)] {
    let data = try SyntheticRegression(task: .logistic, rows: speedupRows, features: 256, seed: 2).generate(workers: allWorkers)
    func measure<M: Model>(_ model: M) -> [Double] {
        let parameters = model.makeParameters()
        return [1, allWorkers].map { workers in
            let evaluator = GradientEvaluator(model: model, workers: workers, maxRows: speedupRows)
            _ = evaluator.evaluate(parameters, on: data)
            return median((0..<repetitions).map { _ in time { _ = evaluator.evaluate(parameters, on: data) } })
        }
    }
    let times = measure(model)
    results["speedup_\(name)_d256"] = times[0] / times[1]
}

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
