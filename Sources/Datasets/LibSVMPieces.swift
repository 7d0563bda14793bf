#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VectorMath

// How a libsvm file is read: in pieces, by one thread (`LibSVM.readSparse` here) or by several
// (DataParallel's `LibSVM.readSparse(path:features:base:as:workers:)`), with the same result.
//
// 1. `pieces` cuts the mapped file at line starts.
// 2. `count` finds each piece's rows, entries and lines without parsing a number: the colons of
//    a line are its entries (a line with a comment or a `qid:` is tokenized instead).
// 3. `storage` allocates the CSR arrays once, from the sums; every page is first written by the
//    thread whose rows it holds.
// 4. `parse` writes each piece's rows at their place (the prefix sums of the counts), checking
//    every token. A line the count misjudged is one with a bad token, and that token is the
//    error; a piece whose rows or entries still differ from its count was changed on disk
//    between the passes, and says so rather than write past its place.
// 5. `finish` settles the index base and the width, and builds the data set.
//
// Each row lands at the same place whatever the number of pieces, so the data is bitwise the
// same for any thread count; the first error in file order is the one reported (the pieces
// before it parsed cleanly), with its line number, as one pass would find it.

extension LibSVM {
    /// What a piece holds, from the counting pass.
    package struct PieceCount: Sendable {
        package var rows = 0
        package var entries = 0
        /// Lines, blank and comment lines included (for line numbers).
        package var lines = 0
        package init() {}
    }

    /// What parsing a piece found out about its indices.
    package struct PieceSummary: Sendable {
        package var minIndex = Int.max
        package var maxIndex = -1
        /// The line of the first occurrence of `maxIndex`.
        package var maxIndexLine = 0
        package init() {}
    }

    /// Where each piece's rows, entries and lines start: prefix sums of the counts.
    package struct Layout: Sendable {
        package let pieces: [Range<Int>]
        package let firstRow: [Int]
        package let firstEntry: [Int]
        package let firstLine: [Int]
        package var rows: Int { firstRow.last! }
        package var entries: Int { firstEntry.last! }

        /// `linesBefore`: the lines of the file before the first piece.
        package init(pieces: [Range<Int>], counts: [PieceCount], linesBefore: Int = 0) {
            self.pieces = pieces
            var r = [0], e = [0], l = [linesBefore]
            for c in counts {
                r.append(r.last! + c.rows)
                e.append(e.last! + c.entries)
                l.append(l.last! + c.lines)
            }
            firstRow = r
            firstEntry = e
            firstLine = l
        }
    }

    /// Up to `count` byte ranges of about equal size covering the file, each starting at a
    /// line's start (after a byte-order mark at the file's start).
    package static func pieces(_ bytes: UnsafeBufferPointer<UInt8>, count: Int) -> [Range<Int>] {
        let count = max(count, 1)
        let start = bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF ? 3 : 0
        var cuts = [start]
        let size = bytes.count - start
        for i in 1..<count {
            let target = start + size / count * i + (size % count) * i / count
            guard target > cuts.last! else { continue }
            // The byte after the next newline at or after the target.
            guard let newline = memchr(bytes.baseAddress! + target, 0x0A, bytes.count - target) else { break }
            let cut = UnsafeRawPointer(bytes.baseAddress!).distance(to: newline) + 1
            if cut > cuts.last! && cut < bytes.count { cuts.append(cut) }
        }
        cuts.append(bytes.count)
        return zip(cuts, cuts.dropFirst()).map { $0..<$1 }
    }

    /// The rows, entries and lines of a piece, from its bytes alone.
    package static func count(_ bytes: UnsafeBufferPointer<UInt8>, piece: Range<Int>) -> PieceCount {
        var result = PieceCount()
        let base = bytes.baseAddress!
        var position = piece.lowerBound
        while position < piece.upperBound {
            result.lines += 1
            let stop = memchr(base + position, 0x0A, piece.upperBound - position).map { UnsafeRawPointer(base).distance(to: $0) } ?? piece.upperBound
            // As `TextLines` gives it: without a carriage return before the newline.
            let end = stop > position && base[stop - 1] == 0x0D ? stop - 1 : stop
            let line = UnsafeBufferPointer(start: base + position, count: end - position)
            position = stop + 1
            // A row is a line with a first token (as `TokenScanner` sees one).
            var first = 0
            while first < line.count && isSpace(line[first]) { first += 1 }
            guard first < line.count, line[first] != UInt8(ascii: "#") else { continue }
            result.rows += 1
            let (colons, special) = colonsAndMarks(line)
            if !special {
                result.entries += colons
            } else {
                var tokens = TokenScanner(TextLine(number: 0, bytes: line))
                _ = tokens.next()
                while let token = tokens.next() { if !isQueryID(token) { result.entries += 1 } }
            }
        }
        return result
    }

