import VectorMath

/// A data set in memory: n rows of d features (row-major, 64-byte aligned) and their targets
/// (n rows of k values: regression targets, 0/1 labels, or class indices), in `Float` (the
/// default) or `Double`.
///
/// A class because it owns (possibly large, possibly memory-mapped) storage that models and
/// workers read in place. It is never mutated after creation.
public final class Dataset<Scalar: VectorScalar> {
    /// Number of rows.
    public let rows: Int
    /// Number of features per row (d).
    public let features: Int
    /// Number of target values per row (k).
    public let targetsPerRow: Int
    /// The features: row r's start at `x.base + r * rowStride`.
    public let x: ScalarStorage<Scalar>
    /// The targets: row r's start at `y.base + r * targetStride`.
    public let y: ScalarStorage<Scalar>
    /// Values from one row's features to the next's: `features` when rows are packed, more when
    /// the targets sit in the same rows (a `.npy` file whose last column is the target).
    public let rowStride: Int
    /// Values from one row's targets to the next's.
    public let targetStride: Int
    /// The weights that generated the data, when known (synthetic data), by tensor name.
    public let trueWeights: [String: [Float]]?
    /// What the data is, for reports ("synthetic linear regression, seed 42", a file name).
    public let name: String
    /// The class names, when the file's targets were text (`setosa`, `True`): the targets are
    /// then indices into them, in sorted order of the names.
    public let labels: [String]?
    /// Each row's weight in the training loss (class or sample weights), one per row; nil for 1.
    public let weights: ScalarStorage<Scalar>?

    /// Wraps features and targets already in storage. Throws when the shapes disagree.
    /// - Parameters:
    ///   - name: what messages and reports call the data set (a path, "synthetic ...").
    ///   - x: the features, row after row (`rowStride` values apart).
    ///   - y: the targets, `targetStride` values apart.
    ///   - rows: the number of rows.
    ///   - features: features per row.
    ///   - targetsPerRow: targets per row (outputs of a linear model; 1 otherwise).
    ///   - trueWeights: the weights that generated synthetic data, for the report's distance.
    ///   - labels: the class names when the targets were text; the targets index them.
    ///   - weights: each row's weight in the loss; nil for 1.
    ///   - rowStride: values between consecutive rows' features (default: `features`, packed).
    ///   - targetStride: values between consecutive rows' targets (default: `targetsPerRow`).
    public init(name: String, x: ScalarStorage<Scalar>, y: ScalarStorage<Scalar>, rows: Int, features: Int, targetsPerRow: Int = 1,
                rowStride: Int? = nil, targetStride: Int? = nil, trueWeights: [String: [Float]]? = nil,
                labels: [String]? = nil, weights: ScalarStorage<Scalar>? = nil) throws(DatasetError) {
        guard rows > 0 else { throw .empty(name) }
        guard features > 0 else { throw .shape("\(name): rows need at least one feature") }
        let rowStride = rowStride ?? features, targetStride = targetStride ?? targetsPerRow
        guard rowStride >= features, targetStride >= targetsPerRow else {
            throw .shape("\(name): a row stride shorter than the row")
        }
        guard x.count >= (rows - 1) * rowStride + features, rowStride != features || x.count == rows * features else {
            throw .shape("\(name): \(x.count) feature values do not make \(rows) rows of \(features)")
        }
        guard y.count >= (rows - 1) * targetStride + targetsPerRow, targetStride != targetsPerRow || y.count == rows * targetsPerRow else {
            throw .shape("\(name): \(y.count) targets for \(rows) rows of \(targetsPerRow) target(s) each")
        }
        self.name = name; self.x = x; self.y = y; self.rows = rows; self.features = features
        self.targetsPerRow = targetsPerRow; self.rowStride = rowStride; self.targetStride = targetStride
        self.trueWeights = trueWeights
        self.labels = labels
        guard weights == nil || weights!.count == rows else { throw .shape("\(name): \(weights!.count) row weights for \(rows) rows") }
        self.weights = weights
    }

    /// A data set from arrays: `x` holds rows × features values, `y` rows × targetsPerRow.
    public convenience init(name: String = "in-memory data", x: [Scalar], y: [Scalar], features: Int, targetsPerRow: Int = 1)
        throws(DatasetError)
    {
        guard features > 0 else { throw .shape("\(name): rows need at least one feature") }
        guard x.count % features == 0 else {
            throw .shape("\(name): \(x.count) feature values are not a whole number of rows of \(features)")
        }
        try self.init(name: name, x: ScalarStorage<Scalar>(x), y: ScalarStorage<Scalar>(y), rows: x.count / features, features: features,
                      targetsPerRow: targetsPerRow)
    }

    /// The same rows with each row's weight in the loss (nil: every row weighs 1).
    public func weighted(_ weights: [Scalar]?, name: String? = nil) throws(DatasetError) -> Dataset {
        try Dataset(name: name ?? self.name, x: x, y: y, rows: rows, features: features, targetsPerRow: targetsPerRow,
                    rowStride: rowStride, targetStride: targetStride, trueWeights: trueWeights, labels: labels,
                    weights: weights.map { ScalarStorage<Scalar>($0) })
    }

