import ArgumentParser
import Datasets
import Foundation
import ModelIO
import Models
import DataParallel

/// The formats `--data` reads.
enum DataFormat: String, ExpressibleByArgument, CaseIterable {
    case npy, npz, csv, tsv, libsvm
}

/// A data set as loaded (in the precision of the run), with what the file said about its columns.
struct LoadedData<Scalar: TrainingScalar> {
    var dataset: Dataset<Scalar>
    /// Feature column names (CSV), in order.
    var featureNames: [String]?
    /// The target column's name (CSV) or index (.npy).
    var targetName: String?
    /// Row ids (`--id`), as text.
    var ids: [String]?
    /// What the reader decided on its own, to tell the user.
    var notes: [String] = []
    /// The first index of a libsvm file (0 or 1), as read.
    var libsvmBase: Int?
    /// Per-row weights for the loss (`--sample-weight`).
    var sampleWeights: [Scalar]?
    /// Synthetic rows whose features are written later, only where this rank reads them (a rank
    /// of an mpirun job); nil when every row is written.
    var pending: PendingFeatures<Scalar>?
    /// A CSV file read by the ranks of an mpirun job, each its own part: `dataset` holds this
    /// rank's rows' features (and `pending` writes the others it reads, in place).
    var scattered: ScatteredRows<Scalar>?
}

/// Where the data comes from: a synthetic regression, or a file.
struct DataOptions: ParsableArguments {
    @Option(help: ArgumentHelp("A data file: .npy (the target in the last column unless --target says), .npz with arrays X and y or a scipy sparse matrix (save_npz: csr, csc or coo; the targets in --labels), CSV or TSV with a header (--target names the column), or libsvm (.svm, .libsvm, .txt, or any file whose lines read 'label index:value ...').",
                               valueName: "file"))
    var data: String?

    @Option(help: ArgumentHelp("The targets of a --data file that holds only features (a scipy sparse matrix from save_npz): a .npy array, or text with one number per line.",
                               valueName: "file"))
    var labels: String?

    @Option(help: ArgumentHelp("The format of --data when its name does not say.", valueName: "npy|npz|csv|tsv|libsvm"))
    var format: DataFormat?

    @Option(parsing: .unconditional, help: "The target column: a name (CSV) or a 0-based index (.npy, CSV).")
    var target: String?

    @Option(help: ArgumentHelp("A CSV column to leave out (an id, a text column); give it once per column.", valueName: "column"))
    var ignore: [String] = []

    @Flag(help: "Skip the CSV rows with a missing value (an empty field, NA, NaN, null, ...) instead of stopping at the first.")
    var skipIncompleteRows = false

    @Option(help: ArgumentHelp("A CSV column of per-row weights in the loss (numbers ≥ 0; not a feature): scikit-learn's sample_weight.", valueName: "column"))
    var sampleWeight: String?

    @Option(help: ArgumentHelp("The CSV field separator: a character, or 'tab' (default: ',', a tab for .tsv).", valueName: "char"))
    var delimiter: String?

    @Flag(help: "libsvm indices start at 0 (scikit-learn's dump_svmlight_file default). Default: 0-based when some index is 0.")
    var zeroBased = false

    @Flag(help: "libsvm indices start at 1 (LIBSVM's own files).")
    var oneBased = false

    @Flag(help: "Train on the rows as sparse data (CSR: memory and time follow the non-zeros). Default for a libsvm file whose dense form is mostly zeros (under 5% non-zero and over 4M cells) or does not fit in memory. Without --data: synthetic sparse rows (power-law features, --non-zeros per row).")
    var sparse = false

    @Flag(help: "Expand a libsvm file to dense rows even where it is sparse (standardization and the MLP need them).")
    var dense = false

    @Option(help: "Synthetic sparse data: the mean non-zeros per row (default 40).")
    var nonZeros: Int?

    @Option(help: "Synthetic task: linear, logistic, multiclass or nonlinear.")
    var task: SyntheticRegression.Task?

    @Option(help: "Synthetic rows (default 2,000,000).")
    var rows: Int?

    @Option(help: "Synthetic features per row (d; default 64); with a libsvm --data file, the number of features (wider than its largest index).")
    var features: Int?

    @Option(help: "Synthetic outputs (linear) or classes (multiclass).")
    var outputs: Int?

    @Option(help: "Standard deviation of the synthetic noise (default 0.1).")
    var noise: Float?

