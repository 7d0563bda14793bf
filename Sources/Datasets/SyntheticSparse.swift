/// A synthetic sparse problem with known true weights, shaped like text or click data: each row
/// has about `nonZerosPerRow` distinct features drawn from a power law (feature j about 1/(j+1)
/// as frequent as feature 0: a few features in most rows, most features in few), positive values
/// scaled to a unit-norm row (as tf-idf rows are), and a target from the true linear model.
/// Row i is a pure function of (seed, i), in integer and IEEE arithmetic only, so the data is the
/// same on every machine and for any number of threads generating it.
///
/// | task | targets | true model (torch names) |
/// |---|---|---|
/// | `linear` | y = xwᵀ + b + noise·ε | `weight` [1, d], `bias` [1] |
/// | `logistic` | 1 if xwᵀ + b + noise·ε > 0, else 0 | `weight` [1, d], `bias` [1] |
/// | `multiclass` | argmax over classes of xWᵀ + b + noise·ε | `weight` [classes, d], `bias` [classes] |
public struct SyntheticSparse: Sendable, Equatable {
    public typealias Task = SyntheticRegression.Task

    public let task: Task
    public let rows: Int
    public let features: Int
    /// The mean number of non-zeros per row; row i has between 1 and 2·`nonZerosPerRow` − 1 draws
    /// (uniformly), fewer distinct features when draws repeat.
    public let nonZerosPerRow: Int
    /// Classes (`multiclass`); 1 otherwise.
    public let outputs: Int
    /// Standard deviation of the noise added before the target is formed.
    public let noise: Float
    public let seed: UInt64

    public init(task: Task, rows: Int, features: Int, nonZerosPerRow: Int, outputs: Int = 1, noise: Float = 0.1, seed: UInt64 = 0)
        throws(DatasetError)
    {
        guard task != .nonlinear else { throw .shape("sparse synthetic data has the linear, logistic and multiclass tasks") }
        guard rows > 0 else { throw .empty("synthetic sparse \(task.rawValue) data") }
        guard features > 0, features <= Int(Int32.max) else { throw .shape("sparse data needs 1...\(Int32.max) features, got \(features)") }
        guard nonZerosPerRow > 0, nonZerosPerRow <= 1 << 20 else {
            throw .shape("non-zeros per row must be 1...\(1 << 20), got \(nonZerosPerRow)")
        }
        guard task == .multiclass ? outputs >= 2 && outputs <= 1 << 16 : true else {
            throw .shape("multiclass data needs 2...65536 classes, got \(outputs)")
        }
        guard noise >= 0, noise.isFinite else { throw .shape("noise must be a finite, non-negative standard deviation, got \(noise)") }
        let classes = task == .multiclass ? outputs : 1
        guard let _ = MemoryBudget.floats(rows: classes, columns: features + 1) else {
            throw .shape("a true model of \(classes) × \(features) weights " + MemoryBudget.refusal(MemoryBudget.floatBytes(rows: classes, columns: features + 1)))
        }
        let entries = rows.multipliedReportingOverflow(by: 2 * nonZerosPerRow)
        guard !entries.overflow, entries.partialValue <= Int.max / 16 else {
            throw .shape("\(rows) rows × \(nonZerosPerRow) non-zeros is larger than any data set can be")
        }
        self.task = task; self.rows = rows; self.features = features; self.nonZerosPerRow = nonZerosPerRow
        self.outputs = classes; self.noise = noise; self.seed = seed
    }

    private var generator: Philox4x32 { Philox4x32(seed: seed) }
    private static let weightStream: UInt32 = 1, noiseStream: UInt32 = 2, countStream: UInt32 = 3, columnStream: UInt32 = 4,
                       valueStream: UInt32 = 5

    /// The most entries the data set can have (each row's draws before repeats are merged).
    public var maximumEntries: Int { rows * (2 * nonZerosPerRow - 1) }

    /// The tensors of the true model, by torch name, with their shapes.
    public var trueShapes: [(name: String, shape: [Int])] { [("weight", [outputs, features]), ("bias", [outputs])] }

    /// The true model's weights: N(0, 1) (N(0, 3²) for the logistic task, for clear margins, as
    /// rows have unit norm); biases N(0, 0.5²) (0 for logistic, so both labels are common).
    public var trueWeights: [String: [Float]] {
        let scale: Float = task == .logistic ? 3 : 1
        var weight = [Float](repeating: 0, count: outputs * features), bias = [Float](repeating: 0, count: outputs)
        weight.withUnsafeMutableBufferPointer { generator.normals(stream: Self.weightStream, row: 0, count: $0.count, into: $0.baseAddress!) }
        bias.withUnsafeMutableBufferPointer { generator.normals(stream: Self.weightStream, row: 1, count: $0.count, into: $0.baseAddress!) }
        return ["weight": weight.map { $0 * scale }, "bias": task == .logistic ? bias.map { _ in 0 } : bias.map { $0 * 0.5 }]
    }