    /// Target `index` of row `row`.
    public func target(_ row: Int, _ index: Int = 0) -> Scalar { y[row * targetStride + index] }

    /// Feature `column` of row `row`.
    public func feature(_ row: Int, _ column: Int) -> Scalar { x[row * rowStride + column] }

    /// Throws, naming the first row and column, when a feature or target is NaN or infinite.
    public func validateFinite() throws(DatasetError) {
        if let (row, column) = firstNonFinite(x, stride: rowStride, width: features) {
            throw .nonFinite(name, row: row, column: column, value: "\(feature(row, column))", what: "feature")
        }
        if let (row, column) = firstNonFinite(y, stride: targetStride, width: targetsPerRow) {
            throw .nonFinite(name, row: row, column: column, value: "\(target(row, column))", what: "target")
        }
    }

    private func firstNonFinite(_ storage: ScalarStorage<Scalar>, stride: Int, width: Int) -> (Int, Int)? {
        guard let first = storage.firstNonFinite() else { return nil }
        if stride == width { return (first / width, first % width) }
        // Rows with other values between them (targets inside the rows): find the first in a
        // row's own columns, if any, from the row of the first.
        for row in first / stride..<rows {
            let base = storage.base + row * stride
            for column in 0..<width where !base[column].isFinite { return (row, column) }
        }
        return nil
    }

    /// Rows `range` as a new data set that shares this one's storage.
    public func slice(_ range: Range<Int>, name: String? = nil) throws(DatasetError) -> Dataset {
        guard !range.isEmpty, range.lowerBound >= 0, range.upperBound <= rows else {
            throw .shape("\(self.name): rows \(range) are not within 0..<\(rows)")
        }
        let xEnd = (range.upperBound - 1) * rowStride + features, yEnd = (range.upperBound - 1) * targetStride + targetsPerRow
        let xCount = rowStride == features ? range.count * features : xEnd - range.lowerBound * rowStride
        let yCount = targetStride == targetsPerRow ? range.count * targetsPerRow : yEnd - range.lowerBound * targetStride
        return try Dataset(
            name: name ?? "\(self.name)[\(range.lowerBound)..<\(range.upperBound)]",
            x: x.view(range.lowerBound * rowStride..<range.lowerBound * rowStride + xCount),
            y: y.view(range.lowerBound * targetStride..<range.lowerBound * targetStride + yCount),
            rows: range.count, features: features, targetsPerRow: targetsPerRow,
            rowStride: rowStride, targetStride: targetStride, trueWeights: trueWeights, labels: labels,
            weights: weights?.view(range))
    }

    /// Splits off the last `fraction` of the rows as validation data: (training, validation).
    /// Synthetic rows are independent draws, so the tail is as good a sample as any.
    public func split(validationFraction fraction: Double) throws(DatasetError) -> (training: Dataset, validation: Dataset?) {
        guard let cut = try validationCut(rows: rows, fraction: fraction, name: name) else { return (self, nil) }
        return (try slice(0..<cut, name: "\(name) (training)"), try slice(cut..<rows, name: "\(name) (validation)"))
    }

    /// The same rows in another precision (a copy, rounded to nearest when narrower; the same
    /// data set when the precision is its own).
    public func converted<Other: VectorScalar>(to _: Other.Type) throws(DatasetError) -> Dataset<Other> {
        if let same = self as? Dataset<Other> { return same }
        return try Dataset<Other>(name: name, x: x.converted(to: Other.self), y: y.converted(to: Other.self), rows: rows,
                                  features: features, targetsPerRow: targetsPerRow, rowStride: rowStride, targetStride: targetStride,
                                  trueWeights: trueWeights, labels: labels, weights: weights?.converted(to: Other.self))
    }

    /// Bytes of features, what one pass over the data reads.
    public var featureBytes: Int { rows * features * MemoryLayout<Scalar>.stride }
}

/// Why a data set is unusable; each message names the data and, where it applies, the row and
/// column.
public enum DatasetError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty(String)
    case shape(String)
    case nonFinite(String, row: Int, column: Int, value: String, what: String)
    case invalidTarget(String, row: Int, value: String, expected: String)

    public var description: String {
        switch self {
        case .empty(let name): "\(name): the data set has no rows"
        case .shape(let message): message
        case let .nonFinite(name, row, column, value, what):
            "\(name): \(what) at row \(row), column \(column) is \(value); data must be finite"
        case let .invalidTarget(name, row, value, expected):
            "\(name): target at row \(row) is \(value), expected \(expected)"
        }
    }
}

/// Where a split of `rows` rows that holds out `fraction` of them cuts (the first validation row),
/// or nil when it holds out none.
func validationCut(rows: Int, fraction: Double, name: String) throws(DatasetError) -> Int? {
    guard fraction >= 0, fraction < 1 else { throw .shape("validation fraction must be in [0, 1), got \(fraction)") }
    let validationRows = Int((Double(rows) * fraction).rounded())
    guard validationRows > 0 else { return nil }
    guard validationRows < rows else { throw .shape("\(name): a validation fraction of \(fraction) leaves no training rows") }
    return rows - validationRows
}
