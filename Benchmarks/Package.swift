// swift-tools-version: 6.1
// Benchmarks for swift-optim, kept out of the main package so that `swift build` and
// `swift test` never build the benchmark stack.
//
//   swift package --package-path Benchmarks benchmark          # package-benchmark suites
//   swift run -c release --package-path Benchmarks step-throughput   # medians as JSON

import PackageDescription

#if arch(x86_64)
let vectorISA: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell", "-Xcc", "-fno-math-errno"])]
#else
let vectorISA: [SwiftSetting] = []
#endif

let package = Package(
    name: "swift-optim-benchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "swift-optim", path: "../"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
    ],
    targets: [
        .target(name: "BenchmarkSupport", dependencies: [.product(name: "Optim", package: "swift-optim")],
                swiftSettings: vectorISA),
        /// One optimizer step over 16M Float parameters, against a STREAM-like triad.
        .executableTarget(
            name: "OptimizerStep",
            dependencies: ["BenchmarkSupport", .product(name: "Optim", package: "swift-optim"),
                           .product(name: "Benchmark", package: "benchmark")],
            path: "Benchmarks/OptimizerStep",
            swiftSettings: vectorISA,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        /// The trainer's workloads (gradient passes, an epoch) beside a STREAM-like triad.
        .executableTarget(
            name: "Training",
            dependencies: [
                "BenchmarkSupport", .product(name: "Benchmark", package: "benchmark"),
                .product(name: "DataParallel", package: "swift-optim"), .product(name: "Models", package: "swift-optim"),
                .product(name: "Datasets", package: "swift-optim"), .product(name: "Optim", package: "swift-optim"),
                .product(name: "Topology", package: "swift-optim"),
            ],
            path: "Benchmarks/Training",
            swiftSettings: vectorISA,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        /// The trainer's throughput (gradient pass, speedup, epoch, reduce share) against a triad, as JSON.
        .executableTarget(
            name: "train-throughput",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "DataParallel", package: "swift-optim"), .product(name: "Models", package: "swift-optim"),
                .product(name: "Datasets", package: "swift-optim"), .product(name: "Optim", package: "swift-optim"),
                .product(name: "Topology", package: "swift-optim"),
            ],
            path: "Sources/TrainThroughput",
            swiftSettings: vectorISA
        ),
        /// Sparse (CSR) training epochs against a triad, rcv1-like and wide, as JSON.
        .executableTarget(
            name: "sparse-throughput",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "DataParallel", package: "swift-optim"), .product(name: "Models", package: "swift-optim"),
                .product(name: "Datasets", package: "swift-optim"), .product(name: "Optim", package: "swift-optim"),
                .product(name: "Topology", package: "swift-optim"),
            ],
            path: "Sources/SparseThroughput",
            swiftSettings: vectorISA
        ),
        /// The same workloads timed by hand, medians printed as JSON for tools/compare_step_with_torch.py.
        .executableTarget(
            name: "step-throughput",
            dependencies: ["BenchmarkSupport", .product(name: "Optim", package: "swift-optim")],
            path: "Sources/StepThroughput",
            swiftSettings: vectorISA
        ),
    ]
)