    /// Row `row`'s draws: ascending distinct columns into `columns` (room for 2·nonZerosPerRow − 1),
    /// returning how many. Octave b (features 2ᵇ − 1 ..< 2ᵇ⁺¹ − 1) is drawn uniformly, then a
    /// feature uniformly within it (redrawn past the width): density about 1/(j + 1).
    @inline(__always)
    func draw(row: Int, into columns: UnsafeMutablePointer<Int32>) -> Int {
        let g = generator
        let r0 = UInt32(truncatingIfNeeded: row), r1 = UInt32(truncatingIfNeeded: row >> 32)
        let count = 1 + Int(g.block((r0, r1, 0, Self.countStream)).0 % UInt32(2 * nonZerosPerRow - 1))
        let octaves = UInt32(Int.bitWidth - features.leadingZeroBitCount)   // 2^octaves − 1 ≥ features
        var drawn = 0, counter: UInt32 = 0
        while drawn < count {
            let words = g.block((r0, r1, counter, Self.columnStream))
            counter &+= 1
            for half in 0..<2 where drawn < count {
                let a = half == 0 ? words.0 : words.2, b = half == 0 ? words.1 : words.3
                let octave = a % octaves
                let column = Int(1 << octave) - 1 + Int(b & ((1 << octave) - 1))
                // Past the width: draw again (the next pair); at most half the last octave is past it.
                guard column < features else { continue }
                columns[drawn] = Int32(column)
                drawn += 1
            }
        }
        // Ascending, repeats merged.
        var buffer = UnsafeMutableBufferPointer(start: columns, count: count)
        buffer.sort()
        var unique = 1
        for i in 1..<count where columns[i] != columns[unique - 1] {
            columns[unique] = columns[i]
            unique += 1
        }
        return unique
    }

    /// The number of entries of row `row`.
    public func entries(row: Int) -> Int {
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: 2 * nonZerosPerRow) { draw(row: row, into: $0.baseAddress!) }
    }

    /// Writes rows `range`: their entries at `columns` and `values` from entry `offsets[range.lowerBound]`
    /// (the offsets already hold every row's start: ``entries(row:)`` prefix-summed) and their
    /// targets into `y` (which points at row 0's).
    public func fill(rows range: Range<Int>, offsets: UnsafePointer<Int64>, columns: UnsafeMutablePointer<Int32>,
                     values: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>, weights: [String: [Float]]) {
        let g = generator
        let weight = weights["weight"]!, bias = weights["bias"]!, d = features
        var scores = [Double](repeating: 0, count: outputs)
        // The draws before repeats are merged need more room than the row has.
        let drawn = UnsafeMutablePointer<Int32>.allocate(capacity: 2 * nonZerosPerRow)
        defer { drawn.deallocate() }
        for row in range {
            let start = Int(offsets[row]), cols = columns + start, vals = values + start
            let count = draw(row: row, into: drawn)
            precondition(Int64(start + count) == offsets[row + 1], "offsets do not match the rows' entries")
            cols.update(from: drawn, count: count)
            // Values 0.5 + U[0, 1) from 24 bits, then the row scaled to unit norm.
            var squares: Float = 0
            for e in 0..<count {
                let bits = g.block((UInt32(truncatingIfNeeded: row), UInt32(truncatingIfNeeded: row >> 32), UInt32(e), Self.valueStream)).0
                vals[e] = 0.5 + Float(bits >> 8) * 0x1p-24
                squares += vals[e] * vals[e]
            }
            let inverse = 1 / squares.squareRoot()
            for e in 0..<count { vals[e] *= inverse }
            let n = g.normals(stream: Self.noiseStream, row: row, block: 0)
            for c in 0..<outputs {
                var z = Double(bias[c])
                for e in 0..<count { z += Double(weight[c * d + Int(cols[e])]) * Double(vals[e]) }
                let extra = outputs > 4 ? g.normals(stream: Self.noiseStream, row: row, block: c / 4) : n
                scores[c] = z + Double(noise * deviate4(extra, c % 4))
            }
            switch task {
            case .linear: y[row] = Float(scores[0])
            case .logistic: y[row] = scores[0] > 0 ? 1 : 0
            case .multiclass, .nonlinear: y[row] = Float(scores.indices.max { scores[$0] < scores[$1] }!)
            }
        }
    }

    public var description: String {
        "synthetic sparse \(task.rawValue) regression, \(rows) rows × \(features) features, ~\(nonZerosPerRow) non-zeros per row, "
            + "noise \(noise), seed \(seed)"
    }
}

@inline(__always)
private func deviate4(_ n: (Float, Float, Float, Float), _ k: Int) -> Float {
    switch k {
    case 0: n.0
    case 1: n.1
    case 2: n.2
    default: n.3
    }
}
