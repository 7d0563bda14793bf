import VectorMath

/// NumPy's `.npy` format (version 1, 2 or 3): a magic string, a Python-literal header
/// (`{'descr': '<f4', 'fortran_order': False, 'shape': (n, d), }`), then the array in C order.
public enum NPY {
    /// A parsed header: the element type, the shape, and where the data starts.
    public struct Header: Equatable, Sendable {
        public var descr: String
        public var fortranOrder: Bool
        public var shape: [Int]
        public var dataOffset: Int
        /// Bytes per element (4 for `<f4`).
        public var itemSize: Int { NPY.ElementType(descr)?.size ?? (descr.hasSuffix("8") ? 8 : 4) }
        /// The number of elements; nil when the shape's product does not fit in an Int.
        public var elementCount: Int? { NPY.elementCount(shape) }
        /// Where the array's data ends (the size a complete file has); nil when that does not fit
        /// in an Int.
        public var dataEnd: Int? {
            guard let elements = elementCount else { return nil }
            let (bytes, overflow) = elements.multipliedReportingOverflow(by: itemSize)
            let (end, overflowAgain) = bytes.addingReportingOverflow(dataOffset)
            return overflow || overflowAgain ? nil : end
        }
    }

    /// The number of elements of an array of `shape`; nil for a negative size or a product that
    /// does not fit in an Int (a file's header claiming what no file holds).
    public static func elementCount(_ shape: [Int]) -> Int? {
        var product = 1
        for n in shape {
            guard n >= 0 else { return nil }
            let (next, overflow) = product.multipliedReportingOverflow(by: n)
            if overflow { return nil }
            product = next
        }
        return product
    }

    /// A numeric dtype this reader converts to Float: floats of 4 or 8 bytes, signed and
    /// unsigned integers of 1 to 8 bytes, booleans; little- or big-endian (`<`, `>`, `|`, `=`).
    public struct ElementType: Sendable {
        public let size: Int
        let kind: Character
        let bigEndian: Bool

        public init?(_ descr: String) {
            guard descr.count >= 3, let order = descr.first, "<>|=".contains(order), let size = Int(descr.dropFirst(2)) else { return nil }
            let kind = descr[descr.index(after: descr.startIndex)]
            switch (kind, size) {
            case ("f", 4), ("f", 8), ("i", 1), ("i", 2), ("i", 4), ("i", 8), ("u", 1), ("u", 2), ("u", 4), ("u", 8), ("b", 1): break
            default: return nil
            }
            self.kind = kind
            self.size = size
            bigEndian = order == ">"
        }

        /// Whether this is a float32 stored little-endian (read in place).
        public var isLittleFloat32: Bool { isLittleFloat(bytes: 4) }

        /// Whether this is a float of `bytes` bytes (4 or 8) stored little-endian: a data set of
        /// that precision reads it in place.
        public func isLittleFloat(bytes: Int) -> Bool { kind == "f" && size == bytes && !bigEndian }

        /// Element `index` of the array at `base`, as a Float.
        @inline(__always)
        public func load(_ base: UnsafeRawPointer, _ index: Int) -> Float { load(base, index, as: Float.self) }

        /// Element `index` of the array at `base`, rounded once to `Scalar` (a float64 element
        /// as a Float is rounded from its Double, exactly as `Float(Double)` does).
        @inline(__always)
        public func load<Scalar: VectorScalar>(_ base: UnsafeRawPointer, _ index: Int, as _: Scalar.Type) -> Scalar {
            let offset = index * size
            func bits<T: FixedWidthInteger>(_: T.Type) -> T {
                let raw = base.loadUnaligned(fromByteOffset: offset, as: T.self)
                return bigEndian ? T(bigEndian: raw) : T(littleEndian: raw)
            }
            switch (kind, size) {
            case ("f", 4): return Scalar(Float(bitPattern: bits(UInt32.self)))
            case ("f", 8): return Scalar(Double(bitPattern: bits(UInt64.self)))
            case ("i", 1): return Scalar(bits(Int8.self))
            case ("i", 2): return Scalar(bits(Int16.self))
            case ("i", 4): return Scalar(bits(Int32.self))
            case ("i", 8): return Scalar(bits(Int64.self))
            case ("u", 1), ("b", 1): return Scalar(bits(UInt8.self))
            case ("u", 2): return Scalar(bits(UInt16.self))
            case ("u", 4): return Scalar(bits(UInt32.self))
            default: return Scalar(bits(UInt64.self))
            }
        }

