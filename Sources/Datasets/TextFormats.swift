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
        let file = try MappedFile(path: path)
        var lines = TextLines(file)
        let separator = options.separator
        let separatorName = separator == 0x09 ? "tabs" : "'\(Character(Unicode.Scalar(separator)))'"
        guard let header = lines.next(skippingBlank: true) else {
            throw DataFileError(path, nil, "the file is empty (expected a header line)")
        }
        // Binary data, not text (names in Latin-1 rather than UTF-8 are still read, decoded with
        // replacement characters).
        if let control = header.bytes.firstIndex(where: { $0 < 0x20 && $0 != 0x09 }) {
            throw DataFileError(path, "line \(header.number)", "byte \(control + 1) of the header is a control character, not text: is this a CSV file?")
        }
        var names: [String] = []
        var fields = FieldScanner(header, separator: separator)
        while let field = try fields.next(path) { names.append(field.text) }
        let minimumColumns = options.target == nil ? 1 : 2
        guard names.count >= minimumColumns else {
            let other = [",", ";", "\t", "|"].first { header.text.contains($0) && $0.utf8.first != separator }
            throw DataFileError(path, "line \(header.number)", "the header has \(names.count) column(s); a CSV needs features and a target"
                + (other.map { " (fields are separated by \(separatorName); this header has \($0 == "\t" ? "tabs" : "'\($0)'")\($0 == "\t" ? ": use --delimiter tab, or name the file .tsv" : ": use --delimiter '\($0)'"))" } ?? ""))
        }
        var notes: [String] = []
        var used = [Bool](repeating: true, count: names.count)
        for (index, name) in names.enumerated() where isPandasUnnamed(name) && index != targetIndexHint(options.target, names) {
            // A frame read back and written again names its old index "Unnamed: 0".
            used[index] = false
            notes.append("column '\(name)' is pandas' name for an unnamed column (an index saved with to_csv()): left out")
        }
        for (index, name) in names.enumerated() where name.isEmpty {
            if index == 0 && names.count > minimumColumns {
                // pandas' index: to_csv() without index=False.
                used[0] = false
                notes.append("column 1 has no name: read as pandas' index (to_csv without index=False) and left out")
                continue
            }
            throw DataFileError(path, "line \(header.number)", "column \(index + 1) of \(names.count) has no name"
                + (index == names.count - 1 ? " (a separator at the end of the header?)" : ""))
        }
        func column(_ name: String, _ role: String) throws(DataFileError) -> Int {
            if let index = names.firstIndex(of: name) { return index }
            if role == "target", let index = Int(name), index >= 0, index < names.count { return index }
            let suggestion = closestName(to: name, in: names.filter { !$0.isEmpty })
            throw DataFileError(path, "line \(header.number)", "no column named '\(name)'\(role == "ignore" ? " to ignore" : "")"
                + (suggestion.map { " (did you mean '\($0)'?" } ?? " (") + "the columns are \(names.filter { !$0.isEmpty }.joined(separator: ", ")))")
        }
        let targetIndex = try options.target.map { name throws(DataFileError) in try column(name, "target") }
        if let targetIndex { used[targetIndex] = false }
        var idIndex: Int?
        if let id = options.id {
            let index = try column(id, "id")
            guard index != targetIndex else { throw DataFileError(path, "line \(header.number)", "'\(id)' is the target; it cannot be the id") }
            used[index] = false
            idIndex = index
        }
        var weightIndex: Int?
        if let weight = options.weight {
            let index = try column(weight, "weight")
            guard index != targetIndex && index != idIndex else {
                throw DataFileError(path, "line \(header.number)", "'\(weight)' is the target or the id; it cannot hold the weights")
            }
            used[index] = false
            weightIndex = index
        }
        for name in options.ignoring {
            let index = try column(name, "ignore")
            guard index != targetIndex else { throw DataFileError(path, "line \(header.number)", "'\(name)' is the target; it cannot be ignored") }
            used[index] = false
        }
        let features = used.filter { $0 }.count
        guard features >= 1 else { throw DataFileError(path, "line \(header.number)", "every column but the target is ignored") }
        var counting = lines
        var rows = 0
        while counting.next(skippingBlank: true) != nil { rows += 1 }
        guard rows > 0 else { throw DataFileError(path, nil, "the file has a header but no rows") }
        guard MemoryBudget.values(rows: rows, columns: features + 1, size: MemoryLayout<Scalar>.stride) != nil else {
            throw DataFileError(path, nil, "\(rows) rows × \(features) columns of \(MemoryLayout<Scalar>.size == 4 ? "floats" : "doubles") "
                                + MemoryBudget.refusal(MemoryBudget.valueBytes(rows: rows, columns: features + 1, size: MemoryLayout<Scalar>.stride)))
        }
        let count = rows * features
        let x = ScalarStorage<Scalar>(count: count), y = ScalarStorage<Scalar>(count: rows)
        var ids: [String]? = idIndex == nil ? nil : []
        var weights: [Scalar]? = weightIndex == nil ? nil : []
        // Text labels: the target's text per row, once a target is not a number (the numbers
        // read before it are written back as text).
        var textTargets: [String]?
        var row = 0, skipped = 0
        lines: while let line = lines.next(skippingBlank: true) {
            var fields = FieldScanner(line, separator: separator)
            var column = 0, index = 0
            var rowID: String?, rowText: String?, rowWeight: Scalar?
            while index < names.count, let field = try fields.next(path) {
                let isMissing = field.bytes.isEmpty || field.bytes.count <= 4 && missingValues.contains(field.text)
                if index == idIndex { rowID = field.text; index += 1; continue }
                guard used[index] || index == targetIndex || index == weightIndex else { index += 1; continue }
                if options.skippingIncompleteRows && isMissing {
                    while try fields.next(path) != nil { index += 1 }
                    guard index + 1 == names.count else {
                        throw DataFileError(path, "line \(line.number)", "\(index + 1) field(s), the header has \(names.count)")
                    }
                    skipped += 1
                    continue lines
                }
                if index == targetIndex, !isMissing, textTargets != nil || (parseNumber(field.bytes) as Scalar?) == nil {
                    if textTargets == nil { textTargets = (0..<row).map { TargetSummary.name(Float(y.base[$0])) } }
                    rowText = field.text
                    index += 1
                    continue
                }
                guard let value: Scalar = parseNumber(field.bytes) ?? booleanValue(field.bytes).map({ Scalar($0) }) else {
                    throw DataFileError(path, "line \(line.number)", field.bytes.isEmpty
                        ? "column '\(names[index])' is empty: a missing value"
                        : missingValues.contains(field.text) ? "column '\(names[index])': '\(field.text)' is a missing value"
                        : "column '\(names[index])': '\(field.shortText)' is not a number")
                }
                guard value.isFinite else {
                    throw DataFileError(path, "line \(line.number)", "column '\(names[index])': \(field.shortText) is not finite")
                }
                if index == weightIndex {
                    guard value >= 0 else {
                        throw DataFileError(path, "line \(line.number)", "column '\(names[index])': weight \(field.shortText) is negative")
                    }
                    rowWeight = value
                } else if index == targetIndex {
                    if textTargets != nil { rowText = TargetSummary.name(Float(value)) } else { y.base[row] = value }
                } else {
                    x.base[row * features + column] = value
                    column += 1
                }
                index += 1
            }
            guard index == names.count && fields.atEnd else {
                throw DataFileError(path, "line \(line.number)", "\(index + (fields.atEnd ? 0 : fields.remainingFields)) field(s), the header has \(names.count)")
            }
            if let rowText { textTargets!.append(rowText) }
            if let rowID { ids!.append(rowID) }
            if let rowWeight { weights!.append(rowWeight) }
            row += 1
        }
        guard row > 0 else { throw DataFileError(path, nil, "every one of the \(rows) rows has a missing value") }
        var labels: [String]?
        if let textTargets {
            let classes = Array(Set(textTargets)).sorted()
            let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, Scalar($0)) })
            for (r, label) in textTargets.enumerated() { y.base[r] = index[label]! }
            labels = classes
            notes.append("the target '\(names[targetIndex!])' holds text: \(classes.count) class(es), \(TargetSummary.list(classes))")
        }
        do {
            let data = try Dataset(name: path, x: x.view(0..<(row * features)), y: y.view(0..<row), rows: row, features: features,
                                   labels: labels)
            let featureNames = names.indices.filter { used[$0] }.map { names[$0] }
            return Table(data: data, skippedRows: skipped, featureNames: featureNames, targetName: targetIndex.map { names[$0] },
                         ids: ids, weights: weights, notes: notes)
        } catch {
            throw DataFileError(path, nil, error.description)
        }
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
