// swift-tools-version: 6.2
// swift-optim: torch.optim for Swift with numerical parity, and a data-parallel CPU trainer.
//
// Tools 6.2: the kernels need the compiler flags below, which SwiftPM calls unsafe, and before 6.2
// it refused a package with such flags as a dependency by version (`from: "0.1.0"`): "the target
// 'Optim' in product 'Optim' contains unsafe build flags". Since 6.2 a package that declares 6.2
// may carry them, so other packages pin releases of this one as usual. (Dropping the flags would
// cost parity and speed: without FMA, torch's fused multiply-adds become libm calls.)

import PackageDescription

// The elementwise update kernels are written as plain loops that LLVM vectorizes. On x86-64 the
// baseline ISA has no FMA instruction, so the `fma` that torch's CPU kernels use (and that parity
// requires) would become a libm call per element. Haswell (2013; every server CPU
// since) adds AVX2 and FMA. Results do not depend on this flag: fma is exactly specified either way.
// A CPU without them is told so at start (`CPUBaseline`, checked by `optim` and by `fit`), not
// left to crash on an illegal instruction.
#if arch(x86_64)
let vectorISA: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell", "-Xcc", "-fno-math-errno"])]
#else
let vectorISA: [SwiftSetting] = []
#endif

// SIMD code unoptimized is a call per lane: data generation and the model kernels run 10-50×
// slower at -Onone. They are built optimized in debug builds too, so that `swift test` (a debug
// build) trains and generates at a usable speed; their tests are unchanged.
let optimizedInDebug: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "swift-optim",
    products: [
        .library(name: "Optim", targets: ["Optim"]),
        .library(name: "Topology", targets: ["Topology"]),
        .library(name: "Datasets", targets: ["Datasets"]),
        .library(name: "Models", targets: ["Models"]),
        .library(name: "DataParallel", targets: ["DataParallel"]),
        .library(name: "ModelIO", targets: ["ModelIO"]),
        /// Fits across processes and hosts on Open MPI; empty unless built with the trait MPI.
        .library(name: "MPICluster", targets: ["MPICluster"]),
    ],
    traits: [
        // Off by default: `swift build` and `swift test` need no MPI. `tools/setup.sh --mpi`
        // installs Open MPI; `swift build --traits MPI --scratch-path .build-mpi` builds with it
        // (its own scratch path: switching traits rebuilds every target).
        .trait(name: "MPI", description: "Training on several processes and hosts over Open MPI (Debian: libopenmpi-dev)"),
        .default(enabledTraits: []),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
        // `swift package generate-documentation` (DocC catalogs in Sources/*/*.docc); a plugin,
        // fetched only by this package, never linked into a product.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // MARK: - Public API

        /// The trainer: minibatches sharded over pinned workers (concurrentPerform), partial
        /// gradients summed in a fixed tree order (results identical for any worker count), one
        /// optimizer step; metrics, early stopping, cancellation, and parallel data generation.
        .target(
            name: "DataParallel",
            dependencies: ["Optim", "Models", "Datasets", "Topology", "VectorMath", "CKernelSupport", .product(name: "RealModule", package: "swift-numerics")],
            swiftSettings: vectorISA
        ),

        /// torch.optim: optimizers, LR schedulers, param groups, state dicts, gradient clipping.
        /// Depends on the standard library only (and the page mappings below).
        .target(
            name: "Optim",
            dependencies: ["PageMapping"],
            swiftSettings: vectorISA
        ),

        /// The machine as hwloc sees it (cores, NUMA nodes, caches, allowed CPUs), worker
        /// placement plans, and thread binding with a soft fallback.
        .target(
            name: "Topology",
            dependencies: ["CHwloc"]
        ),

        /// Data sets in memory (row-major, aligned) and counter-based synthetic regressions with
        /// known true weights.
        .target(
            name: "Datasets",
            dependencies: ["PageMapping", "VectorMath", "CGzip", .product(name: "RealModule", package: "swift-numerics")],
            swiftSettings: vectorISA + optimizedInDebug
        ),

        /// Linear, logistic and softmax regression and small MLPs, each a fused SIMD kernel:
        /// forward + loss + backward over a block of rows.
        .target(
            name: "Models",
            dependencies: ["Optim", "VectorMath", "CKernelSupport", .product(name: "RealModule", package: "swift-numerics")],
            swiftSettings: vectorISA + optimizedInDebug
        ),

        /// `Cluster`'s transport over Open MPI: `MPICommunicator`, one `MPI_Allgatherv` per step;
        /// ranks on one host split its cores. Every file is `#if MPI`: without the trait the
        /// module is empty and nothing needs Open MPI.
        .target(
            name: "MPICluster",
            dependencies: ["DataParallel", "Topology", .target(name: "CMPI", condition: .when(traits: ["MPI"]))]
        ),

        // MARK: - Implementation details

        /// Open MPI's C API (Debian: libopenmpi-dev), for the trait MPI only. No stable API of its own.
        .systemLibrary(
            name: "CMPI",
            pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev"])]
        ),

        /// Large buffers as 2 MiB-aligned anonymous mappings advised as transparent huge pages,
        /// first touched by the thread that writes them.
        .target(name: "PageMapping"),

        /// ln and exp on eight Float lanes by fixed polynomials: synthetic data's Box-Muller and
        /// the logistic loss, vectorized and the same on every machine.
        .target(name: "VectorMath", swiftSettings: vectorISA),

        /// Inline C helpers for the model kernels, where Swift cannot keep LLVM from rewriting them
        /// slower: a horizontal sum (vhaddps), opaque pointers and vectors, a Float→Double widening;
        /// and the spin-wait hint (pause) for the trainer's waiting workers.
        /// Internal to the package (`Models`, `DataParallel`); no stable API of its own.
        .target(name: "CKernelSupport"),

        /// hwloc's C API (Debian: libhwloc-dev). No stable API of its own.
        .systemLibrary(
            name: "CHwloc",
            pkgConfig: "hwloc",
            providers: [.apt(["libhwloc-dev"])]
        ),

        /// zlib's C API (Debian: zlib1g-dev), for gzip-compressed data files. No stable API of its own.
        .systemLibrary(
            name: "CGzip",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),

        /// Weights and checkpoints on disk: safetensors (readable by Python's `safetensors`), written
        /// atomically; .npz archives.
        .target(
            name: "ModelIO",
            dependencies: ["Datasets", "Optim", "Models", "DataParallel", "VectorMath", .product(name: "ZIPFoundation", package: "ZIPFoundation")]
        ),

        /// The seed document's example (15 points, five optimizers), shared by seed-example and
        /// `optim compare --dataset seed`.
        .target(
            name: "SeedRegression",
            dependencies: ["Optim"]
        ),

        // MARK: - Command-line tool

        /// `optim`: train, scale, topology, generate, evaluate. Thin: parses, calls the library, prints.
        .executableTarget(
            name: "optim",
            dependencies: [
                "DataParallel", "Models", "Datasets", "Optim", "Topology", "ModelIO", "SeedRegression", "VectorMath",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .target(name: "MPICluster", condition: .when(traits: ["MPI"])),
            ],
            path: "Sources/OptimCLI"
        ),

        // MARK: - Examples

        /// The seed document's example: a 15-point linear regression fitted by five optimizers.
        .executableTarget(
            name: "seed-example",
            dependencies: ["SeedRegression"],
            path: "Examples/SeedExample"
        ),

        /// The README's data-parallel fit, as a program.
        .executableTarget(
            name: "fit-example",
            dependencies: ["DataParallel", "Datasets", "Models", "Optim"],
            path: "Examples/FitExample"
        ),

        // MARK: - Tests

        .testTarget(
            name: "CLITests",
            dependencies: ["Datasets", "ModelIO", .product(name: "ZIPFoundation", package: "ZIPFoundation")],
            exclude: ["RealData", "SparseNPZ"]  // data files the tests read by path (tools/make_real_data_fixtures.py, make_sparse_npz_fixtures.py)
        ),
        .testTarget(
            name: "DataParallelTests",
            dependencies: ["DataParallel", "Models", "Datasets", "Optim", "Topology", "ModelIO"]
        ),
        .testTarget(
            name: "ModelsTests",
            dependencies: ["Models"]
        ),
        .testTarget(
            name: "DatasetsTests",
            dependencies: ["Datasets"]
        ),
        .testTarget(
            name: "VectorMathTests",
            dependencies: ["VectorMath"]
        ),
        .testTarget(
            name: "TopologyTests",
            dependencies: ["Topology"]
        ),
        .testTarget(
            name: "OptimTests",
            dependencies: ["Optim"],
            resources: [.copy("Fixtures"), .copy("Reference")],
            swiftSettings: vectorISA
        ),
    ],
    swiftLanguageModes: [.v6]
)
