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
    public static func load(path: String, target: String) throws(DataFileError) -> Dataset {
        try read(path: path, target: target).data
    }

    /// Loads rows of numbers, leaving out the `ignoring` columns (names), and, with
    /// `skippingIncompleteRows`, the rows where a column used has a missing value (an empty
    /// field or one of ``missingValues``); returns how many rows were skipped.
    public static func read(path: String, target: String, ignoring: [String] = [], skippingIncompleteRows: Bool = false)
        throws(DataFileError) -> (data: Dataset, skippedRows: Int)
    {
        let file = try MappedFile(path: path)
        var lines = TextLines(file)
        guard let header = lines.next(skippingBlank: true) else {
            throw DataFileError(path, nil, "the file is empty (expected a header line)")
        }
        // Binary data, not text (names in Latin-1 rather than UTF-8 are still read, decoded with
        // replacement characters).
        if let control = header.bytes.firstIndex(where: { $0 < 0x20 && $0 != 0x09 }) {
            throw DataFileError(path, "line \(header.number)", "byte \(control + 1) of the header is a control character, not text: is this a CSV file?")
        }
        var names: [String] = []
        var fields = FieldScanner(header)
        while let field = try fields.next(path) { names.append(field.text) }
        guard names.count >= 2 else {
            let separator = [";", "\t", "|"].first { header.text.contains($0) }
            throw DataFileError(path, "line \(header.number)", "the header has \(names.count) column(s); a CSV needs features and a target"
                + (separator.map { " (fields are separated by commas; this header has \($0 == "\t" ? "tabs" : "'\($0)'"))" } ?? ""))
        }
        if let unnamed = names.firstIndex(where: \.isEmpty) {
            throw DataFileError(path, "line \(header.number)", "column \(unnamed + 1) of \(names.count) has no name"
                + (unnamed == 0 ? " (pandas writes its index there: save with to_csv(index=False))"
                   : unnamed == names.count - 1 ? " (a comma at the end of the header?)" : ""))
        }
        guard let targetIndex = names.firstIndex(of: target) ?? Int(target).flatMap({ $0 >= 0 && $0 < names.count ? $0 : nil }) else {
            throw DataFileError(path, "line \(header.number)", "no column named '\(target)' (the columns are \(names.joined(separator: ", ")))")
        }
        var used = [Bool](repeating: true, count: names.count)
        for name in ignoring {
            guard let index = names.firstIndex(of: name) else {
                throw DataFileError(path, "line \(header.number)", "no column named '\(name)' to ignore (the columns are \(names.joined(separator: ", ")))")
            }
            guard index != targetIndex else { throw DataFileError(path, "line \(header.number)", "'\(name)' is the target; it cannot be ignored") }
            used[index] = false
        }
        let features = used.filter { $0 }.count - 1
        guard features >= 1 else { throw DataFileError(path, "line \(header.number)", "every column but the target is ignored") }
        var counting = lines
        var rows = 0
        while counting.next(skippingBlank: true) != nil { rows += 1 }
        guard rows > 0 else { throw DataFileError(path, nil, "the file has a header but no rows") }
        let x = FloatStorage(count: rows * features), y = FloatStorage(count: rows)
        var row = 0, skipped = 0
        lines: while let line = lines.next(skippingBlank: true) {
            var fields = FieldScanner(line)
            var column = 0, index = 0
            while index < names.count, let field = try fields.next(path) {
                guard used[index] else { index += 1; continue }
                if skippingIncompleteRows && (field.bytes.isEmpty || field.bytes.count <= 4 && missingValues.contains(field.text)) {
                    while try fields.next(path) != nil { index += 1 }
                    guard index + 1 == names.count else {
                        throw DataFileError(path, "line \(line.number)", "\(index + 1) field(s), the header has \(names.count)")
                    }
                    skipped += 1
                    continue lines
                }
                guard let value = parseFloat(field.bytes) else {
                    throw DataFileError(path, "line \(line.number)", field.bytes.isEmpty
                        ? "column '\(names[index])' is empty: a missing value"
                        : missingValues.contains(field.text) ? "column '\(names[index])': '\(field.text)' is a missing value"
                        : "column '\(names[index])': '\(field.shortText)' is not a number")
                }
                guard value.isFinite else {
                    throw DataFileError(path, "line \(line.number)", "column '\(names[index])': \(field.shortText) is not finite")
                }
                if index == targetIndex { y.base[row] = value } else { x.base[row * features + column] = value; column += 1 }
                index += 1
            }
            guard index == names.count && fields.atEnd else {
                throw DataFileError(path, "line \(line.number)", "\(index + (fields.atEnd ? 0 : fields.remainingFields)) field(s), the header has \(names.count)")
            }
            row += 1
        }
        guard row > 0 else { throw DataFileError(path, nil, "every one of the \(rows) rows has a missing value") }
        do {
            return (try Dataset(name: path, x: x.view(0..<(row * features)), y: y.view(0..<row), rows: row, features: features), skipped)
        } catch {
            throw DataFileError(path, nil, error.description)
        }
    }
}

