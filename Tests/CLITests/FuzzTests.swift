import Foundation
import Testing

/// The libFuzzer targets of `Fuzz/`, built with the fuzzer and address sanitizers and run briefly
/// on their seed corpus (a longer run: README, Reliability).
@Suite("Fuzzing")
struct FuzzTests {
    static let targets = ["csv", "libsvm", "npy", "npz", "safetensors", "checkpoint", "state-dict"]
    var root: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }

    /// Runs a command; leak checks off (Foundation's fileSystemRepresentation, which ZIPFoundation
    /// calls, leaks a path buffer per archive opened: not a crash, and not ours).
    func shell(_ arguments: [String]) throws -> Run {
        try optim([], environment: ["ASAN_OPTIONS": "detect_leaks=0"], executable: "/usr/bin/env", arguments: arguments)
    }

    @Test("Each fuzz target builds with -sanitize=fuzzer,address and runs its corpus and 5 seconds of mutations without a crash")
    func briefRuns() throws {
        #if os(Linux)
        let build = try shell(["swift", "build", "--package-path", root.appendingPathComponent("Fuzz").path,
                               "-Xswiftc", "-sanitize=fuzzer,address", "-Xswiftc", "-parse-as-library"])
        try #require(build.status == 0, "the fuzz targets do not build: \(build.stderr.suffix(3000)) \(build.stdout.suffix(2000))")
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        for target in Self.targets {
            let work = directory.appendingPathComponent(target)
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
            let binary = root.appendingPathComponent("Fuzz/.build/debug/fuzz-\(target)").path
            // libFuzzer writes much to stderr: into a file, not a pipe nobody reads while it runs.
            let log = work.appendingPathComponent("log").path
            let command = "\"\(binary)\" \"\(work.path)\" \"\(root.appendingPathComponent("Fuzz/Corpus/\(target)").path)\" -max_total_time=5 -rss_limit_mb=4096 -detect_leaks=0 -artifact_prefix=\"\(work.path)/\" > \"\(log)\" 2>&1"
            let status = try shell(["sh", "-c", command]).status
            let run = Run(status: status, stdout: "", stderr: (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
            let done = run.stderr.split(separator: "\n").last { $0.hasPrefix("Done ") }
            #expect(run.status == 0 && done != nil, "fuzz-\(target): exit \(run.status)\n\(run.stderr.suffix(3000))")
        }
        #endif
    }
}