    @Option(help: "Seed of the synthetic data, the initial weights, the split, the row shuffle and the minibatch order.")
    var seed: UInt64 = 42

    @Option(help: ArgumentHelp("The most memory the data may take once loaded, converted or copied: 512M, 8G, 1.5GiB... A file that needs more is refused before anything is allocated, naming the figure. Default: the machine's memory, or its control group's limit (a container's, a batch job's).", valueName: "size"))
    var maxMemory: String?

    var usesFile: Bool { data != nil }
    var syntheticTask: SyntheticRegression.Task { task ?? .linear }

    func validate() throws {
        if sparse && dense { throw ValidationError("--sparse and --dense contradict each other; give one") }
        if let nonZeros, nonZeros < 1 || nonZeros > 1 << 20 { throw ValidationError("--non-zeros must be from 1 to 1048576, got \(nonZeros)") }
        if nonZeros != nil && !(sparse && data == nil) { throw ValidationError("--non-zeros applies to synthetic sparse data (--sparse without --data)") }
        if let maxMemory {
            guard let bytes = parseBytes(maxMemory) else {
                throw ValidationError("--max-memory takes a size such as 512M, 8G or 1.5GiB (bytes without a unit), got '\(maxMemory)'")
            }
            // Process-wide: every reader and every copy asks the budget before it allocates.
            MemoryBudget.limit(to: bytes)
        }
        if data == nil && target != nil { throw ValidationError("--target applies to --data files only") }
        if data == nil && labels != nil { throw ValidationError("--labels applies to a --data file (a scipy sparse matrix)") }
        if data == nil && format != nil { throw ValidationError("--format applies to --data files only") }
        if data != nil {
            let synthetic = [("--task", task != nil), ("--rows", rows != nil), ("--outputs", outputs != nil), ("--noise", noise != nil)]
                .filter(\.1).map(\.0)
            if !synthetic.isEmpty {
                throw ValidationError("\(synthetic.joined(separator: ", ")) describe(s) synthetic data; they do not apply to --data \(data!)")
            }
        }
        if data == nil && (!ignore.isEmpty || skipIncompleteRows || delimiter != nil || sampleWeight != nil) {
            throw ValidationError("--ignore, --skip-incomplete-rows, --delimiter and --sample-weight apply to --data CSV files only")
        }
        if data == nil && (zeroBased || oneBased) { throw ValidationError("--zero-based and --one-based apply to --data libsvm files only") }
        if zeroBased && oneBased { throw ValidationError("--zero-based and --one-based contradict each other") }
        if let rows, rows < 1 { throw ValidationError("--rows must be at least 1") }
        if let features, features < 1 { throw ValidationError("--features must be at least 1") }
        if let outputs, outputs < 1 { throw ValidationError("--outputs must be at least 1") }
        if let delimiter, separatorByte(delimiter) == nil {
            throw ValidationError("--delimiter takes one ASCII character or 'tab', got '\(delimiter)'")
        }
    }

    func separatorByte(_ text: String) -> UInt8? {
        if text == "tab" || text == "\\t" || text == "\t" { return 0x09 }
        guard text.utf8.count == 1, let byte = text.utf8.first, byte >= 0x20, byte < 0x7F, byte != UInt8(ascii: "\"") else { return nil }
        return byte
    }

