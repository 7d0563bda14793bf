import VectorMath
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension CSV {
    /// The rows of a byte range of a table, as parsed, before the table is put together: what
    /// one rank of a cluster reads of a file (``readPart(path:options:part:of:as:)``), and what
    /// one process reads of the whole (``read(path:options:as:)``).
    public struct Part<Scalar: VectorScalar> {
        /// The rows' features, `rows × features`, row-major.
        public var x: ScalarStorage<Scalar>
        /// The rows' targets (numbers; where ``targetTexts`` is given, zero).
        public var y: ScalarStorage<Scalar>
        /// The rows read (not skipped).
        public var rows: Int
        public var features: Int
        /// Rows left out for a missing value.
        public var skippedRows: Int
        /// Per row, the target's text, once some target of the part is not a number (the numbers
        /// read before it written back as text); nil while every target is a number.
        public var targetTexts: [String]?
        /// The id column's values, row by row, when asked for.
        public var ids: [String]?
        /// The weight column's values, row by row, when asked for.
        public var weights: [Scalar]?
        /// The feature columns' names, in order, and the target's.
        public var featureNames: [String]
        public var targetName: String?
        /// What the reader decided about the header (the same for every part).
        public var notes: [String]

        /// The table these rows make: the whole file's rows, or (on a cluster) a table put
        /// together from every part, whose class names (`labels`, sorted) come with it. Errors
        /// for a file without rows; text targets become indices into the sorted names.
        public func table(path: String, labels given: [String]? = nil) throws(DataFileError) -> Table<Scalar> {
            guard rows + skippedRows > 0 else { throw DataFileError(path, nil, "the file has a header but no rows") }
            guard rows > 0 else { throw DataFileError(path, nil, "every one of the \(skippedRows) rows has a missing value") }
            var labels = given, notes = notes
            if let targetTexts {
                let classes = Array(Set(targetTexts)).sorted()
                let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, Scalar($0)) })
                for (r, label) in targetTexts.enumerated() { y.base[r] = index[label]! }
                labels = classes
            }
            if let labels, let targetName {
                notes.append("the target '\(targetName)' holds text: \(labels.count) class(es), \(TargetSummary.list(labels))")
            }
            do {
                let data = try Dataset(name: path, x: x.view(0..<(rows * features)), y: y.view(0..<rows), rows: rows, features: features,
                                       labels: labels)
                return Table(data: data, skippedRows: skippedRows, featureNames: featureNames, targetName: targetName,
                             ids: ids, weights: weights, notes: notes)
            } catch {
                throw DataFileError(path, nil, error.description)
            }
        }
    }

    /// Part `part` of `parts` of a table file: the header read as ``read(path:options:as:)``
    /// reads it, then only the lines that start in the part's byte range (the bytes after the
    /// header cut into `parts` nearly equal ranges, each moved on to a line's start), numbered
    /// as in the whole file. The parts of a file hold its rows once, in order; a part may be
    /// empty. The first error in the part is thrown, with its line.
    public static func readPart<Scalar: VectorScalar>(path: String, options: Options, part: Int, of parts: Int, as _: Scalar.Type)
        throws(DataFileError) -> Part<Scalar>
    {
        precondition(parts >= 1 && (0..<parts).contains(part), "part \(part) of \(parts)")
        let file = try MappedFile(path: path)
        let header = try Header(file, path: path, options: options)
        let bytes = UnsafeBufferPointer(start: file.bytes.assumingMemoryBound(to: UInt8.self), count: file.count)
        let range = lineStart(bytes, at: header.dataStart, part: part, of: parts)..<lineStart(bytes, at: header.dataStart, part: part + 1, of: parts)
        // The lines before a later part are counted only for a message: a part reads no other bytes.
        if part == 0 { return try parseRows(bytes, path: path, header: header, options: options, range: range, linesBefore: header.line, as: Scalar.self) }
        do {
            return try parseRows(bytes, path: path, header: header, options: options, range: range, linesBefore: 0, as: Scalar.self)
        } catch {
            var before = 0
            for byte in UnsafeBufferPointer(rebasing: bytes[..<range.lowerBound]) where byte == 0x0A { before += 1 }
            return try parseRows(bytes, path: path, header: header, options: options, range: range, linesBefore: before, as: Scalar.self)
        }
    }

    /// Where part `part` of `parts` of `bytes[start...]` starts: the start of the line after the
    /// first newline at or after its share (the file's end for the last).
    package static func lineStart(_ bytes: UnsafeBufferPointer<UInt8>, at start: Int, part: Int, of parts: Int) -> Int {
        let size = bytes.count - start
        guard part > 0 else { return start }
        guard part < parts else { return bytes.count }
        let target = start + size / parts * part + (size % parts) * part / parts
        guard target < bytes.count, let newline = memchr(bytes.baseAddress! + target, 0x0A, bytes.count - target) else { return bytes.count }
        return UnsafeRawPointer(bytes.baseAddress!).distance(to: newline) + 1
    }

    /// A table's header: its column names and the role of each.
    struct Header {
        var names: [String] = []
        var used: [Bool] = []
        var targetIndex: Int?
        var idIndex: Int?
        var weightIndex: Int?
        var features = 0
        var notes: [String] = []
        /// The byte after the header line, and the header's line number.
        var dataStart = 0
        var line = 0

        init(_ file: MappedFile, path: String, options: Options) throws(DataFileError) {
            var lines = TextLines(file)
            let separator = options.separator
            let separatorName = separator == 0x09 ? "tabs" : "'\(Character(Unicode.Scalar(separator)))'"
            guard let header = lines.next(skippingBlank: true) else {
                throw DataFileError(path, nil, "the file is empty (expected a header line)")
            }
            dataStart = min(lines.position, file.count)
            line = header.number
            // Binary data, not text (names in Latin-1 rather than UTF-8 are still read, decoded with
            // replacement characters).
            if let control = header.bytes.firstIndex(where: { $0 < 0x20 && $0 != 0x09 }) {
                throw DataFileError(path, "line \(header.number)", "byte \(control + 1) of the header is a control character, not text: is this a CSV file?")
            }
            var fields = FieldScanner(header, separator: separator)
            while let field = try fields.next(path) { names.append(field.text) }
            let minimumColumns = options.target == nil ? 1 : 2
            guard names.count >= minimumColumns else {
                let other = [",", ";", "\t", "|"].first { header.text.contains($0) && $0.utf8.first != separator }
                throw DataFileError(path, "line \(header.number)", "the header has \(names.count) column(s); a CSV needs features and a target"
                    + (other.map { " (fields are separated by \(separatorName); this header has \($0 == "\t" ? "tabs" : "'\($0)'")\($0 == "\t" ? ": use --delimiter tab, or name the file .tsv" : ": use --delimiter '\($0)'"))" } ?? ""))
            }
            let names = names
            used = [Bool](repeating: true, count: names.count)
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
            targetIndex = try options.target.map { name throws(DataFileError) in try column(name, "target") }
            if let targetIndex { used[targetIndex] = false }
            if let id = options.id {
                let index = try column(id, "id")
                guard index != targetIndex else { throw DataFileError(path, "line \(header.number)", "'\(id)' is the target; it cannot be the id") }
                used[index] = false
                idIndex = index
            }
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
            features = used.filter { $0 }.count
            guard features >= 1 else { throw DataFileError(path, "line \(header.number)", "every column but the target is ignored") }
        }
    }

    /// The rows of the lines in `range` (which starts at a line's start), numbered on from
    /// `linesBefore`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    static func parseRows<Scalar: VectorScalar>(_ bytes: UnsafeBufferPointer<UInt8>, path: String, header: Header, options: Options,
                                               range: Range<Int>, linesBefore: Int, as _: Scalar.Type) throws(DataFileError) -> Part<Scalar> {
        var lines = TextLines(bytes, range: range, linesBefore: linesBefore)
        let separator = options.separator, names = header.names, used = header.used, features = header.features
        let targetIndex = header.targetIndex, idIndex = header.idIndex, weightIndex = header.weightIndex
        var counting = lines
        var rows = 0
        while counting.next(skippingBlank: true) != nil { rows += 1 }
        guard MemoryBudget.values(rows: rows, columns: features + 1, size: MemoryLayout<Scalar>.stride) != nil else {
            throw DataFileError(path, nil, "\(rows) rows × \(features) columns of \(MemoryLayout<Scalar>.size == 4 ? "floats" : "doubles") "
                                + MemoryBudget.refusal(MemoryBudget.valueBytes(rows: rows, columns: features + 1, size: MemoryLayout<Scalar>.stride)))
        }
        let x = ScalarStorage<Scalar>(count: rows * features), y = ScalarStorage<Scalar>(count: rows)
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
        return Part(x: x, y: y, rows: row, features: features, skippedRows: skipped, targetTexts: textTargets, ids: ids, weights: weights,
                    featureNames: names.indices.filter { used[$0] }.map { names[$0] }, targetName: targetIndex.map { names[$0] },
                    notes: header.notes)
    }
}
