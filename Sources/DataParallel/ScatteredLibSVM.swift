import Datasets
import Models
import VectorMath

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension LibSVM {
    /// The rows of one part of a libsvm file (a cluster rank's: the file cut into `parts`
    /// nearly equal byte ranges at line starts), parsed on `workers` threads, indices as in
    /// the file. ``ScatteredRows/shape(of:path:features:base:cluster:)`` settles the base and
    /// width over every part and expands the rows. An error is the first in the part, with its
    /// line in the whole file.
    public final class Part<Scalar: VectorScalar> {
        let file: MappedFile
        let parsed: ParsedPieces<Scalar>
        /// The part's lines (blank and comment lines too), and its rows and entries.
        let lines: Int
        public var rows: Int { parsed.layout.rows }
        public var entries: Int { parsed.layout.entries }

        init(file: MappedFile, parsed: ParsedPieces<Scalar>, lines: Int) {
            self.file = file
            self.parsed = parsed
            self.lines = lines
        }

        var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: file.bytes.assumingMemoryBound(to: UInt8.self), count: file.count) }
    }

    /// Part `part` of `parts` of the file at `path`; `base` as the caller named it (nil: settled
    /// over every part).
    public static func readPart<Scalar: VectorScalar>(path: String, base: Int?, part: Int, of parts: Int, as _: Scalar.Type,
                                                      workers: Int, bind: Bool = true) throws(DataFileError) -> Part<Scalar> {
        precondition(parts >= 1 && (0..<parts).contains(part), "part \(part) of \(parts)")
        let file = try MappedFile(path: path)
        let bytes = UnsafeBufferPointer(start: file.bytes.assumingMemoryBound(to: UInt8.self), count: file.count)
        let start = file.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF ? 3 : 0
        let range = CSV.lineStart(bytes, at: start, part: part, of: parts)..<CSV.lineStart(bytes, at: start, part: part + 1, of: parts)
        func parse(linesBefore: Int) throws(DataFileError) -> Part<Scalar> {
            let parsed = try parsePieces(bytes, path: path, range: range, linesBefore: linesBefore, base: base, as: Scalar.self,
                                         workers: workers, bind: bind, allowingEmpty: true)
            return Part(file: file, parsed: parsed, lines: parsed.layout.firstLine.last! - linesBefore)
        }
        // The lines before the part are counted only for a message: a part reads no other bytes.
        do { return try parse(linesBefore: 0) } catch where part > 0 {
            var before = 0
            for byte in UnsafeBufferPointer(rebasing: bytes[..<range.lowerBound]) where byte == 0x0A { before += 1 }
            return try parse(linesBefore: before)
        }
    }
}

/// What every rank's part of a libsvm file makes together (``ScatteredRows/shape(of:path:features:base:cluster:)``).
public struct LibSVMShape: Sendable {
    public let rows: Int
    /// The width: `features` when given, else the largest index's (from the settled base).
    public let features: Int
    public let nonZeros: Int
    /// The index base, as given or settled (0 when some index is 0).
    public let base: Int
    /// Rank r's rows start at `offsets[r]`.
    let offsets: [Int]
    /// The line of the first largest index, in the whole file.
    let maxIndexLine: Int
}