    /// The format of `path`: `--format`, its extension, or a look at its first bytes.
    func format(of path: String) throws -> DataFormat {
        if let format { return format }
        var lower = path.lowercased()
        if lower.hasSuffix(".gz") { lower.removeLast(3) }
        if lower.hasSuffix(".npy") { return .npy }
        if lower.hasSuffix(".npz") { return .npz }
        if lower.hasSuffix(".csv") { return .csv }
        if lower.hasSuffix(".tsv") || lower.hasSuffix(".tab") { return .tsv }
        if lower.hasSuffix(".svm") || lower.hasSuffix(".libsvm") || lower.hasSuffix(".svmlight") { return .libsvm }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw DataFileError(path, nil, "is a directory, not a data file")
        }
        // No telling extension (or .txt): look at the content (of a regular file: a pipe would block).
        var info = stat()
        if stat(path, &info) == 0, (info.st_mode & S_IFMT) != S_IFREG {
            throw DataFileError(path, nil, (info.st_mode & S_IFMT) == S_IFIFO
                ? "is a pipe, not a regular file (to stream data in, use --data - and a shell pipe)" : "not a regular file")
        }
        if let sniffed = sniff(path) { return sniffed }
        if lower.hasSuffix(".txt") { return .libsvm }
        throw DataFileError(path, nil, "unknown format (expected .npy, .npz, .csv, .tsv, or libsvm: .svm, .libsvm, .txt; or say --format)")
    }

    /// The format the first bytes show: .npy's magic, a zip (.npz), libsvm's `label i:v` pairs,
    /// or a header line with commas or tabs.
    private func sniff(_ path: String) -> DataFormat? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let head = try? handle.read(upToCount: 4096), !head.isEmpty else { return nil }
        if head.starts(with: [0x93] + Array("NUMPY".utf8)) { return .npy }
        if head.starts(with: Array("PK".utf8)) { return .npz }
        let firstLine = String(decoding: head.prefix { $0 != 0x0A }, as: UTF8.self)
        let tokens = firstLine.split(whereSeparator: { $0 == " " || $0 == "\t" })
        if tokens.count >= 2, Double(tokens[0]) != nil, tokens.dropFirst().allSatisfy({ $0.contains(":") || $0.hasPrefix("#") }) {
            return .libsvm
        }
        if firstLine.contains("\t") && !firstLine.contains(",") { return .tsv }
        if firstLine.contains(",") { return .csv }
        return nil
    }

    /// Loads the file (`withoutTarget`: for `predict`, features only, leaving out
    /// `dropColumns` where a CSV has them) or generates the synthetic data on `workers` pinned
    /// workers. `width` fixes a libsvm file's feature count (a model's).
    func load(workers: Int, bind: Bool, path: String? = nil, withoutTarget: Bool = false, width: Int? = nil,
              id: String? = nil, dropColumns: [String] = [], libsvmBase: Int? = nil) throws -> LoadedData<Float> {
        try load(workers: workers, bind: bind, path: path, withoutTarget: withoutTarget, width: width, id: id, dropColumns: dropColumns,
                 libsvmBase: libsvmBase, as: Float.self)
    }

    /// ``load(workers:bind:path:withoutTarget:width:id:dropColumns:libsvmBase:)`` in `Scalar`: a
    /// file's numbers rounded once to it (synthetic rows, which are float32 values, and `.npz`
    /// members are widened).
    /// `error` with what the command line offers for the two things real tables hold.
    func hinted(_ error: DataFileError) -> DataFileError {
        let hint = error.message.contains("is not a number") ? " (leave a text column out with --ignore NAME)"
            : error.message.contains("a missing value") ? " (--skip-incomplete-rows skips such rows)" : ""
        return hint.isEmpty || error.message.hasSuffix(hint) ? error : DataFileError(error.path, error.location, error.message + hint)
    }

    func load<Scalar: TrainingScalar>(workers: Int, bind: Bool, path: String? = nil, withoutTarget: Bool = false, width: Int? = nil,
                                      id: String? = nil, dropColumns: [String] = [], libsvmBase: Int? = nil, pending: Bool = false,
                                      as _: Scalar.Type) throws -> LoadedData<Scalar> {
        guard let path = path ?? data else {
            let task = syntheticTask
            let spec = try SyntheticRegression(task: task, rows: rows ?? 2_000_000, features: features ?? 64,
                                               outputs: outputs ?? (task == .multiclass ? 3 : 1), noise: noise ?? 0.1, seed: seed)
            if pending, Scalar.self == Float.self, let later = try spec.generatePending(workers: workers, bind: bind) as? PendingFeatures<Scalar> {
                return LoadedData(dataset: later.dataset, pending: later)
            }
            return LoadedData(dataset: try spec.generate(workers: workers, bind: bind).converted(to: Scalar.self))
        }
        if path == "-" && Launch.launchedRanks > 1 {
            throw UsageError(message: "under mpirun standard input reaches rank 0 only: give --data a file that every rank can read", command: Train.self)
        }
        if path == "-" || path.lowercased().hasSuffix(".gz") {
            // Standard input or gzip: decompressed once into a temporary file, read like any
            // other, removed at once (its mapping keeps the pages), named as the user named it.
            let staged = try Staging.stage(path)
            defer { Staging.remove(staged) }
            var options = self
            if options.format == nil, path != "-" { options.format = try format(of: path) }
            let name = path == "-" ? "standard input" : path
            do {
                var loaded = try options.load(workers: workers, bind: bind, path: staged, withoutTarget: withoutTarget, width: width, id: id,
                                              dropColumns: dropColumns, libsvmBase: libsvmBase, as: Scalar.self)
                loaded.dataset = try loaded.dataset.slice(0..<loaded.dataset.rows, name: name)
                return loaded
            } catch let error as DataFileError {
                throw DataFileError(error.path == staged ? name : error.path, error.location,
                                    error.message.replacingOccurrences(of: staged, with: name))
            }
        }
        let format = try format(of: path)
        if format != .csv && format != .tsv && (!ignore.isEmpty || skipIncompleteRows || id != nil || delimiter != nil || sampleWeight != nil) {
            throw UsageError(message: "--ignore, --skip-incomplete-rows, --id, --delimiter and --sample-weight apply to CSV files only (\(path) is \(format.rawValue))", command: Train.self)
        }
        if labels != nil && format != .npz {
            throw UsageError(message: "--labels applies to a scipy sparse matrix (.npz from save_npz); \(path) is \(format.rawValue)", command: Train.self)
        }
        if format != .libsvm && (zeroBased || oneBased || features != nil) {
            throw UsageError(message: "--zero-based, --one-based and --features apply to libsvm files only (\(path) is \(format.rawValue))", command: Train.self)
        }
        switch format {
        case .npy:
            var column: Int?
            if let target {
                guard let index = Int(target) else {
                    throw DataFileError(path, nil, "--target must be a column index for .npy files, got '\(target)'")
                }
                column = index
            }
            var notes: [String] = []
            let bits = MemoryLayout<Scalar>.size * 8
            if let conversion = NPY.conversion(of: path, into: MemoryLayout<Scalar>.size) {
                notes.append("\(conversion): converted once to float\(bits) C order")
            }
            var dataset = try NPY.load(path: path, targetColumn: column, withoutTarget: withoutTarget, as: Scalar.self)
            if withoutTarget, let width, dataset.features == width + 1 {
                // The file still has its target column: leave it out (the last, or --target).
                dataset = try NPY.load(path: path, targetColumn: column, as: Scalar.self)
                notes.append("\(width + 1) columns for a model of \(width) features: column \(column ?? width) is taken as the target and left out")
            }
            return LoadedData(dataset: dataset, targetName: target ?? (withoutTarget ? nil : "column \(dataset.features)"), notes: notes)
        case .npz:
            guard target == nil else { throw DataFileError(path, nil, "--target does not apply to .npz archives (they hold X and y)") }
            guard NPZ.isSparseMatrix(path: path) else {
                if labels != nil { throw UsageError(message: "--labels applies to a scipy sparse matrix (save_npz); \(path) holds its own y", command: Train.self) }
                return LoadedData(dataset: try NPZ.load(path: path).converted(to: Scalar.self))
            }
            let sparse = try loadSparseArchive(path: path, width: width, withoutTarget: withoutTarget, as: Scalar.self)
            guard let expanded = sparse.dataset.densified() else {
                throw DataFileError(path, nil, "\(sparse.dataset.rows) rows × \(sparse.dataset.features) dense values "
                    + MemoryBudget.refusal(MemoryBudget.valueBytes(rows: sparse.dataset.rows, columns: sparse.dataset.features, size: MemoryLayout<Scalar>.stride))
                    + "; train on them as sparse rows (drop --dense)")
            }
            return LoadedData(dataset: expanded, notes: sparse.notes)
        case .csv, .tsv:
            let separator = delimiter.flatMap(separatorByte) ?? (format == .tsv ? 0x09 : UInt8(ascii: ","))
            if !withoutTarget && target == nil {
                throw UsageError(message: "\(path) is a CSV file: say which column is the target with --target COLUMN", command: Train.self)
            }
            var options = CSV.Options(target: withoutTarget ? nil : target, ignoring: ignore, skippingIncompleteRows: skipIncompleteRows,
                                      separator: separator, id: id)
            options.weight = sampleWeight
            if withoutTarget, let weight = sampleWeight {
                // Predicting needs no weights: leave the column out where the file has it.
                options.weight = nil
                if try CSV.columnNames(path: path, separator: separator).contains(weight) { options.ignoring.append(weight) }
            }
            do {
                if withoutTarget {
                    // Columns the model was not trained on (its target, when the file still has it).
                    let names = try CSV.columnNames(path: path, separator: separator)
                    options.ignoring += dropColumns.filter { names.contains($0) && !ignore.contains($0) }
                }
                var table: CSV.Table<Scalar>, scattered: ScatteredRows<Scalar>?
                if pending && Launch.launchedRanks > 1 {
                    (table, scattered) = try readCSVParts(path: path, options: options, as: Scalar.self)
                } else {
                    table = try CSV.read(path: path, options: options, as: Scalar.self)
                }
                var notes = table.notes
                if table.skippedRows > 0 {
                    notes.append("skipped \(table.skippedRows) of \(table.skippedRows + table.data.rows) rows with a missing value")
                }
                return LoadedData(dataset: table.data, featureNames: table.featureNames, targetName: table.targetName, ids: table.ids, notes: notes,
                                  sampleWeights: table.weights, pending: scattered?.inPlace(), scattered: scattered)
            } catch let error as DataFileError {
                throw hinted(error)
            }
        case .libsvm:
            guard target == nil else { throw DataFileError(path, nil, "--target does not apply to libsvm files (each line's first field is its label)") }
            let base = zeroBased ? 0 : oneBased ? 1 : libsvmBase
            let (dataset, used) = try LibSVM.read(path: path, features: features ?? width, base: base, as: Scalar.self, workers: workers, bind: bind)
            return LoadedData(dataset: dataset, notes: base == nil ? ["libsvm indices read as \(used)-based (--zero-based or --one-based to say otherwise)"] : [],
                              libsvmBase: used)
        }
    }
}

