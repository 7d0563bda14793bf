import VectorMath

/// CSV with a header line, numbers only, the target in a named column.
///
/// Read as bytes, not decoded text (the numbers are ASCII; only names are decoded, as UTF-8):
/// about 150 MB/s on one core. Fields may be quoted (`"a,b"`, with `""` for a quote) and padded
/// with spaces; lines end in `\n` or `\r\n`; a UTF-8 byte-order mark and blank lines are skipped.
/// A missing value is an error, never a silent zero.
public enum CSV {
    /// The spellings of a missing value that ``read(path:target:ignoring:skippingIncompleteRows:)``
    /// recognizes (pandas' defaults among them), besides an empty field.
    /// (All at most four bytes long.)
    public static let missingValues: Set<String> = ["NA", "N/A", "n/a", "NaN", "nan", "-nan", "null", "NULL", "None", "#N/A", "?"]

    /// Loads rows of numbers; `target` names the target column (or gives its 0-based index).
    public static func load(path: String, target: String) throws(DataFileError) -> Dataset<Float> {
        try read(path: path, target: target).data
    }

    /// Loads rows of numbers, leaving out the `ignoring` columns (names), and, with
    /// `skippingIncompleteRows`, the rows where a column used has a missing value (an empty
    /// field or one of ``missingValues``); returns how many rows were skipped.
    public static func read(path: String, target: String, ignoring: [String] = [], skippingIncompleteRows: Bool = false)
        throws(DataFileError) -> (data: Dataset<Float>, skippedRows: Int)
    {
        let table = try read(path: path, options: Options(target: target, ignoring: ignoring, skippingIncompleteRows: skippingIncompleteRows))
        return (table.data, table.skippedRows)
    }

    /// How to read a table.
    public struct Options: Sendable {
        /// The target column (a name, or a 0-based index); nil for a table of features only
        /// (data to predict), whose targets are then zeros.
        public var target: String?
        /// Columns to leave out, by name.
        public var ignoring: [String]
        /// Skip rows with a missing value instead of stopping at the first.
        public var skippingIncompleteRows: Bool
        /// The byte between fields (`,`; a tab for TSV).
        public var separator: UInt8
        /// A column passed through as text (row ids), not a feature.
        public var id: String?
        /// A column of per-row weights for the loss (numbers ≥ 0), not a feature.
        public var weight: String?

        public init(target: String?, ignoring: [String] = [], skippingIncompleteRows: Bool = false,
                    separator: UInt8 = UInt8(ascii: ","), id: String? = nil) {
            self.target = target; self.ignoring = ignoring; self.skippingIncompleteRows = skippingIncompleteRows
            self.separator = separator; self.id = id
        }
    }

    /// A table as read.
    public struct Table<Scalar: VectorScalar> {
        public var data: Dataset<Scalar>
        /// Rows left out for a missing value.
        public var skippedRows: Int
        /// The feature columns' names, in order.
        public var featureNames: [String]
        /// The target column's name.
        public var targetName: String?
        /// The id column's values, row by row, when asked for.
        public var ids: [String]?
        /// The weight column's values, row by row, when asked for.
        public var weights: [Scalar]?
        /// What the reader decided on its own (an unnamed index column left out, text labels).
        public var notes: [String]
    }

    /// The column names of the header line (unnamed ones as empty strings).
    public static func columnNames(path: String, separator: UInt8 = UInt8(ascii: ",")) throws(DataFileError) -> [String] {
        let file = try MappedFile(path: path)
        var lines = TextLines(file)
        guard let header = lines.next(skippingBlank: true) else { throw DataFileError(path, nil, "the file is empty (expected a header line)") }
        var names: [String] = []
        var fields = FieldScanner(header, separator: separator)
        while let field = try fields.next(path) { names.append(field.text) }
        return names
    }

    /// Reads a table: every column a number except the target, which may hold text labels
    /// (`setosa`, `True`: then the targets are indices into ``Dataset/labels``, the names in
    /// sorted order), and the id column. An unnamed first column (pandas' index, as
    /// `to_csv()` writes it) is left out, saying so.
    public static func read(path: String, options: Options) throws(DataFileError) -> Table<Float> {
        try read(path: path, options: options, as: Float.self)
    }

    /// ``read(path:options:)`` in `Float` or `Double`: each number rounded once, from its decimal
    /// text, to the precision asked for.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func read<Scalar: VectorScalar>(path: String, options: Options, as _: Scalar.Type) throws(DataFileError) -> Table<Scalar> {
        try readPart(path: path, options: options, part: 0, of: 1, as: Scalar.self).table(path: path)
    }
}

/// Whether `name` is how pandas names a column that had no name ("Unnamed: 0").
func isPandasUnnamed(_ name: String) -> Bool {
    name.hasPrefix("Unnamed: ") && !name.dropFirst(9).isEmpty && name.dropFirst(9).allSatisfy(\.isNumber)
}

/// The index of the target column named `target` in `names`, if any (it is never left out).
func targetIndexHint(_ target: String?, _ names: [String]) -> Int? {
    guard let target else { return nil }
    return names.firstIndex(of: target) ?? Int(target)
}

/// True and False (pandas' and Python's spellings of a boolean column) as 1 and 0.
func booleanValue(_ bytes: UnsafeBufferPointer<UInt8>) -> Float? {
    switch bytes.count {
    case 4 where text(bytes).lowercased() == "true": 1
    case 5 where text(bytes).lowercased() == "false": 0
    default: nil
    }
}

