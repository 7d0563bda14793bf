import ArgumentParser
import Datasets
import ModelIO
import DataParallel

/// Where the data comes from: a synthetic regression, or a file.
struct DataOptions: ParsableArguments {
    @Option(help: "A data file: .npy (target in the last column unless --target says), .npz with arrays X and y, CSV with a header (--target names the column), or libsvm (.svm, .libsvm, .txt).")
    var data: String?

    @Option(help: "The target column: a name (CSV) or a 0-based index (.npy, CSV).")
    var target: String?

    @Option(help: ArgumentHelp("A CSV column to leave out (an id, a text column); give it once per column.", valueName: "column"))
    var ignore: [String] = []

    @Flag(help: "Skip the CSV rows with a missing value (an empty field, NA, NaN, null, ...) instead of stopping at the first.")
    var skipIncompleteRows = false

    @Option(help: "Synthetic task: linear, logistic, multiclass or nonlinear.")
    var task: SyntheticRegression.Task = .linear

    @Option(help: "Synthetic rows.")
    var rows: Int = 2_000_000

    @Option(help: "Synthetic features per row (d).")
    var features: Int = 64

    @Option(help: "Synthetic outputs (linear) or classes (multiclass).")
    var outputs: Int?

    @Option(help: "Standard deviation of the synthetic noise.")
    var noise: Float = 0.1

    @Option(help: "Seed of the synthetic data, the initial weights and the minibatch order.")
    var seed: UInt64 = 42

    var usesFile: Bool { data != nil }

    func validate() throws {
        if data == nil && target != nil { throw ValidationError("--target applies to --data files only") }
        if !(data?.lowercased().hasSuffix(".csv") ?? false) && (!ignore.isEmpty || skipIncompleteRows) {
            throw ValidationError("--ignore and --skip-incomplete-rows apply to --data CSV files only")
        }
        if rows < 1 { throw ValidationError("--rows must be at least 1") }
        if features < 1 { throw ValidationError("--features must be at least 1") }
        if let outputs, outputs < 1 { throw ValidationError("--outputs must be at least 1") }
    }

    /// Loads the file or generates the synthetic data on `workers` pinned workers.
    func load(workers: Int, bind: Bool) throws -> Dataset {
        if let path = data {
            let lower = path.lowercased()
            if lower.hasSuffix(".npy") {
                let column: Int?
                if let target {
                    guard let index = Int(target) else {
                        throw DataFileError(path, nil, "--target must be a column index for .npy files, got '\(target)'")
                    }
                    column = index
                } else {
                    column = nil
                }
                return try NPY.load(path: path, targetColumn: column)
            }
            if lower.hasSuffix(".npz") {
                guard target == nil else { throw DataFileError(path, nil, "--target does not apply to .npz archives (they hold X and y)") }
                return try NPZ.load(path: path)
            }
            if lower.hasSuffix(".csv") {
                guard let target else { throw DataFileError(path, nil, "a CSV file needs --target COLUMN (a header name)") }
                do {
                    let (data, skipped) = try CSV.read(path: path, target: target, ignoring: ignore, skippingIncompleteRows: skipIncompleteRows)
                    if skipped > 0 {
                        var standardError = StandardError()
                        print("optim: skipped \(skipped) of \(skipped + data.rows) rows with a missing value", to: &standardError)
                    }
                    return data
                } catch {
                    // What the command line offers for the two things real tables hold.
                    let hint = error.message.contains("is not a number") ? " (leave a text column out with --ignore NAME)"
                        : error.message.contains("a missing value") ? " (--skip-incomplete-rows skips such rows)" : ""
                    throw DataFileError(error.path, error.location, error.message + hint)
                }
            }
            if lower.hasSuffix(".svm") || lower.hasSuffix(".libsvm") || lower.hasSuffix(".txt") {
                guard target == nil else { throw DataFileError(path, nil, "--target does not apply to libsvm files (each line's first field is its label)") }
                return try LibSVM.load(path: path)
            }
            throw DataFileError(path, nil, "unknown format (expected .npy, .npz, .csv, or libsvm: .svm, .libsvm, .txt)")
        }
        let spec = try SyntheticRegression(task: task, rows: rows, features: features,
                                           outputs: outputs ?? (task == .multiclass ? 3 : 1), noise: noise, seed: seed)
        return try spec.generate(workers: workers, bind: bind)
    }
}