    /// The colons of a line, and whether it holds a `#` or a `q` (a comment or a query id,
    /// which need the tokens).
    @inline(__always)
    static func colonsAndMarks(_ line: UnsafeBufferPointer<UInt8>) -> (colons: Int, marks: Bool) {
        guard let start = line.baseAddress, !line.isEmpty else { return (0, false) }
        if memchr(start, Int32(UInt8(ascii: "#")), line.count) != nil || memchr(start, Int32(UInt8(ascii: "q")), line.count) != nil {
            return (0, true)
        }
        // Byte compares summed in 32-bit lanes: LLVM vectorizes this loop.
        var colons: UInt32 = 0
        for byte in line { colons &+= byte == UInt8(ascii: ":") ? 1 : 0 }
        return (Int(colons), false)
    }

    /// The CSR arrays for `layout`, allocated once (refused beyond the memory budget).
    /// `allowingEmpty`: a part of a file (a cluster rank's) may hold no rows.
    package static func storage<Scalar: VectorScalar>(path: String, layout: Layout, as _: Scalar.Type, allowingEmpty: Bool = false) throws(DataFileError)
        -> (labels: ScalarStorage<Scalar>, offsets: IndexStorage<Int64>, columns: IndexStorage<Int32>, values: ScalarStorage<Scalar>)
    {
        let rows = layout.rows, entries = layout.entries
        guard rows > 0 || allowingEmpty else { throw DataFileError(path, nil, "the file has no rows") }
        let entryBytes = entries.multipliedReportingOverflow(by: 4 + MemoryLayout<Scalar>.stride)
        let rowBytes = rows.multipliedReportingOverflow(by: 8 + MemoryLayout<Scalar>.stride)
        let total = entryBytes.partialValue.addingReportingOverflow(rowBytes.partialValue)
        let bytes = entryBytes.overflow || rowBytes.overflow || total.overflow ? nil : total.partialValue
        guard let bytes, MemoryBudget.allows(bytes) else {
            throw DataFileError(path, nil, "\(rows) rows with \(entries) non-zeros " + MemoryBudget.refusal(bytes))
        }
        return (ScalarStorage(count: rows), IndexStorage(count: rows + 1), IndexStorage(count: entries), ScalarStorage(count: entries))
    }

