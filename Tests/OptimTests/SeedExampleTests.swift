import Foundation
import Testing

@Suite("Seed example")
struct SeedExampleTests {
    @Test("The seed-example program prints what the PyTorch original prints, line for line")
    func matchesTorchPrintout() throws {
        let resources = Bundle.module.resourceURL!
        let expected = try String(contentsOf: resources.appendingPathComponent("Reference/seed_example_torch_output.txt"), encoding: .utf8)
        // The example is built into the same folder as the test bundle.
        let binary = Bundle.module.bundleURL.deletingLastPathComponent().appendingPathComponent("seed-example")
        try #require(FileManager.default.isExecutableFile(atPath: binary.path), "build the example first: swift build")
        let process = Process()
        process.executableURL = binary
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let mine = output.split(separator: "\n", omittingEmptySubsequences: false)
        let torch = expected.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(mine.count == torch.count)
        for (i, (a, b)) in zip(mine, torch).enumerated() { #expect(a == b, "line \(i + 1): \(a) vs torch \(b)") }
    }
}
