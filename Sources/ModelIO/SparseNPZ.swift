import Datasets
import Foundation
import VectorMath

extension NPZ {
    /// Whether the file is a scipy sparse matrix (`scipy.sparse.save_npz`): an archive with
    /// `format`, `shape` and `data` members.
    public static func isSparseMatrix(path: String) -> Bool {
        (try? NPZArchive(path: path))?.isSparseMatrix ?? false
    }

    /// Reads a scipy sparse matrix saved by `scipy.sparse.save_npz` (compressed or not) as CSR
    /// rows: `csr`, `csc` (transposed to rows) and `coo` (`row`/`col`, or `coords`), indices of
    /// any integer type, values of any numeric type rounded once to `Scalar`. Rows come out in
    /// canonical form: columns ascending, a column given twice summed (as scipy's
    /// `sum_duplicates`, in the stored order); explicit zeros are kept.
    ///
    /// The targets are the archive's `y` array (also `target`, `labels`), which `save_npz` does
    /// not write (`np.savez("Xy.npz", y=y, **np.load("X.npz"))` adds it), or `labels` when given: a
    /// `.npy` array or a text file of one number per line.
    /// Without `requireTargets` (rows to predict), an archive without targets reads with zeros.
    public static func loadSparse<Scalar: VectorScalar>(path: String, labels: String? = nil, requireTargets: Bool = true,
                                                        as _: Scalar.Type) throws -> SparseDataset<Scalar> {
        try loadSparse(NPZArchive(path: path), labels: labels, requireTargets: requireTargets, as: Scalar.self)
    }

