// swift-tools-version: 6.2
// libFuzzer targets for swift-optim's readers: every file format a user hands optim, and every
// loadStateDict. A nested package, so that the main build and its tests stay as they are.
//
//   swift build --package-path Fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
//   Fuzz/.build/debug/fuzz-csv Fuzz/Corpus/csv -max_total_time=600
//
// (The flags instrument the library modules too, so the fuzzer sees their coverage.)
import PackageDescription

let targets = ["csv", "libsvm", "npy", "npz", "safetensors", "checkpoint", "state-dict"]

let package = Package(
    name: "swift-optim-fuzz",
    dependencies: [.package(name: "swift-optim", path: "..")],
    targets: [
        /// The entry point every fuzzer shares: libFuzzer's driver, and inputs as files.
        .target(name: "FuzzSupport", dependencies: [.product(name: "Datasets", package: "swift-optim")]),
    ] + targets.map { name in
        .executableTarget(
            name: "fuzz-\(name)",
            dependencies: ["FuzzSupport", .product(name: "Datasets", package: "swift-optim"),
                           .product(name: "ModelIO", package: "swift-optim"), .product(name: "Optim", package: "swift-optim")],
            path: "Sources/fuzz-\(name)",
            linkerSettings: [.unsafeFlags(["-use-ld=lld"])]
        )
    }
)
