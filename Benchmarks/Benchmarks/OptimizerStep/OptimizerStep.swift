import Benchmark
import BenchmarkSupport
import Optim

let parameterCount = 16 * 1024 * 1024

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput],
        warmupIterations: 2,
        maxDuration: .seconds(10),
        maxIterations: 50
    )

    Benchmark("Triad P=16M (yardstick: a = b + s·c)") { benchmark, triad in
        for _ in benchmark.scaledIterations { triad.run() }
        blackHole(triad.a[0])
    } setup: {
        Triad(count: parameterCount)
    }

    for workload in StepWorkload.allCases {
        Benchmark("\(workload.rawValue).step P=16M Float") { benchmark, prepared in
            let (params, optimizer) = prepared
            for _ in benchmark.scaledIterations { optimizer.step { 0 } }
            precondition(params.values[0].isFinite)
        } setup: {
            try! workload.prepare(count: parameterCount)
        }
    }
}
