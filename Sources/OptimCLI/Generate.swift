import ArgumentParser
import DataParallel
import Datasets
import Foundation

/// `optim generate`: a synthetic data set to a .npy file, streamed.
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a synthetic regression to a .npy file (features, then the target), streamed, with its true weights.",
        discussion: """
            The file has shape (rows, features + 1), float32, the target in the last column: \
            what `optim train --data FILE` reads, memory-mapped. It is written a block at a time, \
            so it may be larger than memory. The true weights go to FILE.weights.json.

            Example:
              optim generate --task logistic --rows 10000000 --features 32 \\
                  --output big.npy
            """
    )

    @Option(help: "Synthetic task: linear, logistic, multiclass or nonlinear.") var task: SyntheticRegression.Task = .linear
    @Option(help: "Rows.") var rows: Int = 1_000_000
    @Option(help: "Features per row.") var features: Int = 32
    @Option(help: "Classes (multiclass).") var classes: Int = 3
    @Option(help: "Standard deviation of the noise.") var noise: Float = 0.1
    @Option(help: "Seed: row i is a pure function of (seed, i).") var seed: UInt64 = 42
    @Option(name: .shortAndLong, help: "The .npy file to write (a libsvm file, .svm, with --sparse).") var output: String
    @Flag(help: "Sparse rows, as text or click data: about --non-zeros distinct features per row, drawn from a power law (feature j about 1/(j+1) as frequent as feature 0), unit-norm rows; written as libsvm (1-based indices).")
    var sparse = false
    @Option(help: "With --sparse: the mean non-zeros per row (default 40).") var nonZeros: Int?

    func validate() throws {
        if rows < 1 { throw ValidationError("--rows must be at least 1") }
        if features < 1 { throw ValidationError("--features must be at least 1") }
        if sparse {
            if !output.hasSuffix(".svm") { throw ValidationError("--output must end in .svm with --sparse (a libsvm file)") }
            if task == .nonlinear { throw ValidationError("--sparse has the linear, logistic and multiclass tasks") }
            if let nonZeros, nonZeros < 1 || nonZeros > 1 << 20 { throw ValidationError("--non-zeros must be from 1 to 1048576") }
        } else {
            if !output.hasSuffix(".npy") { throw ValidationError("--output must end in .npy") }
            if nonZeros != nil { throw ValidationError("--non-zeros applies to --sparse") }
        }
        if task == .multiclass && classes < 2 { throw ValidationError("--classes must be at least 2") }
    }

    func run() throws {
        var files = FilePlan()
        files.write("--output", output)
        files.write("--output (its true weights)", output + ".weights.json")
        try files.check(Generate.self)
        let interrupted = InterruptFlag.install()
        if sparse { return try writeSparse(interrupted) }
        let spec = try SyntheticRegression(task: task, rows: rows, features: features,
                                           outputs: task == .multiclass ? classes : 1, noise: noise, seed: seed)
        let weights = spec.trueWeights
        // Locals, not the options themselves: each read of an @Option goes through
        // ArgumentParser's property wrapper, far too slow for a loop over every value.
        let rows = rows, features = features, output = output
        // Blocks of about 64 MiB of rows, however wide (at least one row).
        let block = max(1, min(65_536, (1 << 24) / (features + 1)))
        var writer = try NPY.Writer(path: output, rows: rows, columns: features + 1)
        var x = [Float](repeating: 0, count: block * features), y = [Float](repeating: 0, count: block)
        var rowsOut = [Float](repeating: 0, count: block * (features + 1))
        var start = 0
        while start < rows {
            // Ctrl-C or SIGTERM: the half-written file goes, the destination is untouched.
            if interrupted.isCancelled {
                writer.discard()
                throw InterruptedError(checkpoint: nil, message: "interrupted: \(output) was not written (nothing was left behind)")
            }
            let count = min(block, rows - start)
            x.withUnsafeMutableBufferPointer { xs in
                y.withUnsafeMutableBufferPointer { ys in
                    spec.fill(rows: start..<(start + count), x: xs.baseAddress!, y: ys.baseAddress!, weights: weights, workers: nil)
                }
            }
            for r in 0..<count {
                for c in 0..<features { rowsOut[r * (features + 1) + c] = x[r * features + c] }
                rowsOut[r * (features + 1) + features] = y[r]
            }
            do {
                try rowsOut.withUnsafeBufferPointer { try writer.append(UnsafeBufferPointer(rebasing: $0[0..<(count * (features + 1))])) }
            } catch {
                writer.discard()
                throw error
            }
            start += count
        }
        try writer.finish()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeAtomically(encoder.encode(weights), to: output + ".weights.json")
        print("wrote \(output): \(rows) rows × \(features + 1) columns (target last), float32; true weights in \(output).weights.json")
    }

    /// `--sparse`: the rows as libsvm text, a block of rows at a time (generated on every core).
    func writeSparse(_ interrupted: CancellationFlag) throws {
        let spec = try SyntheticSparse(task: task, rows: rows, features: features, nonZerosPerRow: nonZeros ?? 40,
                                       outputs: task == .multiclass ? classes : 1, noise: noise, seed: seed)
        let weights = spec.trueWeights, rows = rows, output = output
        var file = try AtomicFileWriter(path: output)
        let block = 65_536
        var start = 0, entries = 0
        while start < rows {
            if interrupted.isCancelled {
                file.discard()
                throw InterruptedError(checkpoint: nil, message: "interrupted: \(output) was not written (nothing was left behind)")
            }
            let count = min(block, rows - start)
            let part = try spec.generate(rows: start..<(start + count), weights: weights)
            var text = [UInt8]()
            text.reserveCapacity(part.nonZeros * 14 + count * 4)
            for row in 0..<count {
                text += Array(TargetSummary.name(part.target(row)).utf8)
                for entry in part.row(row) { text += Array(" \(entry.column + 1):\(entry.value)".utf8) }
                text.append(UInt8(ascii: "\n"))
            }
            entries += part.nonZeros
            do { try file.write(text) } catch {
                file.discard()
                throw error
            }
            start += count
        }
        try file.commit()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeAtomically(encoder.encode(weights), to: output + ".weights.json")
        print("wrote \(output): \(rows) rows × \(features) features, \(entries) non-zeros (libsvm, 1-based); true weights in \(output).weights.json")
    }
}