        /// Whether this is an integer type (signed or unsigned; not bool).
        public var isInteger: Bool { kind == "i" || kind == "u" }

        /// Element `index` of an integer array at `base`, exactly; nil beyond Int64 (a uint64 of
        /// 2⁶³ or more) or for a type that is not an integer.
        @inline(__always)
        public func integer(_ base: UnsafeRawPointer, _ index: Int) -> Int64? {
            let offset = index * size
            func bits<T: FixedWidthInteger>(_: T.Type) -> T {
                let raw = base.loadUnaligned(fromByteOffset: offset, as: T.self)
                return bigEndian ? T(bigEndian: raw) : T(littleEndian: raw)
            }
            switch (kind, size) {
            case ("i", 1): return Int64(bits(Int8.self))
            case ("i", 2): return Int64(bits(Int16.self))
            case ("i", 4): return Int64(bits(Int32.self))
            case ("i", 8): return bits(Int64.self)
            case ("u", 1): return Int64(bits(UInt8.self))
            case ("u", 2): return Int64(bits(UInt16.self))
            case ("u", 4): return Int64(bits(UInt32.self))
            case ("u", 8): return Int64(exactly: bits(UInt64.self))
            default: return nil
            }
        }

        /// Why the conversion to float32 is worth a word: "float64", "big-endian int32", ...
        public var conversionNote: String? { conversionNote(into: 4) }

        /// Why the conversion to floats of `bytes` bytes is worth a word (nil: read in place).
        public func conversionNote(into bytes: Int) -> String? {
            if isLittleFloat(bytes: bytes) { return nil }
            let name = kind == "f" ? "float\(size * 8)" : kind == "b" ? "bool" : kind == "i" ? "int\(size * 8)" : "uint\(size * 8)"
            return (bigEndian ? "big-endian " : "") + name
        }
    }

    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY

    /// Parses the header of the file mapped at `bytes`; errors give the byte offset.
    public static func header(_ bytes: UnsafeRawPointer, count: Int, path: String) throws(DataFileError) -> Header {
        guard count >= 10, (0..<6).allSatisfy({ bytes.load(fromByteOffset: $0, as: UInt8.self) == magic[$0] }) else {
            throw DataFileError(path, "byte 0", "not a .npy file (it does not start with \\x93NUMPY)")
        }
        let major = bytes.load(fromByteOffset: 6, as: UInt8.self)
        let headerLength: Int, start: Int
        switch major {
        case 1: headerLength = Int(bytes.load(fromByteOffset: 8, as: UInt8.self)) | Int(bytes.load(fromByteOffset: 9, as: UInt8.self)) << 8; start = 10
        case 2, 3:
            guard count >= 12 else { throw DataFileError(path, "byte 8", "truncated header") }
            headerLength = (0..<4).reduce(0) { $0 | Int(bytes.load(fromByteOffset: 8 + $1, as: UInt8.self)) << (8 * $1) }
            start = 12
        default: throw DataFileError(path, "byte 6", "unsupported .npy version \(major) (expected 1, 2 or 3)")
        }
        // numpy writes a few hundred bytes; a header past 1 MiB is damage, and parsing it would cost more.
        guard headerLength <= 1 << 20 else {
            throw DataFileError(path, "byte 8", "a header of \(headerLength) bytes (numpy writes a few hundred): not a .npy file numpy wrote")
        }
        guard start + headerLength <= count else {
            throw DataFileError(path, "byte \(start)", "truncated header: \(headerLength) bytes announced, \(count - start) present")
        }
        // The dict literal is scanned as bytes, in one pass per key: no per-character strings, so a
        // header costs about its size to parse, however it is damaged.
        let raw = UnsafeRawBufferPointer(start: bytes + start, count: headerLength)
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 || byte == 0 }
        var first = 0, last = raw.count
        while first < last, isSpace(raw[first]) { first += 1 }
        while last > first, isSpace(raw[last - 1]) { last -= 1 }
        /// The header for a message: its first 200 bytes, trimmed.
        func shown() -> String {
            let text = String(decoding: raw[first..<min(last, first + 200)], as: UTF8.self)
            return last - first > 200 ? text + "..." : text
        }
        guard last - first >= 2, raw[first] == UInt8(ascii: "{"), raw[last - 1] == UInt8(ascii: "}") else {
            throw DataFileError(path, "byte \(start)", "the header is not a Python dict literal: \(shown().prefix(80))")
        }
        /// The bytes after `'key':` and any spaces, to the end of the literal.
        func value(_ key: String) -> Slice<UnsafeRawBufferPointer>? {
            let needle = Array("'\(key)':".utf8)
            guard last - first >= needle.count else { return nil }
            for position in first...(last - needle.count) where raw[position] == needle[0] {
                guard needle.indices.allSatisfy({ raw[position + $0] == needle[$0] }) else { continue }
                var next = position + needle.count
                while next < last, raw[next] == 0x20 { next += 1 }
                return raw[next..<last]
            }
            return nil
        }
        guard let descrValue = value("descr"), descrValue.first == UInt8(ascii: "'"),
              let descrEnd = descrValue.dropFirst().firstIndex(of: UInt8(ascii: "'")) else {
            throw DataFileError(path, "byte \(start)", "header has no 'descr' string: \(shown())")
        }
        let descr = String(decoding: descrValue[(descrValue.startIndex + 1)..<descrEnd], as: UTF8.self)
        guard let fortran = value("fortran_order") else {
            throw DataFileError(path, "byte \(start)", "header has no 'fortran_order': \(shown())")
        }
        guard let shapeValue = value("shape"), shapeValue.first == UInt8(ascii: "("),
              let close = shapeValue.firstIndex(of: UInt8(ascii: ")")) else {
            throw DataFileError(path, "byte \(start)", "header has no 'shape' tuple: \(shown())")
        }
        let tuple = String(decoding: shapeValue[shapeValue.startIndex...close], as: UTF8.self)
        let dimensions = tuple.dropFirst().dropLast().split(separator: ",").map { $0.trimmingSpaces }.filter { !$0.isEmpty }
        var shape: [Int] = []
        for dimension in dimensions {
            guard let n = Int(dimension), n >= 0 else {
                throw DataFileError(path, "byte \(start)", "shape \(tuple.prefix(80)) is not a tuple of sizes")
            }
            shape.append(n)
        }
        let fortranOrder = fortran.starts(with: "True".utf8)
        return Header(descr: descr, fortranOrder: fortranOrder, shape: shape, dataOffset: start + headerLength)
    }

    /// Loads a 2-D numeric array, the target in column `targetColumn` (default: the last); with
    /// `withoutTarget`, every column is a feature (data to predict; the targets are zeros).
    ///
    /// A little-endian float32 file in C order with the target in the last column is used in
    /// place, memory-mapped: nothing is copied, and a file larger than free memory still trains.
    /// Other layouts (float64, integers, booleans, big-endian, Fortran order, another target
    /// column) are converted once into float32; ``conversion(of:into:)`` says which.
    public static func load(path: String, targetColumn: Int? = nil, withoutTarget: Bool = false) throws(DataFileError) -> Dataset<Float> {
        try load(path: path, targetColumn: targetColumn, withoutTarget: withoutTarget, as: Float.self)
    }

    /// ``load(path:targetColumn:withoutTarget:)`` in `Float` or `Double`: a file of that precision
    /// (little-endian, C order, target last) is used in place; anything else is converted once.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func load<Scalar: VectorScalar>(path: String, targetColumn: Int? = nil, withoutTarget: Bool = false,
                                                  as _: Scalar.Type) throws(DataFileError) -> Dataset<Scalar> {
        let size = MemoryLayout<Scalar>.size
        let file = try MappedFile(path: path)
        let header = try header(file.bytes, count: file.count, path: path)
        guard let element = ElementType(header.descr) else {
            throw DataFileError(path, "byte 10", header.descr.hasSuffix("O")
                ? "holds Python objects (a pickled array: text labels or mixed columns?), not numbers: save df.to_numpy(dtype=float), with the labels as numbers"
                : "dtype \(header.descr) is not supported (expected numbers: float32 '<f4', float64 '<f8', integers, booleans)")
        }
        guard header.shape.count == 2 else {
            throw DataFileError(path, "byte 10", "the array has shape \(header.shape) (expected 2-D: rows × (features + target))")
        }
        let (rows, columns) = (header.shape[0], header.shape[1])
        guard rows > 0 else { throw DataFileError(path, nil, "the array has no rows") }
        guard columns >= (withoutTarget ? 1 : 2) else { throw DataFileError(path, nil, "the array has \(columns) column(s); it needs features and a target") }
        guard let expected = header.dataEnd else {
            throw DataFileError(path, "byte 10", "shape (\(rows), \(columns)) is larger than any file can be")
        }
        guard file.count >= expected else {
            throw DataFileError(path, "byte \(file.count)",
                                "truncated: shape (\(rows), \(columns)) needs \(expected) bytes, the file has \(file.count)")
        }
        let target = withoutTarget ? -1 : targetColumn ?? columns - 1
        guard withoutTarget || target >= 0 && target < columns else {
            throw DataFileError(path, nil, "target column \(target) is out of range (the array has \(columns) columns: 0..<\(columns))")
        }
        let name = path
        do {
            let data = file.bytes + header.dataOffset
            if element.isLittleFloat(bytes: size) && !header.fortranOrder && target == columns - 1 && Int(bitPattern: data) % size == 0 {
                let base = UnsafeMutablePointer(mutating: data.assumingMemoryBound(to: Scalar.self))
                let storage = ScalarStorage<Scalar>(borrowing: base, count: rows * columns, owner: file)
                return try Dataset(name: name, x: storage, y: storage.view((columns - 1)..<(rows * columns)), rows: rows,
                                   features: columns - 1, targetsPerRow: 1, rowStride: columns, targetStride: columns)
            }
            let features = withoutTarget ? columns : columns - 1
            // The features and the targets, converted.
            guard MemoryBudget.values(rows: rows, columns: features + 1, size: size) != nil else {
                throw DataFileError(path, nil, "\(rows) rows × \(features) columns converted to float\(size * 8) "
                                    + MemoryBudget.refusal(MemoryBudget.valueBytes(rows: rows, columns: features + 1, size: size)))
            }
            let count = rows * features
            let x = ScalarStorage<Scalar>(count: count), y = ScalarStorage<Scalar>(count: rows)
            let fortran = header.fortranOrder
            for row in 0..<rows {
                var out = 0
                for column in 0..<columns {
                    let value = element.load(data, fortran ? column * rows + row : row * columns + column, as: Scalar.self)
                    if column == target { y.base[row] = value } else { x.base[row * features + out] = value; out += 1 }
                }
            }
            return try Dataset(name: name, x: x, y: y, rows: rows, features: features)
        } catch let error as DataFileError {
            throw error
        } catch {
            throw DataFileError(path, nil, "\(error)")
        }
    }

    /// What ``load(path:targetColumn:withoutTarget:)`` converts in `path` ("float64", "Fortran
    /// order"), or nil when it reads the file in place or cannot read it.
    public static func conversion(of path: String, into bytes: Int = 4) -> String? {
        guard let file = try? MappedFile(path: path), let header = try? header(file.bytes, count: file.count, path: path),
              let element = ElementType(header.descr) else { return nil }
        let notes = [element.conversionNote(into: bytes), header.fortranOrder ? "Fortran order" : nil].compactMap { $0 }
        return notes.isEmpty ? nil : notes.joined(separator: ", ")
    }

    /// A `.npy` file of float32 rows, written as it goes (so it may be larger than memory), and
    /// atomically: it appears only when ``finish()`` succeeds.
    public struct Writer {
        private var file: AtomicFileWriter
        private let columns: Int
        private let rows: Int
        private var written = 0

        public init(path: String, rows: Int, columns: Int) throws(DataFileError) {
            file = try AtomicFileWriter(path: path)
            self.rows = rows
            self.columns = columns
            var text = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(rows), \(columns)), }"
            // Pad so that the data starts on a 64-byte boundary, ending with a newline (numpy's layout).
            while (10 + text.utf8.count + 1) % 64 != 0 { text += " " }
            text += "\n"
            let length = text.utf8.count
            try file.write(NPY.magic + [1, 0, UInt8(length & 0xFF), UInt8(length >> 8)] + Array(text.utf8))
        }

        /// Appends `count` rows of `columns` floats.
        public mutating func append(_ values: UnsafeBufferPointer<Float>) throws(DataFileError) {
            precondition(values.count % columns == 0, "a whole number of rows")
            written += values.count / columns
            try file.write(raw: UnsafeRawBufferPointer(values))
        }

        /// Completes the file; throws if fewer or more rows than announced were written.
        public mutating func finish() throws(DataFileError) {
            guard written == rows else {
                file.discard()
                throw DataFileError(file.path, nil, "wrote \(written) rows, the header announced \(rows)")
            }
            try file.commit()
        }

        /// Abandons the file.
        public func discard() { file.discard() }
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop(while: { $0.isWhitespace }).reversed().drop(while: { $0.isWhitespace }).reversed())
    }
}