/// A sparse data set as loaded, with what the user should know.
struct LoadedSparse<Scalar: TrainingScalar> {
    var dataset: SparseDataset<Scalar>
    var notes: [String] = []
    var libsvmBase: Int?
}

/// The rows a command reads: dense, or sparse where the file (or `--sparse`) calls for it.
enum LoadedRows<Scalar: TrainingScalar> {
    case dense(LoadedData<Scalar>)
    case sparse(LoadedSparse<Scalar>)
}

extension DataOptions {
    /// Whether a sparse file's rows train as sparse data: `--sparse`, `--dense`, or by themselves
    /// when the dense form would be mostly zeros and large, or would not fit.
    func trainsSparse<Scalar>(_ data: SparseDataset<Scalar>) -> (sparse: Bool, reason: String?) {
        trainsSparse(rows: data.rows, features: data.features, nonZeros: data.nonZeros, scalarBytes: MemoryLayout<Scalar>.stride)
    }

    func trainsSparse(rows: Int, features: Int, nonZeros: Int, scalarBytes: Int) -> (sparse: Bool, reason: String?) {
        if sparse { return (true, nil) }
        if dense { return (false, nil) }
        let cells = rows.multipliedReportingOverflow(by: features)
        let bytes = cells.partialValue.multipliedReportingOverflow(by: scalarBytes)
        let denseBytes = cells.overflow || bytes.overflow ? nil : bytes.partialValue
        guard let denseBytes, fitsInMemory(bytes: denseBytes) else {
            return (true, "as dense rows it would take \(denseBytes.map(formatBytes) ?? "more than any machine has"): read as sparse rows")
        }
        let density = Double(nonZeros) / Double(cells.partialValue)
        if density < 0.05 && cells.partialValue > 4 << 20 {
            return (true, "\(Format.percent(density)) of its \(rows) × \(features) cells are non-zero: read as sparse rows (--dense to expand them)")
        }
        return (false, nil)
    }