/// The name in `names` closest to `name` by edit distance (case-insensitive), when close enough
/// to be a typo: at most a third of its length.
public func closestName(to name: String, in names: [String]) -> String? {
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + [Int](repeating: 0, count: b.count)
            for j in stride(from: 1, through: b.count, by: 1) {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }
    let target = Array(name.lowercased())
    let scored = names.map { ($0, distance(target, Array($0.lowercased()))) }
    guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= max(1, target.count / 3) else { return nil }
    return best.0
}

/// The libsvm / svmlight text format: `label index:value index:value ...`, sparse, indices
/// ascending; 1-based unless some index is 0 (then 0-based).
public enum LibSVM {
    /// Loads the rows as dense features. `features`, when given, fixes the width (an index beyond
    /// it is an error; rows are padded with zeros to it); otherwise it is the largest index seen.
    /// `base` is the first index (0 or 1); nil guesses: 0-based when some index is 0, else
    /// 1-based (scikit-learn's `dump_svmlight_file` writes 0-based indices by default, and a
    /// 0-based file whose column 0 is always zero reads as 1-based: say `base: 0` then).
    public static func load(path: String, features: Int? = nil, base: Int? = nil) throws(DataFileError) -> Dataset<Float> {
        try read(path: path, features: features, base: base).data
    }

    /// ``load(path:features:base:)``, and the index base it used (to read other files of the
    /// same data the same way).
    public static func read(path: String, features: Int? = nil, base: Int? = nil) throws(DataFileError) -> (data: Dataset<Float>, base: Int) {
        try read(path: path, features: features, base: base, as: Float.self)
    }

    /// ``read(path:features:base:)`` in `Float` or `Double`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func read<Scalar: VectorScalar>(path: String, features: Int? = nil, base: Int? = nil, as _: Scalar.Type)
        throws(DataFileError) -> (data: Dataset<Scalar>, base: Int)
    {
        let ((sparse, base), line) = try readSparseLocated(path: path, features: features, base: base, as: Scalar.self)
        return (try expand(sparse, path: path, base: base, maxIndexLine: line), base)
    }

    /// Sparse rows as read expanded to dense ones, or refused (naming the line of the largest
    /// index) beyond the memory budget.
    package static func expand<Scalar: VectorScalar>(_ sparse: SparseDataset<Scalar>, path: String, base: Int, maxIndexLine line: Int)
        throws(DataFileError) -> Dataset<Scalar>
    {
        let rows = sparse.rows, width = sparse.features
        guard let count = MemoryBudget.values(rows: rows, columns: width, size: MemoryLayout<Scalar>.stride) else {
            throw DataFileError(path, "line \(line)", "index \(width - 1 + base) makes every row \(width) features wide: "
                + "\(rows) rows × \(width) dense \(MemoryLayout<Scalar>.size == 4 ? "floats" : "doubles") "
                + MemoryBudget.refusal(MemoryBudget.valueBytes(rows: rows, columns: width, size: MemoryLayout<Scalar>.stride))
                + "; read it as sparse data (`LibSVM.readSparse`, or `optim train --sparse`)")
        }
        let x = ScalarStorage<Scalar>(count: count)
        for row in 0..<rows {
            for entry in sparse.entryStart(row)..<sparse.entryStart(row + 1) {
                x.base[row * width + Int(sparse.columns.base[entry])] = sparse.values.base[entry]
            }
        }
        do { return try Dataset(name: path, x: x, y: sparse.y, rows: rows, features: width) } catch {
            throw DataFileError(path, nil, error.description)
        }
    }

    /// Reads the rows as sparse data (CSR): memory follows the non-zeros, whatever the width.
    /// `features` and `base` as in ``load(path:features:base:)``. Explicit zeros (`3:0`) are kept as entries.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func readSparse<Scalar: VectorScalar>(path: String, features: Int? = nil, base: Int? = nil, as _: Scalar.Type)
        throws(DataFileError) -> (data: SparseDataset<Scalar>, base: Int)
    {
        try readSparseLocated(path: path, features: features, base: base, as: Scalar.self).0
    }

    /// ``readSparse(path:features:base:as:)``, and the line of the largest index (for messages).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    static func readSparseLocated<Scalar: VectorScalar>(path: String, features: Int?, base: Int?, as _: Scalar.Type)
        throws(DataFileError) -> ((data: SparseDataset<Scalar>, base: Int), maxIndexLine: Int)
    {
        // The pieces of LibSVMPieces.swift, one piece.
        let file = try MappedFile(path: path)
        defer { withExtendedLifetime(file) {} }
        let bytes = UnsafeBufferPointer(start: file.bytes.assumingMemoryBound(to: UInt8.self), count: file.count)
        let pieces = self.pieces(bytes, count: 1)
        let layout = Layout(pieces: pieces, counts: pieces.map { count(bytes, piece: $0) })
        let (labels, offsets, columns, values) = try storage(path: path, layout: layout, as: Scalar.self)
        let summary = try parse(bytes, path: path, layout: layout, piece: 0, base: base, labels: labels.base, offsets: offsets.base,
                                columns: columns.base, values: values.base)
        return try finish(bytes, path: path, layout: layout, summaries: [summary], features: features, base: base,
                          labels: labels, offsets: offsets, columns: columns, values: values)
    }
}
