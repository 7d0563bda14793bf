import PageMapping
import VectorMath

/// Integers a sparse data set is made of (row offsets, column indices), owned and aligned as
/// ``ScalarStorage`` owns values: page-mapped when large, so that the worker that writes a part
/// places its pages.
public final class IndexStorage<Element: FixedWidthInteger & Sendable> {
    public let count: Int
    public let base: UnsafeMutablePointer<Element>
    private let mapping: PageMapping?

    /// `count` zeros.
    public init(count: Int) {
        precondition(count >= 0)
        self.count = count
        let bytes = max(count, 1) * MemoryLayout<Element>.stride
        if bytes >= PageMapping.threshold, let mapping = PageMapping(bytes: bytes) {
            base = mapping.start.bindMemory(to: Element.self, capacity: count)
            self.mapping = mapping
        } else {
            base = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
                .initializeMemory(as: Element.self, repeating: 0, count: max(count, 1))
            mapping = nil
        }
    }

    /// A copy of `values`.
    public convenience init(_ values: [Element]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { base.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit { if mapping == nil { UnsafeMutableRawPointer(base).deallocate() } }

    public subscript(index: Int) -> Element {
        precondition(index >= 0 && index < count, "index \(index) out of 0..<\(count)")
        return base[index]
    }

    /// The values, copied.
    public var array: [Element] { Array(UnsafeBufferPointer(start: base, count: count)) }
}

/// A sparse data set in compressed sparse row form (CSR, as scipy's `csr_matrix`): row r's
/// non-zero features are `columns[offsets[r]..<offsets[r + 1]]` (ascending) with `values` at
/// the same places; memory is proportional to the non-zeros, not to rows × features.
///
/// Offsets are 64-bit (more than 2³¹ non-zeros is an ordinary data set); column indices are
/// 32-bit (up to 2,147,483,647 features). A slice shares its parent's arrays: its offsets are a
/// window of the parent's, so they need not start at 0. Never mutated after creation.
public final class SparseDataset<Scalar: VectorScalar> {
    /// Number of rows.
    public let rows: Int
    /// The width: column indices are in 0..<features.
    public let features: Int
    /// Target values per row.
    public let targetsPerRow: Int
    /// Row r's entries are at offsets[offsetStart + r]..<offsets[offsetStart + r + 1].
    public let offsets: IndexStorage<Int64>
    /// Where this data set's rows start in `offsets` (non-zero for a slice).
    public let offsetStart: Int
    /// The column of each entry.
    public let columns: IndexStorage<Int32>
    /// The value of each entry.
    public let values: ScalarStorage<Scalar>
    /// The targets, `targetsPerRow` per row, from this data set's first row.
    public let y: ScalarStorage<Scalar>
    /// Each row's weight in the loss; nil for 1.
    public let weights: ScalarStorage<Scalar>?
    /// The weights that generated the data, when known (synthetic data), by tensor name.
    public let trueWeights: [String: [Float]]?
    /// What the data is, for messages and reports.
    public let name: String
    /// The class names when the file's targets were text.
    public let labels: [String]?

    /// Wraps CSR arrays. Throws when they do not make a valid matrix: offsets that do not ascend
    /// from a valid entry, columns out of range or not ascending within a row, targets that do
    /// not match the rows. Checking costs one pass over the entries.
    public init(name: String, rows: Int, features: Int, offsets: IndexStorage<Int64>, offsetStart: Int = 0,
                columns: IndexStorage<Int32>, values: ScalarStorage<Scalar>, y: ScalarStorage<Scalar>, targetsPerRow: Int = 1,
                weights: ScalarStorage<Scalar>? = nil, trueWeights: [String: [Float]]? = nil, labels: [String]? = nil,
                validated: Bool = false) throws(DatasetError) {
        guard rows > 0 else { throw .empty(name) }
        guard features > 0, features <= Int(Int32.max) else {
            throw .shape("\(name): the width must be 1...\(Int32.max) features, got \(features)")
        }
        guard targetsPerRow > 0, offsetStart >= 0, offsets.count - offsetStart > rows else {
            throw .shape("\(name): \(offsets.count - offsetStart) row offsets for \(rows) rows (CSR needs rows + 1)")
        }
        guard columns.count == values.count else { throw .shape("\(name): \(columns.count) column indices for \(values.count) values") }
        guard y.count == rows * targetsPerRow else { throw .shape("\(name): \(y.count) targets for \(rows) rows of \(targetsPerRow)") }
        guard weights == nil || weights!.count == rows else { throw .shape("\(name): \(weights!.count) row weights for \(rows) rows") }
        if !validated {
            let o = offsets.base + offsetStart
            guard o[0] >= 0, o[rows] <= Int64(columns.count) else {
                throw .shape("\(name): the row offsets point outside the \(columns.count) entries")
            }
            for r in 0..<rows {
                guard o[r] <= o[r + 1] else { throw .shape("\(name): row \(r)'s offsets descend (\(o[r]) then \(o[r + 1]))") }
                var previous: Int32 = -1
                for e in Int(o[r])..<Int(o[r + 1]) {
                    let c = columns.base[e]
                    guard c > previous, Int(c) < features else {
                        throw .shape(c >= 0 && Int(c) >= features
                            ? "\(name): row \(r) has column \(c), beyond the \(features) features"
                            : "\(name): row \(r)'s columns must ascend and be 0 or more (\(c) after \(previous))")
                    }
                    previous = c
                }
            }
        }
        self.name = name; self.rows = rows; self.features = features; self.targetsPerRow = targetsPerRow
        self.offsets = offsets; self.offsetStart = offsetStart; self.columns = columns; self.values = values
        self.y = y; self.weights = weights; self.trueWeights = trueWeights; self.labels = labels
    }

    /// A data set from arrays: `offsets` (rows + 1, from 0), `columns` and `values` (one per entry).
    public convenience init(name: String = "in-memory sparse data", features: Int, offsets: [Int64], columns: [Int32], values: [Scalar],
                            y: [Scalar], targetsPerRow: Int = 1) throws(DatasetError) {
        try self.init(name: name, rows: max(offsets.count - 1, 0), features: features, offsets: IndexStorage(offsets),
                      columns: IndexStorage(columns), values: ScalarStorage(values), y: ScalarStorage(y), targetsPerRow: targetsPerRow)
    }

    /// The first entry of row `row` (an index into `columns` and `values`).
    @inline(__always) public func entryStart(_ row: Int) -> Int { Int(offsets.base[offsetStart + row]) }

    /// The non-zeros of this data set's rows.
    public var nonZeros: Int { entryStart(rows) - entryStart(0) }

    /// Bytes one pass over the data reads: each entry's column and value, each row's offset and targets.
    public var bytesPerPass: Int {
        nonZeros * (4 + MemoryLayout<Scalar>.stride) + rows * (8 + targetsPerRow * MemoryLayout<Scalar>.stride)
    }

    /// Target `index` of row `row`.
    public func target(_ row: Int, _ index: Int = 0) -> Scalar { y[row * targetsPerRow + index] }

    /// Row `row`'s entries as (column, value) pairs.
    public func row(_ row: Int) -> [(column: Int, value: Scalar)] {
        (entryStart(row)..<entryStart(row + 1)).map { (Int(columns.base[$0]), values.base[$0]) }
    }

    /// The same rows with each row's weight in the loss (nil: every row weighs 1).
    public func weighted(_ weights: [Scalar]?, name: String? = nil) throws(DatasetError) -> SparseDataset {
        try SparseDataset(name: name ?? self.name, rows: rows, features: features, offsets: offsets, offsetStart: offsetStart,
                          columns: columns, values: values, y: y, targetsPerRow: targetsPerRow, weights: weights.map { ScalarStorage($0) },
                          trueWeights: trueWeights, labels: labels, validated: true)
    }

    /// Rows `range`, sharing this data set's arrays.
    public func slice(_ range: Range<Int>, name: String? = nil) throws(DatasetError) -> SparseDataset {
        guard !range.isEmpty, range.lowerBound >= 0, range.upperBound <= rows else {
            throw .shape("\(self.name): rows \(range) are not within 0..<\(rows)")
        }
        let k = targetsPerRow
        return try SparseDataset(name: name ?? "\(self.name)[\(range.lowerBound)..<\(range.upperBound)]", rows: range.count,
                                 features: features, offsets: offsets, offsetStart: offsetStart + range.lowerBound, columns: columns,
                                 values: values, y: y.view(range.lowerBound * k..<range.upperBound * k), targetsPerRow: k,
                                 weights: weights?.view(range), trueWeights: trueWeights, labels: labels, validated: true)
    }

    /// Splits off the last `fraction` of the rows as validation data: (training, validation).
    public func split(validationFraction fraction: Double) throws(DatasetError) -> (training: SparseDataset, validation: SparseDataset?) {
        guard let cut = try validationCut(rows: rows, fraction: fraction, name: name) else { return (self, nil) }
        return (try slice(0..<cut, name: "\(name) (training)"), try slice(cut..<rows, name: "\(name) (validation)"))
    }

    /// Throws, naming the first row and column, when a value or target is NaN or infinite.
    public func validateFinite() throws(DatasetError) {
        let first = entryStart(0), last = entryStart(rows)
        if let bad = values.view(first..<last).firstNonFinite() {
            let entry = first + bad
            var low = 0, high = rows
            while high - low > 1 {
                let mid = (low + high) / 2
                if entryStart(mid) <= entry { low = mid } else { high = mid }
            }
            throw .nonFinite(name, row: low, column: Int(columns.base[entry]), value: "\(values.base[entry])", what: "feature")
        }
        if let bad = y.firstNonFinite() {
            throw .nonFinite(name, row: bad / targetsPerRow, column: bad % targetsPerRow, value: "\(y.base[bad])", what: "target")
        }
    }

    /// The same rows as a dense data set (zeros where there is no entry); nil when rows ×
    /// features values do not fit the memory budget.
    public func densified() -> Dataset<Scalar>? {
        guard let count = MemoryBudget.values(rows: rows, columns: features, size: MemoryLayout<Scalar>.stride) else { return nil }
        let x = ScalarStorage<Scalar>(count: count)
        for r in 0..<rows {
            for e in entryStart(r)..<entryStart(r + 1) { x.base[r * features + Int(columns.base[e])] = values.base[e] }
        }
        return try? Dataset(name: name, x: x, y: y, rows: rows, features: features, targetsPerRow: targetsPerRow,
                            trueWeights: trueWeights, labels: labels, weights: weights)
    }

    /// The same rows in a wider space (columns `features..<width` all zero): a file narrower than
    /// the model it is read for.
    public func widened(to width: Int) throws(DatasetError) -> SparseDataset {
        guard width != features else { return self }
        guard width > features else { throw .shape("\(name): \(features) features cannot narrow to \(width)") }
        return try SparseDataset(name: name, rows: rows, features: width, offsets: offsets, offsetStart: offsetStart, columns: columns, values: values,
                                 y: y, targetsPerRow: targetsPerRow, weights: weights, trueWeights: trueWeights, labels: labels, validated: true)
    }

    /// The same entries in another precision (rounded to nearest when narrower).
    public func converted<Other: VectorScalar>(to _: Other.Type) throws(DatasetError) -> SparseDataset<Other> {
        if let same = self as? SparseDataset<Other> { return same }
        return try SparseDataset<Other>(name: name, rows: rows, features: features, offsets: offsets, offsetStart: offsetStart,
                                        columns: columns, values: values.converted(to: Other.self), y: y.converted(to: Other.self),
                                        targetsPerRow: targetsPerRow, weights: weights?.converted(to: Other.self),
                                        trueWeights: trueWeights, labels: labels, validated: true)
    }
}

extension SparseDataset {
    /// Rows `rows` (in that order, repeats allowed) copied into a new data set; `targetIndex` maps
    /// each target (class labels to indices 0, 1, ...).
    public func gathered(rows order: [Int], name: String, targetIndex: (@Sendable (Float) -> Float)? = nil) throws(DatasetError) -> SparseDataset {
        guard !order.isEmpty else { throw .empty(name) }
        let k = targetsPerRow
        let offsets = IndexStorage<Int64>(count: order.count + 1)
        var total = 0
        for (i, row) in order.enumerated() {
            guard row >= 0 && row < rows else { throw .shape("\(self.name): row \(row) is not within 0..<\(rows)") }
            total += entryStart(row + 1) - entryStart(row)
            offsets.base[i + 1] = Int64(total)
        }
        let columns = IndexStorage<Int32>(count: total), values = ScalarStorage<Scalar>(count: total)
        let y = ScalarStorage<Scalar>(count: order.count * k)
        let weights = self.weights.map { _ in ScalarStorage<Scalar>(count: order.count) }
        for (i, row) in order.enumerated() {
            let from = entryStart(row), count = entryStart(row + 1) - from, to = Int(offsets.base[i])
            (columns.base + to).update(from: self.columns.base + from, count: count)
            (values.base + to).update(from: self.values.base + from, count: count)
            for o in 0..<k {
                let value = self.y.base[row * k + o]
                y.base[i * k + o] = targetIndex.map { Scalar($0(Float(value))) } ?? value
            }
            if let weights { weights.base[i] = self.weights!.base[row] }
        }
        return try SparseDataset(name: name, rows: order.count, features: features, offsets: offsets, columns: columns, values: values,
                                 y: y, targetsPerRow: k, weights: weights, trueWeights: trueWeights, labels: targetIndex == nil ? labels : nil,
                                 validated: true)
    }
}
