#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
                guard let colon = token.firstIndex(of: UInt8(ascii: ":")),
                      let index = parseIndex(UnsafeBufferPointer(rebasing: token[..<colon])),
                      let value = parseFloat(UnsafeBufferPointer(rebasing: token[(colon + 1)...])) else {
                    if token.first == UInt8(ascii: "-"), let colon = token.firstIndex(of: UInt8(ascii: ":")),
                       parseIndex(UnsafeBufferPointer(rebasing: token[1..<colon])) != nil {
                        throw DataFileError(path, "line \(line.number)", "index \(text(UnsafeBufferPointer(rebasing: token[..<colon]))) is negative")
                    }
                    throw DataFileError(path, "line \(line.number)", "'\(text(token))' is not index:value")
                }
                guard value.isFinite else {
                    throw DataFileError(path, "line \(line.number)", "value \(text(UnsafeBufferPointer(rebasing: token[(colon + 1)...]))) at index \(index) is not finite")
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

/// rows × columns when that many floats fit in this machine's memory, else nil.
func denseCount(rows: Int, columns: Int) -> Int? {
    let (count, overflow) = rows.multipliedReportingOverflow(by: columns)
    guard !overflow, count <= Int.max / 4 else { return nil }
    let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
    guard pages > 0 && pageSize > 0 else { return count }
    return count * 4 <= pages * pageSize ? count : nil
}

/// The lines of a mapped text file, as bytes without their `\n` or `\r\n`, numbered from 1; a
/// UTF-8 byte-order mark at the start is skipped.
struct TextLines {
    let base: UnsafePointer<UInt8>
    let end: Int
    var position: Int
    /// The number of the line last returned.
    private(set) var number = 0

    init(_ file: MappedFile) {
        base = file.bytes.assumingMemoryBound(to: UInt8.self)
        end = file.count
        position = end >= 3 && base[0] == 0xEF && base[1] == 0xBB && base[2] == 0xBF ? 3 : 0
    }

    /// The next line, or with `skippingBlank` the next one that is not only spaces and tabs.
    mutating func next(skippingBlank: Bool) -> TextLine? {
        while position < end {
            number += 1
            let start = position
            var stop = memchr(base + start, 0x0A, end - start).map { UnsafeRawPointer(base).distance(to: $0) } ?? end
            position = stop + 1
            if stop > start && base[stop - 1] == 0x0D { stop -= 1 }
            let line = TextLine(number: number, bytes: UnsafeBufferPointer(start: base + start, count: stop - start))
            if !skippingBlank || !line.bytes.allSatisfy(isSpace) { return line }
        }
        return nil
    }
}

struct TextLine {
    let number: Int
    let bytes: UnsafeBufferPointer<UInt8>
    var text: String { String(decoding: bytes, as: UTF8.self) }
}

@inline(__always) func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

/// The comma-separated fields of a CSV line, each without the spaces around it; a quoted field
/// (`"..."`, `""` inside for a quote) may hold commas.
struct FieldScanner {
    struct Field {
        let bytes: UnsafeBufferPointer<UInt8>
        /// Whether the field was quoted and held `""`: then `bytes` still has both quotes of each pair.
        let escapedQuotes: Bool
        var text: String {
            let raw = String(decoding: bytes, as: UTF8.self)
            return escapedQuotes ? raw.replacingQuotePairs() : raw
        }
        /// The text, cut to 40 characters, for messages.
        var shortText: String { let t = text; return t.count > 40 ? t.prefix(40) + "…" : t }
    }

    let line: TextLine
    private var position = 0
    /// Whether every field has been returned.
    private(set) var atEnd = false

    init(_ line: TextLine) { self.line = line }

    mutating func next(_ path: String) throws(DataFileError) -> Field? {
        guard !atEnd else { return nil }
        let bytes = line.bytes, end = bytes.count
        while position < end && isSpace(bytes[position]) { position += 1 }
        var start = position, stop: Int, escaped = false
        if position < end && bytes[position] == UInt8(ascii: "\"") {
            start += 1
            position += 1
            while true {
                guard position < end else {
                    throw DataFileError(path, "line \(line.number)", "a quote opened at byte \(start) is not closed on this line")
                }
                if bytes[position] == UInt8(ascii: "\"") {
                    if position + 1 < end && bytes[position + 1] == UInt8(ascii: "\"") { escaped = true; position += 2; continue }
                    break
                }
                position += 1
            }
            stop = position
            position += 1
            while position < end && isSpace(bytes[position]) { position += 1 }
            guard position == end || bytes[position] == UInt8(ascii: ",") else {
                throw DataFileError(path, "line \(line.number)", "text after the closing quote at byte \(position + 1)")
            }
        } else {
            while position < end && bytes[position] != UInt8(ascii: ",") { position += 1 }
            stop = position
            while stop > start && isSpace(bytes[stop - 1]) { stop -= 1 }
        }
        if position < end { position += 1 } else { atEnd = true }
        return Field(bytes: UnsafeBufferPointer(rebasing: bytes[start..<stop]), escapedQuotes: escaped)
    }

    /// How many fields are left after the last one returned (for messages).
    var remainingFields: Int {
        guard !atEnd else { return 0 }
        return line.bytes[position...].reduce(1) { $0 + ($1 == UInt8(ascii: ",") ? 1 : 0) }
    }
}

/// The tokens of a libsvm line: runs of bytes between spaces and tabs, up to a `#` comment.
struct TokenScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    private var position = 0

    init(_ line: TextLine) {
        bytes = line.bytes
    }

    mutating func next() -> UnsafeBufferPointer<UInt8>? {
        let end = bytes.count
        while position < end && isSpace(bytes[position]) { position += 1 }
        guard position < end && bytes[position] != UInt8(ascii: "#") else { return nil }
        let start = position
        while position < end && !isSpace(bytes[position]) && bytes[position] != UInt8(ascii: "#") { position += 1 }
        return UnsafeBufferPointer(rebasing: bytes[start..<position])
    }
}

