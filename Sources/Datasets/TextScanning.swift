import VectorMath
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The byte-level pieces the text formats (CSV, libsvm) are read with: lines, fields, tokens, and
// numbers parsed without decoding the file as text.

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

    /// The lines of `range` of a file's bytes (which starts at a line's start), numbered on
    /// from `linesBefore`; a byte-order mark is skipped at the file's start.
    init(_ bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>, linesBefore: Int) {
        base = bytes.baseAddress!
        end = range.upperBound
        let bom = range.lowerBound == 0 && range.count >= 3 && base[0] == 0xEF && base[1] == 0xBB && base[2] == 0xBF
        position = bom ? 3 : range.lowerBound
        number = linesBefore
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
    /// The byte between fields: a comma, or a tab (TSV), semicolon, ...
    let separator: UInt8
    private var position = 0
    /// Whether every field has been returned.
    private(set) var atEnd = false

    init(_ line: TextLine, separator: UInt8 = UInt8(ascii: ",")) {
        self.line = line
        self.separator = separator
    }

    mutating func next(_ path: String) throws(DataFileError) -> Field? {
        guard !atEnd else { return nil }
        let bytes = line.bytes, end = bytes.count
        while position < end && isSpace(bytes[position]) && bytes[position] != separator { position += 1 }
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
            while position < end && isSpace(bytes[position]) && bytes[position] != separator { position += 1 }
            guard position == end || bytes[position] == separator else {
                throw DataFileError(path, "line \(line.number)", "text after the closing quote at byte \(position + 1)")
            }
        } else {
            while position < end && bytes[position] != separator { position += 1 }
            stop = position
            while stop > start && isSpace(bytes[stop - 1]) { stop -= 1 }
        }
        if position < end { position += 1 } else { atEnd = true }
        return Field(bytes: UnsafeBufferPointer(rebasing: bytes[start..<stop]), escapedQuotes: escaped)
    }

    /// How many fields are left after the last one returned (for messages).
    var remainingFields: Int {
        guard !atEnd else { return 0 }
        return line.bytes[position...].reduce(1) { $0 + ($1 == separator ? 1 : 0) }
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

/// Whether a token is svmlight's query id, `qid:N`.
@inline(__always) func isQueryID(_ token: UnsafeBufferPointer<UInt8>) -> Bool {
    token.count >= 4 && token[0] == UInt8(ascii: "q") && token[1] == UInt8(ascii: "i") && token[2] == UInt8(ascii: "d") && token[3] == UInt8(ascii: ":")
}

/// The bytes decoded as UTF-8 (invalid sequences replaced), for messages.
func text(_ bytes: UnsafeBufferPointer<UInt8>) -> String { String(decoding: bytes, as: UTF8.self) }

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

/// ``parseNumber(_:)`` in Float.
@inline(__always)
func parseFloat(_ bytes: UnsafeBufferPointer<UInt8>) -> Float? { parseNumber(bytes) }

/// The decimal number spanning exactly `bytes` (what `Float(String)` accepts: sign, digits,
/// fraction, exponent, and inf / nan), rounded once to the nearest `Scalar` (Float or Double);
/// nil if not a number.
///
/// Most fields take a fast path: up to 19 significant digits and a power of ten within ±22 make
/// a Double exactly rounded (one exact operand each side of one operation). That is the answer
/// in Double; rounding it to a Float is then the Float nearest the decimal unless the Double
/// falls exactly halfway between two Floats, which goes, like everything else, through the
/// standard library's conversion.
@inline(__always)
func parseNumber<Scalar: VectorScalar>(_ bytes: UnsafeBufferPointer<UInt8>) -> Scalar? {
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
            if Scalar.self == Double.self { return Scalar(negative ? -d : d) }
            // Exactly halfway between two Floats: the low 29 of the Double's 52 fraction bits are
            // 1 followed by zeros (normal Floats only; smaller ones take the slow path).
            if d >= Double(Float.leastNormalMagnitude) && d <= Double(Float.greatestFiniteMagnitude)
                && d.significandBitPattern & 0x1FFF_FFFF != 0x1000_0000 {
                let f = Float(d)
                return Scalar(negative ? -f : f)
            }
        }
    }
    // Everything else: long mantissas, large exponents, inf, nan, and what is not a number.
    guard end > 0 && end <= 4096 else { return nil }
    if Scalar.self == Double.self { return Double(String(decoding: bytes, as: UTF8.self)).map { Scalar($0) } }
    return Float(String(decoding: bytes, as: UTF8.self)).map { Scalar($0) }
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