    static func loadSparse<Scalar: VectorScalar>(_ archive: NPZArchive, labels: String?, requireTargets: Bool = true,
                                                 as _: Scalar.Type) throws -> SparseDataset<Scalar> {
        let path = archive.path
        guard archive.isSparseMatrix else {
            throw DataFileError(path, nil, "not a scipy sparse matrix (save_npz writes format, shape, data, indices and indptr)")
        }
        let formatMember = try archive.member(["format"], text: true)!
        let format = formatMember.data.withUnsafeBytes { raw in
            String(decoding: raw[formatMember.header.dataOffset...].prefix { $0 != 0 }, as: UTF8.self)
        }
        guard ["csr", "csc", "coo"].contains(format) else {
            throw DataFileError("\(path)/format.npy", nil, "scipy format '\(format.prefix(16))' is not read here (csr, csc and coo are): save X.tocsr()")
        }
        let shape = try archive.member(["shape"])!.integers(path: path)
        guard shape.count == 2, shape[0] >= 1, shape[1] >= 1, let rows = Int(exactly: shape[0]), shape[1] <= Int64(Int32.max) else {
            throw DataFileError("\(path)/shape.npy", nil, "shape \(shape) is not rows × features (at least 1 × 1, at most \(Int32.max) features)")
        }
        let features = Int(shape[1])
        let dataMember = try archive.member(["data"])!
        guard dataMember.header.shape.count == 1 else {
            throw DataFileError("\(path)/data.npy", nil, "data has shape \(dataMember.header.shape); expected one value per stored entry")
        }
        let entries = dataMember.header.shape[0]
        let bytes = entries.multipliedReportingOverflow(by: 12 + MemoryLayout<Scalar>.stride)
        guard !bytes.overflow, MemoryBudget.allows(bytes.partialValue) else {
            throw DataFileError(path, nil, "\(entries) stored entries " + MemoryBudget.refusal(bytes.overflow ? nil : bytes.partialValue))
        }
        // Per-row arrays (pointers, their copy, offsets, targets): refused before any is made.
        let rowBytes = rows.multipliedReportingOverflow(by: 24 + MemoryLayout<Scalar>.stride)
        guard !rowBytes.overflow, MemoryBudget.allows(rowBytes.partialValue) else {
            throw DataFileError("\(path)/shape.npy", nil, "\(rows) rows " + MemoryBudget.refusal(rowBytes.overflow ? nil : rowBytes.partialValue))
        }
        let values: [Scalar] = dataMember.values(as: Scalar.self)
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw DataFileError("\(path)/data.npy", "element \(bad)", "value \(values[bad]) is not finite")
        }
        func array(_ name: String) throws -> [Int64] {
            guard let member = try archive.member([name]) else {
                throw archive.missing(name, expected: "the \(format) arrays of scipy's save_npz")
            }
            return try member.integers(path: path)
        }
        func check(_ indices: [Int64], _ name: String, below limit: Int) throws {
            guard indices.count == entries else {
                throw DataFileError("\(path)/\(name).npy", nil, "\(indices.count) indices for \(entries) values")
            }
            if let bad = indices.firstIndex(where: { $0 < 0 || $0 >= Int64(limit) }) {
                throw DataFileError("\(path)/\(name).npy", "element \(bad)", "index \(indices[bad]) is outside 0..<\(limit) (shape \(shape))")
            }
        }
        func checkPointers(_ pointers: [Int64], count: Int) throws {
            guard pointers.count == count + 1, pointers.first == 0, pointers.last == Int64(entries) else {
                throw DataFileError("\(path)/indptr.npy", nil, "\(pointers.count) pointers from \(pointers.first ?? 0) to \(pointers.last ?? 0); "
                                    + "expected \(count + 1) from 0 to the \(entries) entries")
            }
            if let bad = (0..<count).first(where: { pointers[$0] > pointers[$0 + 1] }) {
                throw DataFileError("\(path)/indptr.npy", "element \(bad + 1)", "pointers descend (\(pointers[bad]) then \(pointers[bad + 1]))")
            }
        }
        // Each entry's row and column, grouped by row (stably: the stored order within a row).
        var rowOf: [Int64], columnOf: [Int64]
        switch format {
        case "csr":
            let pointers = try array("indptr")
            try checkPointers(pointers, count: rows)
            columnOf = try array("indices")
            try check(columnOf, "indices", below: features)
            return try canonical(path: path, rows: rows, features: features, pointers: pointers, columns: columnOf, values: values, labels: labels, requireTargets: requireTargets, archive: archive)
        case "csc":
            let pointers = try array("indptr")
            try checkPointers(pointers, count: features)
            rowOf = try array("indices")
            try check(rowOf, "indices", below: rows)
            columnOf = [Int64](repeating: 0, count: entries)
            for c in 0..<features { for e in Int(pointers[c])..<Int(pointers[c + 1]) { columnOf[e] = Int64(c) } }
        case "coo":
            if archive.has("coords") {
                let coords = try archive.member(["coords"])!
                guard coords.header.shape == [2, entries], NPY.ElementType(coords.header.descr)!.isInteger else {
                    throw DataFileError("\(path)/coords.npy", nil, "coords has shape \(coords.header.shape); expected (2, \(entries)) integers")
                }
                let flat = try coords.integers(path: path, anyShape: true)
                // (2, n) in C order: the rows, then the columns; in Fortran order, interleaved.
                rowOf = coords.header.fortranOrder ? stride(from: 0, to: flat.count, by: 2).map { flat[$0] } : Array(flat[0..<entries])
                columnOf = coords.header.fortranOrder ? stride(from: 1, to: flat.count, by: 2).map { flat[$0] } : Array(flat[entries...])
            } else {
                rowOf = try array("row")
                columnOf = try array("col")
            }
            try check(rowOf, format == "coo" && archive.has("coords") ? "coords" : "row", below: rows)
            try check(columnOf, archive.has("coords") ? "coords" : "col", below: features)
        default:
            throw DataFileError("\(path)/format.npy", nil, "scipy format '\(format.prefix(16))' is not read here (csr, csc and coo are): save X.tocsr()")
        }
        // Counting sort by row, stable.
        var pointers = [Int64](repeating: 0, count: rows + 1)
        for r in rowOf { pointers[Int(r) + 1] += 1 }
        for r in 0..<rows { pointers[r + 1] += pointers[r] }
        var place = pointers, columns = [Int64](repeating: 0, count: entries), sorted = [Scalar](repeating: 0, count: entries)
        for e in 0..<entries {
            let r = Int(rowOf[e]), at = Int(place[r])
            columns[at] = columnOf[e]
            sorted[at] = values[e]
            place[r] += 1
        }
        return try canonical(path: path, rows: rows, features: features, pointers: pointers, columns: columns, values: sorted, labels: labels, requireTargets: requireTargets, archive: archive)
    }

    /// CSR rows from entries grouped by row: each row's columns sorted (stably) and duplicates
    /// summed in order; the targets attached.
    private static func canonical<Scalar: VectorScalar>(path: String, rows: Int, features: Int, pointers: [Int64], columns: [Int64], values: [Scalar],
                                                        labels: String?, requireTargets: Bool, archive: NPZArchive) throws -> SparseDataset<Scalar> {
        let offsets = IndexStorage<Int64>(count: rows + 1), outColumns = IndexStorage<Int32>(count: columns.count)
        let outValues = ScalarStorage<Scalar>(count: values.count)
        var written = 0
        var order: [Int] = []
        for r in 0..<rows {
            let start = Int(pointers[r]), end = Int(pointers[r + 1])
            let ascending = start == end || zip(columns[start..<(end - 1)], columns[(start + 1)..<end]).allSatisfy { $0 < $1 }
            order = ascending ? Array(start..<end) : (start..<end).sorted { columns[$0] != columns[$1] ? columns[$0] < columns[$1] : $0 < $1 }
            for e in order {
                if written > Int(offsets.base[r]) && Int64(outColumns.base[written - 1]) == columns[e] {
                    outValues.base[written - 1] += values[e]
                } else {
                    outColumns.base[written] = Int32(columns[e])
                    outValues.base[written] = values[e]
                    written += 1
                }
            }
            offsets.base[r + 1] = Int64(written)
        }
        let y = try targets(path: path, labels: labels, rows: rows, requireTargets: requireTargets, archive: archive, as: Scalar.self)
        do {
            return try SparseDataset(name: path, rows: rows, features: features, offsets: offsets, columns: outColumns, values: outValues,
                                     y: ScalarStorage(y.values), targetsPerRow: y.perRow, validated: true)
        } catch {
            throw DataFileError(path, nil, error.description)
        }
    }

    /// The targets of a sparse matrix: from `labels`, else the archive's own array.
    private static func targets<Scalar: VectorScalar>(path: String, labels: String?, rows: Int, requireTargets: Bool, archive: NPZArchive,
                                                      as _: Scalar.Type) throws
        -> (values: [Scalar], perRow: Int)
    {
        if let labels {
            var values: [Scalar]
            var perRow = 1
            if labels.lowercased().hasSuffix(".npy") {
                let file = try MappedFile(path: labels)
                let header = try NPY.header(file.bytes, count: file.count, path: labels)
                guard let element = NPY.ElementType(header.descr), header.shape.count == 1 || header.shape.count == 2 && header.shape[1] >= 1 else {
                    throw DataFileError(labels, nil, "expected numbers of shape (rows,) or (rows, k), got dtype \(header.descr) and shape \(header.shape)")
                }
                guard let end = header.dataEnd, file.count >= end else {
                    throw DataFileError(labels, "byte \(file.count)", "truncated: shape \(header.shape) needs \(header.dataEnd.map { "\($0) bytes" } ?? "more bytes than any file holds")")
                }
                perRow = header.shape.count == 2 ? header.shape[1] : 1
                let n = header.shape[0], base = file.bytes + header.dataOffset, fortran = header.fortranOrder && perRow > 1
                values = (0..<(n * perRow)).map { element.load(base, fortran ? ($0 % perRow) * n + $0 / perRow : $0, as: Scalar.self) }
                if let bad = values.firstIndex(where: { !$0.isFinite }) {
                    throw DataFileError(labels, "element \(bad)", "label \(values[bad]) is not finite")
                }
            } else {
                values = []
                let file = try MappedFile(path: labels)
                let text = String(decoding: UnsafeRawBufferPointer(start: file.bytes, count: file.count), as: UTF8.self)
                for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                    let field = line.trimmingCharacters(in: .whitespacesAndNewlines)
                    if field.isEmpty { continue }
                    guard let value = Double(field), value.isFinite else {
                        throw DataFileError(labels, "line \(number + 1)", "'\(field.prefix(40))' is not a number")
                    }
                    values.append(Scalar(value))
                }
            }
            guard values.count == rows * perRow else {
                throw DataFileError(labels, nil, "\(values.count / max(perRow, 1)) labels for the \(rows) rows of \(path)")
            }
            return (values, perRow)
        }
        guard let y = try archive.member(targetNames) else {
            if !requireTargets { return ([Scalar](repeating: 0, count: rows), 1) }
            throw DataFileError(path, nil, "a scipy sparse matrix holds no targets: give them with --labels FILE (.npy, or one number per line), "
                                + "or save them beside the matrix: np.savez('Xy.npz', y=y, **np.load('X.npz'))")
        }
        guard y.header.shape == [rows] || y.header.shape.count == 2 && y.header.shape[0] == rows && y.header.shape[1] >= 1 else {
            throw DataFileError("\(path)/\(y.name)", nil, "y has shape \(y.header.shape); expected (\(rows),) or (\(rows), k) to match the \(rows) rows")
        }
        let values: [Scalar] = y.values(as: Scalar.self)
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw DataFileError("\(path)/\(y.name)", "element \(bad)", "target \(values[bad]) is not finite")
        }
        return (values, y.header.shape.count == 2 ? y.header.shape[1] : 1)
    }
}
