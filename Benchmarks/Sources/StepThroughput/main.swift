// Times one optimizer step over P Float parameters (and a STREAM-like triad over P elements) and
// prints the medians as JSON: the Swift side of tools/compare_step_with_torch.py.
//
//   swift run -c release --package-path Benchmarks step-throughput [P] [repetitions]

import BenchmarkSupport
import Foundation
import Optim

let arguments = CommandLine.arguments
let count = arguments.count > 1 ? Int(arguments[1])! : 16 * 1024 * 1024
let repetitions = arguments.count > 2 ? Int(arguments[2])! : 21


var results: [String: Double] = [:]
let triad = Triad(count: count)
triad.run()
let triadSeconds = median((0..<repetitions).map { _ in seconds { triad.run() } })
results["triad_GBps"] = Double(count * Triad.bytesPerElement) / triadSeconds / 1e9

// The step on one thread, then sliced over `threads` threads (ElementwiseOptimizer.parallelStep,
// as fit lends its workers; bitwise the same result).
let threads = arguments.count > 3 ? Int(arguments[3])! : ProcessInfo.processInfo.activeProcessorCount
for workload in StepWorkload.allCases {
    let (params, optimizer) = try workload.prepare(count: count)
    let time = median((0..<repetitions).map { _ in seconds { optimizer.step { 0 } } })
    results["\(workload.rawValue)_Gparam_per_s"] = Double(count) / time / 1e9
    results["\(workload.rawValue)_GBps"] = Double(count * workload.bytesPerParameter) / time / 1e9
    if let stepping = optimizer as? any ParallelStepping, threads > 1 {
        stepping.parallelStep = { pieces, body in
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                var piece = t
                while piece < pieces {
                    body(piece)
                    piece += threads
                }
            }
        }
        optimizer.step { 0 }
        let parallelTime = median((0..<repetitions).map { _ in seconds { optimizer.step { 0 } } })
        results["\(workload.rawValue)_Gparam_per_s_\(threads)_threads"] = Double(count) / parallelTime / 1e9
    }
    precondition(params.values[0].isFinite)
}
results["threads"] = Double(threads)

let json = try JSONSerialization.data(withJSONObject: results.merging(["parameters": Double(count)]) { a, _ in a },
                                      options: [.sortedKeys])
print(String(decoding: json, as: UTF8.self))