    /// Loads the data as ``load(workers:bind:path:withoutTarget:width:id:dropColumns:libsvmBase:as:)``
    /// does, except that a libsvm file (or synthetic data with `--sparse`) stays sparse where
    /// ``trainsSparse(_:)`` says so.
    func loadRows<Scalar: TrainingScalar>(workers: Int, bind: Bool, path: String? = nil, withoutTarget: Bool = false, width: Int? = nil,
                                          libsvmBase: Int? = nil, forceSparse: Bool = false, sparseModel: Bool = true,
                                          pending: Bool = false, as _: Scalar.Type) throws -> LoadedRows<Scalar> {
        guard let path = path ?? data else {
            guard sparse else { return .dense(try load(workers: workers, bind: bind, pending: pending, as: Scalar.self)) }
            let task = syntheticTask
            let spec = try SyntheticSparse(task: task, rows: rows ?? 1_000_000, features: features ?? 1_000_000, nonZerosPerRow: nonZeros ?? 40,
                                           outputs: outputs ?? (task == .multiclass ? 3 : 1), noise: noise ?? 0.1, seed: seed)
            return .sparse(LoadedSparse(dataset: try spec.generate(workers: workers, bind: bind).converted(to: Scalar.self)))
        }
        let plain = path != "-" && !path.lowercased().hasSuffix(".gz")
        let fileFormat = plain ? try? format(of: path) : nil
        let archive = fileFormat == .npz && NPZ.isSparseMatrix(path: path)
        guard plain, fileFormat == .libsvm || archive, !(sparse && dense) else {
            if sparse || forceSparse {
                let what = plain ? "\(path) is \((try? format(of: path).rawValue) ?? "not one")" : "not compressed or standard input, for now"
                throw UsageError(message: "sparse rows are read from plain libsvm files and scipy sparse .npz matrices (\(what)); drop --sparse", command: Train.self)
            }
            return .dense(try load(workers: workers, bind: bind, path: path, withoutTarget: withoutTarget, width: width, libsvmBase: libsvmBase,
                                   pending: pending, as: Scalar.self))
        }
        if pending && Launch.launchedRanks > 1 && !archive {
            return try loadLibSVMParts(path: path, width: width, libsvmBase: libsvmBase, forceSparse: forceSparse, sparseModel: sparseModel,
                                       workers: workers, bind: bind, as: Scalar.self)
        }
        let dataset: SparseDataset<Scalar>, used: Int?
        var notes: [String]
        if archive {
            if target != nil { throw DataFileError(path, nil, "--target does not apply to .npz archives (give a sparse matrix's targets with --labels)") }
            if labels != nil && path != data {
                throw DataFileError(path, nil, "--labels gives the targets of --data only: save this matrix with its targets: np.savez('Xy.npz', y=y, **np.load('X.npz'))")
            }
            (dataset, notes) = try loadSparseArchive(path: path, width: width, withoutTarget: withoutTarget, as: Scalar.self)
            used = nil
        } else {
            if target != nil { throw DataFileError(path, nil, "--target does not apply to libsvm files (each line's first field is its label)") }
            let base = zeroBased ? 0 : oneBased ? 1 : libsvmBase
            (dataset, used) = try LibSVM.readSparse(path: path, features: features ?? width, base: base, as: Scalar.self, workers: workers, bind: bind)
            notes = base == nil ? ["libsvm indices read as \(used!)-based (--zero-based or --one-based to say otherwise)"] : []
        }
        let (isSparse, reason) = forceSparse ? (true, nil) : sparseModel ? trainsSparse(dataset) : (false, nil)
        if isSparse {
            if let reason { notes.append(reason) }
            return .sparse(LoadedSparse(dataset: dataset, notes: notes, libsvmBase: used))
        }
        guard let expanded = dataset.densified() else {
            throw DataFileError(path, nil, "\(dataset.rows) rows × \(dataset.features) dense values "
                                + MemoryBudget.refusal(MemoryBudget.valueBytes(rows: dataset.rows, columns: dataset.features, size: MemoryLayout<Scalar>.stride))
                                + "; train on them as sparse rows (drop --dense)")
        }
        return .dense(LoadedData(dataset: expanded, notes: notes, libsvmBase: used))
    }
}