    /// Parses piece `p` of `layout` into its rows of the arrays (based at row 0 and entry 0 of
    /// the whole file). Indices are written as in the file; `finish` rebases them. `base` is
    /// the base the caller named (nil: guessed later), for the check of index 0.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    package static func parse<Scalar: VectorScalar>(_ bytes: UnsafeBufferPointer<UInt8>, path: String, layout: Layout, piece p: Int, base: Int?,
                                                    labels: UnsafeMutablePointer<Scalar>, offsets: UnsafeMutablePointer<Int64>,
                                                    columns: UnsafeMutablePointer<Int32>, values: UnsafeMutablePointer<Scalar>)
        throws(DataFileError) -> PieceSummary
    {
        var summary = PieceSummary()
        var lines = TextLines(bytes, range: layout.pieces[p], linesBefore: layout.firstLine[p])
        var row = layout.firstRow[p], entry = layout.firstEntry[p]
        let rowEnd = layout.firstRow[p + 1], entryEnd = layout.firstEntry[p + 1]
        let changed = DataFileError(path, nil, "the file changed while it was read")
        while let line = lines.next(skippingBlank: true) {
            var tokens = TokenScanner(line)
            // Blank and comment-only lines carry no row.
            guard let first = tokens.next() else { continue }
            guard let label: Scalar = parseNumber(first), label.isFinite else {
                throw DataFileError(path, "line \(line.number)", "label '\(text(first))' is not a number")
            }
            guard row < rowEnd else { throw changed }
            var previous = -1
            while let token = tokens.next() {
                // svmlight's query id (qid:N) groups rows for ranking; it is not a feature.
                if isQueryID(token) { continue }
                let colon = token.firstIndex(of: UInt8(ascii: ":")) ?? token.endIndex
                let indexBytes = UnsafeBufferPointer(rebasing: token[..<colon])
                let valueBytes = UnsafeBufferPointer(rebasing: token[min(colon + 1, token.endIndex)...])
                if indexBytes.first == UInt8(ascii: "-") && parseIndex(UnsafeBufferPointer(rebasing: indexBytes.dropFirst())) != nil {
                    throw DataFileError(path, "line \(line.number)", "index \(text(indexBytes)) is negative")
                }
                guard colon < token.endIndex, let index = parseIndex(indexBytes), let value: Scalar = parseNumber(valueBytes) else {
                    throw DataFileError(path, "line \(line.number)", "'\(text(token))' is not index:value")
                }
                guard value.isFinite else {
                    throw DataFileError(path, "line \(line.number)", "value \(text(valueBytes)) at index \(index) is not finite")
                }
                guard index > previous else {
                    throw DataFileError(path, "line \(line.number)", "indices must ascend: \(index) after \(previous)")
                }
                guard index <= Int(Int32.max) else {
                    throw DataFileError(path, "line \(line.number)", "index \(index) is beyond the \(Int32.max) features sparse data can have")
                }
                if base == 1 && index == 0 {
                    throw DataFileError(path, "line \(line.number)", "index 0 in a file read as 1-based (--one-based)")
                }
                guard entry < entryEnd else { throw changed }
                previous = index
                columns[entry] = Int32(truncatingIfNeeded: index)
                values[entry] = value
                entry += 1
                summary.minIndex = min(summary.minIndex, index)
                if index > summary.maxIndex { summary.maxIndex = index; summary.maxIndexLine = line.number }
            }
            labels[row] = label
            offsets[row + 1] = Int64(entry)
            row += 1
        }
        guard row == rowEnd && entry == entryEnd else { throw changed }
        return summary
    }

    /// The data set from parsed pieces: the base settled (nil: 0-based when some index is 0),
    /// indices rebased, the width checked against `features` or taken from the largest index.
    /// Also the line of the largest index (for messages).
    package static func finish<Scalar: VectorScalar>(
        _ bytes: UnsafeBufferPointer<UInt8>, path: String, layout: Layout, summaries: [PieceSummary], features: Int?, base: Int?,
        labels: ScalarStorage<Scalar>, offsets: IndexStorage<Int64>, columns: IndexStorage<Int32>, values: ScalarStorage<Scalar>
    ) throws(DataFileError) -> ((data: SparseDataset<Scalar>, base: Int), maxIndexLine: Int) {
        var minIndex = Int.max, maxIndex = -1, maxIndexLine = 0
        for s in summaries {
            minIndex = min(minIndex, s.minIndex)
            if s.maxIndex > maxIndex { maxIndex = s.maxIndex; maxIndexLine = s.maxIndexLine }
        }
        let base = base ?? (minIndex == 0 ? 0 : 1)
        if let features, maxIndex - base >= features {
            let o = offsets.base
            let row = (0..<layout.rows).first { o[$0 + 1] > o[$0] && Int(columns.base[Int(o[$0 + 1]) - 1]) - base >= features }!
            throw DataFileError(path, "line \(line(ofRow: row, in: bytes, layout: layout))",
                                "index \(columns.base[Int(o[row + 1]) - 1]) is out of range for \(features) features (\(base)-based indices)")
        }
        let width = features ?? max(maxIndex - base + 1, 1)
        if base != 0 {
            let c = columns.base, shift = Int32(base)
            for e in 0..<layout.entries { c[e] &-= shift }
        }
        do {
            let data = try SparseDataset(name: path, rows: layout.rows, features: width, offsets: offsets, columns: columns, values: values,
                                         y: labels, validated: true)
            return ((data, base), maxIndexLine)
        } catch {
            throw DataFileError(path, nil, error.description)
        }
    }

    /// The line number of data row `row` (0-based, blank and comment lines not rows).
    package static func line(ofRow row: Int, in bytes: UnsafeBufferPointer<UInt8>, layout: Layout) -> Int {
        let p = layout.firstRow.lastIndex { $0 <= row }!
        var lines = TextLines(bytes, range: layout.pieces[p], linesBefore: layout.firstLine[p])
        var current = layout.firstRow[p]
        while let line = lines.next(skippingBlank: true) {
            var tokens = TokenScanner(line)
            guard tokens.next() != nil else { continue }
            if current == row { return line.number }
            current += 1
        }
        return lines.number
    }
}