extension ScatteredRows {
    /// The rows, width, non-zeros and index base of the file every rank's `part` comes from, the
    /// same on every rank (so are its errors: no rows, an index beyond `features`). Every rank
    /// calls it, with its own part.
    public static func shape(of part: LibSVM.Part<Scalar>, path: String, features: Int?, base: Int?, cluster: Cluster) throws(DataFileError)
        -> LibSVMShape
    {
        let ranks = cluster.size, fields = 6
        var minIndex = Int.max, maxIndex = -1, maxIndexLine = 0
        for s in part.parsed.summaries {
            minIndex = min(minIndex, s.minIndex)
            if s.maxIndex > maxIndex { maxIndex = s.maxIndex; maxIndexLine = s.maxIndexLine }
        }
        let all = cluster.gather([part.rows, part.entries, part.lines, minIndex, maxIndex, maxIndexLine], counts: Array(repeating: fields, count: ranks))
        func field(_ r: Int, _ f: Int) -> Int { all[r * fields + f] }
        var offsets = [0], linesBefore = [0]
        for r in 0..<ranks {
            offsets.append(offsets[r] + field(r, 0))
            linesBefore.append(linesBefore[r] + field(r, 2))
        }
        let rows = offsets[ranks], nonZeros = (0..<ranks).reduce(0) { $0 + field($1, 1) }
        guard rows > 0 else { throw DataFileError(path, nil, "the file has no rows") }
        let globalMin = (0..<ranks).map { field($0, 3) }.min()!
        // The first rank with the largest index; its line counted from the file's start (a part
        // after the first was parsed with its lines numbered from 0).
        let widest = (0..<ranks).max { field($0, 4) < field($1, 4) || field($0, 4) == field($1, 4) && $0 > $1 }!
        let globalMax = field(widest, 4)
        let line = field(widest, 5) + (widest > 0 ? linesBefore[widest] : 0)
        let base = base ?? (globalMin == 0 ? 0 : 1)
        if let features, globalMax - base >= features {
            // The first row (in the file) whose last index is out of range: each rank's first, gathered.
            let o = part.parsed.offsets.base, c = part.parsed.columns.base
            let bad = (0..<part.rows).first { o[$0 + 1] > o[$0] && Int(c[Int(o[$0 + 1]) - 1]) - base >= features }
            let mine = bad.map { row in
                [1, LibSVM.line(ofRow: row, in: part.bytes, layout: part.parsed.layout) + (cluster.rank > 0 ? linesBefore[cluster.rank] : 0),
                 Int(c[Int(o[row + 1]) - 1])]
            } ?? [0, 0, 0]
            let found = cluster.gather(mine, counts: Array(repeating: 3, count: ranks))
            let first = (0..<ranks).first { found[$0 * 3] == 1 }!
            throw DataFileError(path, "line \(found[first * 3 + 1])",
                                "index \(found[first * 3 + 2]) is out of range for \(features) features (\(base)-based indices)")
        }
        return LibSVMShape(rows: rows, features: features ?? max(globalMax - base + 1, 1), nonZeros: nonZeros, base: base,
                           offsets: offsets, maxIndexLine: line)
    }

    /// The dense rows of a libsvm file read in parts (`shape` from ``shape(of:path:features:base:cluster:)``):
    /// every rank's targets, this rank's features (as `LibSVM.read(path:features:base:as:)`
    /// expands them). Refused, on every rank alike, when one rank's rows would not fit.
    public static func expand(_ part: LibSVM.Part<Scalar>, shape: LibSVMShape, path: String, cluster: Cluster) throws(DataFileError)
        -> ScatteredRows<Scalar>
    {
        let width = shape.features, offsets = shape.offsets
        let most = (0..<cluster.size).map { offsets[$0 + 1] - offsets[$0] }.max()!
        let cells = shape.rows.multipliedReportingOverflow(by: width)
        guard !cells.overflow, !cells.partialValue.multipliedReportingOverflow(by: MemoryLayout<Scalar>.stride).overflow,
              MemoryBudget.values(rows: most, columns: width, size: MemoryLayout<Scalar>.stride) != nil else {
            throw DataFileError(path, "line \(shape.maxIndexLine)", "index \(width - 1 + shape.base) makes every row \(width) features wide: "
                + "\(most) rows × \(width) dense \(MemoryLayout<Scalar>.size == 4 ? "floats" : "doubles") on one rank "
                + MemoryBudget.refusal(MemoryBudget.valueBytes(rows: most, columns: width, size: MemoryLayout<Scalar>.stride)))
        }
        let x = ScalarStorage<Scalar>(count: cells.partialValue, hugePages: false)
        let o = part.parsed.offsets.base, c = part.parsed.columns.base, v = part.parsed.values.base
        let first = x.base + offsets[cluster.rank] * width
        for row in 0..<part.rows {
            for entry in Int(o[row])..<Int(o[row + 1]) { first[row * width + Int(c[entry]) - shape.base] = v[entry] }
        }
        let labels = (0..<part.rows).map { Double(part.parsed.labels.base[$0]) }
        let y = ScalarStorage<Scalar>(count: shape.rows)
        for (i, value) in cluster.gather(labels, counts: (0..<cluster.size).map { offsets[$0 + 1] - offsets[$0] }).enumerated() {
            y.base[i] = Scalar(value)
        }
        do {
            let data = try Dataset(name: path, x: x, y: y, rows: shape.rows, features: width)
            return ScatteredRows(cluster: cluster, offsets: offsets, dataset: data)
        } catch {
            throw DataFileError(path, nil, error.description)
        }
    }
}
