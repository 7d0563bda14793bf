import Foundation
import Testing

/// The package as others use it: a dependency by version, on the CPUs it supports and the ones it does not.
@Suite("swift-optim as a dependency")
struct PackageUseTests {
    var root: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }

    /// Runs `command` with `arguments` in `directory`; its status and what it printed.
    func shell(_ command: String, _ arguments: [String], in directory: URL? = nil) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [command] + arguments
        if let directory { process.currentDirectoryURL = directory }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile(), stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    @Test("A package that depends on a tagged clone of this repository by version (from: \"0.1.0\") builds and runs a fit")
    func dependencyByVersion() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let clone = directory.appendingPathComponent("swift-optim")
        let cloned = try shell("git", ["clone", "--quiet", "--no-hardlinks", root.path, clone.path])
        #expect(cloned.status == 0, "\(cloned.stderr)")
        // The manifest and sources as they are in this checkout (a run may have changes not yet
        // committed), committed in the clone and tagged as the release.
        for item in ["Package.swift", "Sources"] { _ = try shell("cp", ["-R", root.appendingPathComponent(item).path, clone.path + "/"]) }
        _ = try shell("git", ["-C", clone.path, "add", "-A"])
        let committed = try shell("git", ["-C", clone.path, "-c", "user.name=test", "-c", "user.email=test@example.com",
                                          "commit", "--quiet", "--allow-empty", "-m", "release"])
        #expect(committed.status == 0, "\(committed.stderr)")
        #expect(try shell("git", ["-C", clone.path, "tag", "0.1.0"]).status == 0)

        let app = directory.appendingPathComponent("app")
        try FileManager.default.createDirectory(at: app.appendingPathComponent("Sources/app"), withIntermediateDirectories: true)
        try """
            // swift-tools-version: 6.0
            import PackageDescription
            let package = Package(
                name: "app",
                dependencies: [.package(url: "\(clone.absoluteURL.absoluteString)", from: "0.1.0")],
                targets: [.executableTarget(name: "app", dependencies: [
                    .product(name: "Optim", package: "swift-optim"), .product(name: "DataParallel", package: "swift-optim"),
                    .product(name: "Models", package: "swift-optim"), .product(name: "Datasets", package: "swift-optim")])]
            )
            """.write(to: app.appendingPathComponent("Package.swift"), atomically: true, encoding: .utf8)
        try """
            import DataParallel
            import Datasets
            import Models
            import Optim
            let data = try SyntheticRegression(task: .linear, rows: 10_000, features: 8, noise: 0.1, seed: 1).generate()
            let model = LinearRegression(features: 8)
            let parameters = model.makeParameters(seed: 1)
            let report = try fit(model, parameters: parameters, data: data, optimizer: Adam([parameters], lr: 0.05),
                                 configuration: FitConfiguration(batchSize: 512, epochs: 5))
            print("final loss", report.epochs.last!.trainingLoss)
            """.write(to: app.appendingPathComponent("Sources/app/main.swift"), atomically: true, encoding: .utf8)
        let run = try shell("swift", ["run", "--package-path", app.path, "app"])
        #expect(run.status == 0, "\(run.stderr.suffix(2000))")
        let loss = run.stdout.split(separator: "\n").last { $0.hasPrefix("final loss") }.flatMap { Double($0.split(separator: " ").last ?? "") }
        #expect(loss != nil && loss! < 0.05, "\(run.stdout)")
    }

    @Test("On a CPU without AVX2 and FMA (qemu's Nehalem), optim says so and exits 1 instead of dying of SIGILL")
    func cpuWithoutBaseline() throws {
        #if arch(x86_64)
        guard try shell("sh", ["-c", "command -v qemu-x86_64"]).status == 0 else {
            print("skipped: no qemu-x86_64 (bash tools/setup.sh --tests installs qemu-user)")
            return
        }
        let old = try shell("qemu-x86_64", ["-cpu", "Nehalem", optimBinary().path, "train", "--rows", "1000"])
        #expect(old.status == 1 && old.stderr.contains("this CPU lacks AVX2 or FMA"), "exit \(old.status): \(old.stderr)")
        let new = try shell("qemu-x86_64", ["-cpu", "Haswell", optimBinary().path, "train", "--rows", "1000", "-q"])
        #expect(new.status == 0, "exit \(new.status): \(new.stderr)")
        #endif
    }
}
