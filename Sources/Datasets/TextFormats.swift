/// Splits mapped text into lines (without their `\n` or `\r\n`), numbered from 1.
func lines(_ file: MappedFile) -> [(number: Int, text: Substring)] {
    var text = String(decoding: UnsafeRawBufferPointer(start: file.bytes, count: file.count), as: UTF8.self)
    if text.hasPrefix("\u{FEFF}") { text.removeFirst() }  // a UTF-8 byte-order mark
    var result: [(Int, Substring)] = []
    var number = 0
    // "\r\n" is one Character in Swift: split on it as well as on "\n".
    for line in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
        number += 1
        result.append((number, line.hasSuffix("\r") ? line.dropLast() : line))
    }
    while let last = result.last, last.1.allSatisfy(\.isWhitespace) { result.removeLast() }
    return result
}

/// CSV with a header line, numbers only, the target in a named column.
public enum CSV {
    /// Loads rows of numbers; `target` names the target column (or gives its 0-based index).
    public static func load(path: String, target: String) throws(DataFileError) -> Dataset {
        let file = try MappedFile(path: path)
        let all = lines(file)
        guard let header = all.first else { throw DataFileError(path, nil, "the file is empty (expected a header line)") }
        let names = header.text.split(separator: ",", omittingEmptySubsequences: false).map { unquote($0) }
        guard names.count >= 2 else {
            throw DataFileError(path, "line 1", "the header has \(names.count) column(s); a CSV needs features and a target")
        }
        guard let targetIndex = names.firstIndex(of: target) ?? Int(target).flatMap({ $0 >= 0 && $0 < names.count ? $0 : nil }) else {
            throw DataFileError(path, "line 1", "no column named '\(target)' (the columns are \(names.joined(separator: ", ")))")
        }
        let rows = all.count - 1
        guard rows > 0 else { throw DataFileError(path, nil, "the file has a header but no rows") }
        let features = names.count - 1
        let x = FloatStorage(count: rows * features), y = FloatStorage(count: rows)
        for (row, line) in all.dropFirst().enumerated() {
            let fields = line.text.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count == names.count else {
                throw DataFileError(path, "line \(line.number)", "\(fields.count) field(s), the header has \(names.count)")
            }
            var column = 0
            for (index, field) in fields.enumerated() {
                let text = unquote(field)
                guard let value = Float(text) else {
                    throw DataFileError(path, "line \(line.number)", "column '\(names[index])': '\(text)' is not a number")
                }
                guard value.isFinite else {
                    throw DataFileError(path, "line \(line.number)", "column '\(names[index])': \(text) is not finite")
                }
                if index == targetIndex { y.base[row] = value } else { x.base[row * features + column] = value; column += 1 }
            }
        }
        do { return try Dataset(name: path, x: x, y: y, rows: rows, features: features) } catch {
            throw DataFileError(path, nil, error.description)
        }
    }

    static func unquote(_ field: Substring) -> String {
        let trimmed = field.trimmingSpaces
        if trimmed.count >= 2, trimmed.first == "\"", trimmed.last == "\"" { return String(trimmed.dropFirst().dropLast()) }
        return trimmed
    }
}

/// The libsvm / svmlight text format: `label index:value index:value ...`, sparse, indices
/// ascending; 1-based unless some index is 0 (then 0-based).
public enum LibSVM {
    /// Loads the rows as dense features. `features`, when given, fixes the width (an index beyond
    /// it is an error); otherwise it is the largest index seen.
    public static func load(path: String, features: Int? = nil) throws(DataFileError) -> Dataset {
        let file = try MappedFile(path: path)
        var labels: [Float] = []
        var entries: [[(Int, Float)]] = []
        var minIndex = Int.max, maxIndex = -1
        var lineNumbers: [Int] = []
        for line in lines(file) {
            let content = line.text.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
            let tokens = content.split(whereSeparator: { $0 == " " || $0 == "\t" })
            // Blank and comment-only lines carry no row.
            guard let first = tokens.first else { continue }
            guard let label = Float(first), label.isFinite else {
                throw DataFileError(path, "line \(line.number)", "label '\(first)' is not a number")
            }
            var row: [(Int, Float)] = []
            // svmlight's query id (qid:N) groups rows for ranking; it is not a feature.
            for token in tokens.dropFirst() where !token.hasPrefix("qid:") {
                let parts = token.split(separator: ":", omittingEmptySubsequences: false)
                guard parts.count == 2, let index = Int(parts[0]), let value = Float(parts[1]) else {
                    throw DataFileError(path, "line \(line.number)", "'\(token)' is not index:value")
                }
                guard index >= 0 else { throw DataFileError(path, "line \(line.number)", "index \(index) is negative") }
                guard value.isFinite else { throw DataFileError(path, "line \(line.number)", "value \(parts[1]) at index \(index) is not finite") }
                if let previous = row.last, previous.0 >= index {
                    throw DataFileError(path, "line \(line.number)", "indices must ascend: \(index) after \(previous.0)")
                }
                row.append((index, value))
                minIndex = min(minIndex, index)
                maxIndex = max(maxIndex, index)
            }
            labels.append(label)
            entries.append(row)
            lineNumbers.append(line.number)
        }
        guard !labels.isEmpty else { throw DataFileError(path, nil, "the file has no rows") }
        let base = minIndex == 0 ? 0 : 1
        let width = features ?? max(maxIndex - base + 1, 1)
        if let features, maxIndex - base >= features {
 let line = lineNumbers[entries.firstIndex { $0.contains { $0.0 - base >= features } }!]
            throw DataFileError(path, "line \(line)", "index \(maxIndex) is out of range for \(features) features (\(base)-based indices)")
        }
        let x = FloatStorage(count: labels.count * width)
        for (row, pairs) in entries.enumerated() {
            for (index, value) in pairs { x.base[row * width + index - base] = value }
        }
        do { return try Dataset(name: path, x: x, y: FloatStorage(labels), rows: labels.count, features: width) } catch {
            throw DataFileError(path, nil, error.description)
        }
    }
}