private func text(_ bytes: UnsafeBufferPointer<UInt8>) -> String { String(decoding: bytes, as: UTF8.self) }

/// A non-negative decimal integer spanning exactly `bytes`, or nil.
func parseIndex(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
    guard !bytes.isEmpty && bytes.count <= 18 else { return nil }
    var value = 0
    for byte in bytes {
        guard byte >= 0x30 && byte <= 0x39 else { return nil }
        value = value * 10 + Int(byte - 0x30)
    }
    return value
}

/// Powers of ten that a Double holds exactly.
private let exactPowersOfTen: [Double] = (0...22).map { (0..<$0).reduce(1.0) { x, _ in x * 10 } }

/// The decimal number spanning exactly `bytes` (what `Float(String)` accepts: sign, digits,
/// fraction, exponent, and inf / nan), rounded once to the nearest Float; nil if not a number.
///
/// Most fields take a fast path: up to 19 significant digits and a power of ten within ±22 make
/// a Double exactly rounded (one exact operand each side of one operation); rounding that to a
/// Float is then the Float nearest the decimal unless the Double falls exactly halfway between
/// two Floats, which goes, like everything else, through the standard library's conversion.
func parseFloat(_ bytes: UnsafeBufferPointer<UInt8>) -> Float? {
    let end = bytes.count
    var i = 0
    var negative = false
    if i < end && (bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+")) { negative = bytes[i] == UInt8(ascii: "-"); i += 1 }
    var mantissa: UInt64 = 0, digits = 0, significant = 0, exponent = 0
    while i < end, bytes[i] &- 0x30 < 10 {
        if significant > 0 || bytes[i] != 0x30 {
            if significant < 19 { mantissa = mantissa * 10 + UInt64(bytes[i] - 0x30) } else { exponent += 1 }
            significant += 1
        }
        digits += 1
        i += 1
    }
    if i < end && bytes[i] == UInt8(ascii: ".") {
        i += 1
        while i < end, bytes[i] &- 0x30 < 10 {
            if significant > 0 || bytes[i] != 0x30 {
                if significant < 19 { mantissa = mantissa * 10 + UInt64(bytes[i] - 0x30); exponent -= 1 }
                significant += 1
            } else {
                exponent -= 1
            }
            digits += 1
            i += 1
        }
    }
    if digits > 0 && i < end && (bytes[i] | 0x20) == UInt8(ascii: "e") {
        var j = i + 1, exponentNegative = false, written = 0, exponentDigits = 0
        if j < end && (bytes[j] == UInt8(ascii: "-") || bytes[j] == UInt8(ascii: "+")) { exponentNegative = bytes[j] == UInt8(ascii: "-"); j += 1 }
        while j < end, bytes[j] &- 0x30 < 10 {
            if written < 100_000 { written = written * 10 + Int(bytes[j] - 0x30) }
            exponentDigits += 1
            j += 1
        }
        if exponentDigits > 0 {
            exponent += exponentNegative ? -written : written
            i = j
        }
    }
    if digits > 0 && i == end && significant <= 19 {
        if mantissa == 0 { return negative ? -0.0 : 0 }
        if mantissa <= 1 << 53 && exponent >= -22 && exponent <= 22 {
            let m = Double(mantissa)
            let d = exponent >= 0 ? m * exactPowersOfTen[exponent] : m / exactPowersOfTen[-exponent]
            // Exactly halfway between two Floats: the low 29 of the Double's 52 fraction bits are
            // 1 followed by zeros (normal Floats only; smaller ones take the slow path).
            if d >= Double(Float.leastNormalMagnitude) && d <= Double(Float.greatestFiniteMagnitude)
                && d.significandBitPattern & 0x1FFF_FFFF != 0x1000_0000 {
                let f = Float(d)
                return negative ? -f : f
            }
        }
    }
    // Everything else: long mantissas, large exponents, inf, nan, and what is not a number.
    guard end > 0 && end <= 4096 else { return nil }
    return Float(String(decoding: bytes, as: UTF8.self))
}

extension String {
    /// `""` inside a quoted CSV field stands for one `"`.
    func replacingQuotePairs() -> String {
        var result = ""
        var previousWasQuote = false
        for character in self {
            if character == "\"" && previousWasQuote { previousWasQuote = false; continue }
            previousWasQuote = character == "\""
            result.append(character)
        }
        return result
    }
}
