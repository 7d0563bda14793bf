import VectorMath
/// What a data set's targets look like: how many distinct values, whether they are whole
/// numbers, class names; what the trainer chooses its model and loss from.
public struct TargetSummary: Sendable, Equatable {
    /// The distinct target values, ascending; nil when there are more than ``distinctLimit``.
    public let distinct: [Float]?
    /// Whether every target is a whole number.
    public let integers: Bool
    /// The smallest target.
    public let minimum: Float
    /// Target values per row.
    public let targetsPerRow: Int
    /// Rows summarized.
    public let rows: Int
    /// The class names when the file's targets were text.
    public let labels: [String]?

    /// The most distinct values counted; more means a continuous target.
    public static let distinctLimit = 1000
    /// The most distinct whole non-negative numbers that still read as classes by default.
    public static let defaultClassLimit = 20

    public init<Data: TargetRows>(_ data: Data) {
        targetsPerRow = data.targetsPerRow
        rows = data.rows
        labels = data.labels
        var values = Set<Float>(), integers = true, minimum = Float.infinity, overflow = false
        for row in 0..<data.rows {
            for o in 0..<data.targetsPerRow {
                let value = Float(data.target(row, o))
                if value.rounded() != value { integers = false }
                minimum = min(minimum, value)
                if !overflow {
                    values.insert(value)
                    if values.count > Self.distinctLimit { overflow = true; values = [] }
                }
            }
        }
        distinct = overflow ? nil : values.sorted()
        self.integers = integers
        self.minimum = minimum
    }

    /// What the targets are, read as scikit-learn's `type_of_target` does but stricter about
    /// classes: text labels or exactly two distinct values are classes; whole non-negative
    /// numbers with at most ``defaultClassLimit`` distinct values are classes; anything else
    /// (or several targets per row) is a regression target.
    public enum Kind: Equatable, Sendable {
        case binary, multiclass(Int), continuous
    }

    public var kind: Kind {
        guard targetsPerRow == 1 else { return .continuous }
        if let labels { return labels.count == 2 ? .binary : .multiclass(labels.count) }
        guard let distinct else { return .continuous }
        if distinct.count == 2 { return .binary }
        // Classes repeat: whole numbers that are mostly distinct (20 body weights in 20 rows) are values.
        if integers && minimum >= 0 && distinct.count > 2 && distinct.count <= Self.defaultClassLimit && 2 * distinct.count <= rows {
            return .multiclass(distinct.count)
        }
        return .continuous
    }

    /// Why ``kind`` is what it is, in words for the user.
    public var reason: String {
        if targetsPerRow > 1 { return "\(targetsPerRow) targets per row" }
        if let labels { return "\(labels.count) text labels (\(Self.list(labels)))" }
        guard let distinct else { return "more than \(Self.distinctLimit) distinct values" }
        let values = Self.list(distinct.map(Self.name))
        switch kind {
        case .binary: return "two distinct values (\(values))"
        case .multiclass(let k): return "\(k) distinct whole numbers (\(values))"
        case .continuous:
            return integers && minimum >= 0 && distinct.count <= Self.defaultClassLimit
                ? "\(distinct.count) distinct whole numbers in \(rows) rows, too few repeats to be classes"
                : integers && minimum >= 0 ? "\(distinct.count) distinct whole numbers, more than \(Self.defaultClassLimit) classes"
                : "\(distinct.count) distinct values, not all whole numbers or some negative"
        }
    }

    /// The class names: text labels as they were, numbers as written ("-1", "1", "0.5").
    public var classNames: [String]? { labels ?? distinct?.map(Self.name) }

    /// The class index of each target value (its rank among the distinct values); nil when
    /// the targets are text (already indices) or too many to be classes.
    public var classIndex: (@Sendable (Float) -> Float)? {
        guard labels == nil, let distinct else { return nil }
        if distinct.enumerated().allSatisfy({ Float($0.offset) == $0.element }) { return nil }  // already 0, 1, ...
        let table = distinct
        return { value in
            var low = 0, high = table.count - 1
            while low < high {
                let middle = (low + high) / 2
                if table[middle] < value { low = middle + 1 } else { high = middle }
            }
            return Float(low)
        }
    }

    /// A number as a label: whole numbers without a decimal point.
    public static func name(_ value: Float) -> String {
        value.rounded() == value && abs(value) < 1e9 ? "\(Int(value))" : "\(value)"
    }

    static func list(_ names: [String]) -> String {
        names.count <= 6 ? names.joined(separator: ", ") : names.prefix(5).joined(separator: ", ") + ", ..., " + names.last!
    }
}

/// What the targets' summary, model choice and checks read of a data set, dense or sparse.
public protocol TargetRows {
    associatedtype Scalar: VectorScalar
    var rows: Int { get }
    var features: Int { get }
    var targetsPerRow: Int { get }
    var name: String { get }
    var labels: [String]? { get }
    func target(_ row: Int, _ index: Int) -> Scalar
}

extension Dataset: TargetRows {}
extension SparseDataset: TargetRows {}
