// Sparse training throughput against a STREAM-like triad measured in the same run, printed as
// JSON (medians): logistic regression on CSR rows, Adam, minibatches of 65,536 rows, one epoch
// per repetition; its rate is the bytes of CSR an epoch reads (a column index and a value per
// non-zero, an offset and a target per row) per second, over the triad's bytes per second.
//
//   swift run -c release --package-path Benchmarks sparse-throughput [--quick] [--wide-only|--rcv1-only]
//
// Two shapes: rcv1-like (700k rows, 47k features, ~75 non-zeros per row) and wide (10M rows, 1M
// features, ~40 non-zeros per row: 3.2 GB of CSR); --quick takes a tenth of the rows. Also the
// peak resident memory after the wide set (the CSR arrays, the model and Adam's state).

import BenchmarkSupport
import DataParallel
import Datasets
import Foundation
import Models
import Optim
import Topology

let arguments = CommandLine.arguments
let quick = arguments.contains("--quick")
let allWorkers = (try? MachineTopology.current().cores.count) ?? 1
let repetitions = quick ? 3 : 5
var results: [String: Double] = ["workers_all": Double(allWorkers)]
let triad = Triad(count: 1 << 25)
triad.run(threads: allWorkers)
let triadBytes = Double(triad.bytes)

func peakResidentBytes() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) * 1024
}

@MainActor func measure(_ name: String, rows: Int, features: Int, nonZeros: Int) throws {
    let spec = try SyntheticSparse(task: .logistic, rows: rows, features: features, nonZerosPerRow: nonZeros, seed: 1)
    var generated: SparseDataset<Float>?
    var failure: (any Error)?
    results["\(name)_generate_seconds"] = BenchmarkSupport.seconds {
        do { generated = try spec.generate(workers: allWorkers) } catch { failure = error }
    }
    if let failure { throw failure }
    let data = generated!
    results["\(name)_nonzeros"] = Double(data.nonZeros)
    let model = LogisticRegression(features: features)
    for (label, workers) in [("1", 1), ("all", allWorkers)] {
        var ratios: [Double] = [], rates: [Double] = [], shares: [Double] = []
        for _ in 0..<repetitions {
            let triadRate = triadBytes / BenchmarkSupport.seconds { triad.run(threads: workers) }
            let parameters = model.makeParameters()
            let report = try fit(model, parameters: parameters, data: data, optimizer: Adam([parameters], lr: 1e-3),
                                 configuration: FitConfiguration(batchSize: 65_536, epochs: 1, workers: workers, scoreTrainingData: false))
            let rate = Double(data.bytesPerPass) / report.trainingSeconds
            rates.append(rate / 1e9)
            ratios.append(rate / triadRate)
            shares.append(report.reduceSeconds / report.trainingSeconds)
        }
        results["\(name)_epoch_GBps_\(label)"] = median(rates)
        results["\(name)_epoch_over_triad_\(label)"] = median(ratios)
        results["\(name)_reduce_share_\(label)"] = median(shares)
    }
    results["\(name)_csr_bytes"] = Double(data.nonZeros * 8 + (data.rows + 1) * 8 + data.rows * 4)
}

if !arguments.contains("--wide-only") {
    try measure("rcv1_like", rows: quick ? 70_000 : 700_000, features: 47_236, nonZeros: 75)
}
if !arguments.contains("--rcv1-only") {
    try measure("wide", rows: quick ? 1_000_000 : 10_000_000, features: 1_000_000, nonZeros: 40)
    results["wide_peak_resident_bytes"] = peakResidentBytes()
}
results["triad_GBps_1"] = triadBytes / median((0..<repetitions).map { _ in BenchmarkSupport.seconds { triad.run(threads: 1) } }) / 1e9
let json = try JSONSerialization.data(withJSONObject: results, options: [.sortedKeys])
print(String(decoding: json, as: UTF8.self))