/// The libsvm / svmlight text format: `label index:value index:value ...`, sparse, indices
/// ascending; 1-based unless some index is 0 (then 0-based).
public enum LibSVM {
    /// Loads the rows as dense features. `features`, when given, fixes the width (an index beyond
    /// it is an error); otherwise it is the largest index seen.
    public static func load(path: String, features: Int? = nil) throws(DataFileError) -> Dataset {
        let file = try MappedFile(path: path)
        var lines = TextLines(file)
        var labels: [Float] = []
        // Every row's entries, one after another: row r's are rowStart(r)..<rowEnds[r].
        var indices: [Int] = [], values: [Float] = [], rowEnds: [Int] = [], rowLines: [Int] = []
        func rowStart(_ row: Int) -> Int { row == 0 ? 0 : rowEnds[row - 1] }
        var minIndex = Int.max, maxIndex = -1, maxIndexLine = 0
        while let line = lines.next(skippingBlank: true) {
            var tokens = TokenScanner(line)
            // Blank and comment-only lines carry no row.
            guard let first = tokens.next() else { continue }
            guard let label = parseFloat(first), label.isFinite else {
                throw DataFileError(path, "line \(line.number)", "label '\(text(first))' is not a number")
            }
            var previous = -1
            while let token = tokens.next() {
                // svmlight's query id (qid:N) groups rows for ranking; it is not a feature.
                if token.starts(with: "qid:".utf8) { continue }
                let colon = token.firstIndex(of: UInt8(ascii: ":")) ?? token.endIndex
                let indexBytes = UnsafeBufferPointer(rebasing: token[..<colon])
                let valueBytes = UnsafeBufferPointer(rebasing: token[min(colon + 1, token.endIndex)...])
                if indexBytes.first == UInt8(ascii: "-") && parseIndex(UnsafeBufferPointer(rebasing: indexBytes.dropFirst())) != nil {
                    throw DataFileError(path, "line \(line.number)", "index \(text(indexBytes)) is negative")
                }
                guard colon < token.endIndex, let index = parseIndex(indexBytes), let value = parseFloat(valueBytes) else {
                    throw DataFileError(path, "line \(line.number)", "'\(text(token))' is not index:value")
                }
                guard value.isFinite else {
                    throw DataFileError(path, "line \(line.number)", "value \(text(valueBytes)) at index \(index) is not finite")
                }
                guard index > previous else {
                    throw DataFileError(path, "line \(line.number)", "indices must ascend: \(index) after \(previous)")
                }
                previous = index
                indices.append(index)
                values.append(value)
                minIndex = min(minIndex, index)
                if index > maxIndex { maxIndex = index; maxIndexLine = line.number }
            }
            labels.append(label)
            rowEnds.append(indices.count)
            rowLines.append(line.number)
        }
        guard !labels.isEmpty else { throw DataFileError(path, nil, "the file has no rows") }
        let base = minIndex == 0 ? 0 : 1
        let width = features ?? max(maxIndex - base + 1, 1)
        if let features, maxIndex - base >= features {
            let row = rowEnds.indices.first { rowEnds[$0] > rowStart($0) && indices[rowEnds[$0] - 1] - base >= features }!
            throw DataFileError(path, "line \(rowLines[row])", "index \(indices[rowEnds[row] - 1]) is out of range for \(features) features (\(base)-based indices)")
        }
        guard let count = denseCount(rows: labels.count, columns: width) else {
            throw DataFileError(path, "line \(maxIndexLine)", "index \(maxIndex) makes every row \(width) features wide: "
                + "\(labels.count) rows × \(width) dense floats is more than this machine's memory")
        }
        let x = FloatStorage(count: count)
        for row in rowEnds.indices {
            for entry in rowStart(row)..<rowEnds[row] { x.base[row * width + indices[entry] - base] = values[entry] }
        }
        do { return try Dataset(name: path, x: x, y: FloatStorage(labels), rows: labels.count, features: width) } catch {
            throw DataFileError(path, nil, error.description)
        }
    }
}