extension DataOptions {
    /// A scipy sparse matrix (`save_npz`) with its targets (`--labels`, or the archive's `y`;
    /// zeros `withoutTarget`), as wide as `width` when that is wider (a model's width).
    func loadSparseArchive<Scalar: TrainingScalar>(path: String, width: Int?, withoutTarget: Bool, as _: Scalar.Type) throws
        -> (dataset: SparseDataset<Scalar>, notes: [String])
    {
        if withoutTarget && labels != nil { throw UsageError(message: "--labels gives targets to train on; predicting needs none", command: Train.self) }
        var dataset = try NPZ.loadSparse(path: path, labels: path == data ? labels : nil, requireTargets: !withoutTarget, as: Scalar.self)
        let width = width ?? features
        if let width, width != dataset.features {
            guard width > dataset.features else {
                throw DataFileError(path, nil, "the matrix has \(dataset.features) columns; \(width) are expected"
                                    + (features != nil ? " (--features)" : " (the model's width)"))
            }
            dataset = try dataset.widened(to: width)
        }
        let notes = ["a scipy sparse matrix: \(dataset.rows) rows × \(dataset.features) features, \(dataset.nonZeros) stored entries"
                     + (labels != nil && !withoutTarget ? ", targets from \(labels!)" : "")]
        return (dataset, notes)
    }
}
