import VectorMath

/// A synthetic regression problem with known true weights: features are standard normal,
/// targets come from the true model plus noise. Row i is a pure function of (seed, i), so the
/// data is the same however many threads generate it, in whatever order, and can be generated
/// in parallel or streamed.
///
/// | task | targets | true model (torch names) |
/// |---|---|---|
/// | `linear` | y = xWᵀ + b + noise·ε, `outputs` columns | `weight` [outputs, d], `bias` [outputs] |
/// | `logistic` | 1 if xwᵀ + b + noise·ε > 0, else 0 | `weight` [1, d], `bias` [1] |
/// | `multiclass` | argmax over classes of xWᵀ + b + noise·ε | `weight` [classes, d], `bias` [classes] |
/// | `nonlinear` | y = w₂·tanh(W₁x + b₁) + b₂ + noise·ε | `0.weight` [16, d], `0.bias`, `2.weight` [1, 16], `2.bias` |
public struct SyntheticRegression: Sendable, Equatable {
    /// The kind of target.
    public enum Task: String, Sendable, CaseIterable {
        case linear, logistic, multiclass, nonlinear
    }

    public let task: Task
    public let rows: Int
    public let features: Int
    /// Output columns (`linear`) or classes (`multiclass`); 1 otherwise.
    public let outputs: Int
    /// Standard deviation of the noise added before the target is formed.
    public let noise: Float
    public let seed: UInt64

    /// Hidden units of the `nonlinear` task's true network.
    public static var hiddenUnits: Int { 16 }

    public init(task: Task, rows: Int, features: Int, outputs: Int = 1, noise: Float = 0.1, seed: UInt64 = 0) throws(DatasetError) {
        guard rows > 0 else { throw .empty("synthetic \(task.rawValue) data") }
        guard features > 0 else { throw .shape("synthetic data needs at least one feature, got \(features)") }
        guard outputs > 0, task == .multiclass ? outputs >= 2 : true else {
            throw .shape(task == .multiclass ? "multiclass data needs at least 2 classes, got \(outputs)" : "outputs must be positive, got \(outputs)")
        }
        guard noise >= 0, noise.isFinite else { throw .shape("noise must be a finite, non-negative standard deviation, got \(noise)") }
        // Sizes in checked arithmetic: the data's bytes (rows × (features + targets) × 4) must be a
        // size a file can have (generate() checks memory too, ``dataBytes``); the true model
        // (features × outputs) is held in memory, so it must fit.
        let targets = task == .linear ? outputs : 1, width = features.addingReportingOverflow(targets)
        let cells = rows.multipliedReportingOverflow(by: width.partialValue)
        guard !width.overflow, !cells.overflow, cells.partialValue <= Int.max / 4 else {
            throw .shape("\(rows) rows × (\(features) features + \(targets) target(s)) is larger than any file can be")
        }
        guard features < Int.max / 2, MemoryBudget.floats(rows: max(outputs, Self.hiddenUnits), columns: features + 1) != nil else {
            throw .shape("a true model of \(outputs) × \(features) weights "
                         + MemoryBudget.refusal(MemoryBudget.floatBytes(rows: max(outputs, Self.hiddenUnits), columns: features + 1)))
        }
        self.task = task; self.rows = rows; self.features = features
        self.outputs = task == .linear || task == .multiclass ? outputs : 1
        self.noise = noise; self.seed = seed
    }

    /// Bytes of the data set in memory (features and targets as float32).
    public var dataBytes: Int { rows * (features + targetsPerRow) * 4 }

    /// Whether the data set fits in the memory budget (generate() holds all of it).
    public var fitsInMemory: Bool { MemoryBudget.floats(rows: rows, columns: features + targetsPerRow) != nil }

    /// Target values per row: `outputs` for linear data, 1 otherwise (a class index for multiclass).
    public var targetsPerRow: Int { task == .linear ? outputs : 1 }

    /// The tensors of the true model, by torch name, with their shapes.
    public var trueShapes: [(name: String, shape: [Int])] {
        switch task {
        case .linear, .multiclass: [("weight", [outputs, features]), ("bias", [outputs])]
        case .logistic: [("weight", [1, features]), ("bias", [1])]
        case .nonlinear: [("0.weight", [Self.hiddenUnits, features]), ("0.bias", [Self.hiddenUnits]),
                          ("2.weight", [1, Self.hiddenUnits]), ("2.bias", [1])]
        }
    }

    private var generator: Philox4x32 { Philox4x32(seed: seed) }
    private static let featureStream: UInt32 = 0, weightStream: UInt32 = 1, noiseStream: UInt32 = 2

    /// The true model's weights, by torch name: normal, scaled by 1/√(fan-in) (2/√d for the
    /// logistic task, for clear margins); biases N(0, 0.5²).
    public var trueWeights: [String: [Float]] {
        var result: [String: [Float]] = [:]
        for (tensor, (name, shape)) in trueShapes.enumerated() {
            let count = shape.reduce(1, *)
            let fanIn = shape.count == 2 ? Float(shape[1]) : 0
            let scale: Float = shape.count == 2 ? (task == .logistic ? 2 : 1) / fanIn.squareRoot() : 0.5
            var values = [Float](repeating: 0, count: count)
            values.withUnsafeMutableBufferPointer {
                generator.normals(stream: Self.weightStream, row: tensor, count: count, into: $0.baseAddress!)
            }
            result[name] = values.map { $0 * scale }
        }
        return result
    }

    /// Writes rows `range` of the features (row-major, `features` per row) and targets into `x`
    /// and `y`, which point at row 0's storage.
    public func fill(rows range: Range<Int>, x: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>, weights: [String: [Float]]) {
        let g = generator
        let d = features
        var hidden = [Float](repeating: 0, count: Self.hiddenUnits)
        // The noise, eight rows at a time (lane j is row r + j): deviate o of row r is element
        // o % 4 of the noise stream's block o / 4, as for the features.
        let noiseCount = task == .linear || task == .multiclass ? outputs : 1
        var noises = [Float](repeating: 0, count: range.count * noiseCount)
        for r in stride(from: range.lowerBound, to: range.upperBound, by: 8) {
            let rows = SIMD8<Int>(0, 1, 2, 3, 4, 5, 6, 7) &+ r
            for block in 0..<(noiseCount + 3) / 4 {
                let n = g.normals8(stream: Self.noiseStream, rows: rows, blocks: SIMD8(repeating: block))
                for j in 0..<min(8, range.upperBound - r) {
                    for k in 0..<min(4, noiseCount - block * 4) {
                        noises[(r - range.lowerBound + j) * noiseCount + block * 4 + k] = deviate(n, k, lane: j)
                    }
                }
            }
        }
        // The true weights looked up once, not per row and output.
        let (weight, bias) = task == .nonlinear ? (weights["0.weight"]!, weights["0.bias"]!) : (weights["weight"]!, weights["bias"]!)
        let (outWeight, outBias) = task == .nonlinear ? (weights["2.weight"]!, weights["2.bias"]!) : ([], [])
        for row in range {
            let features = x + row * d
            g.normals(stream: Self.featureStream, row: row, count: d, into: features)
            let targets = y + row * targetsPerRow
            func noiseTerm(_ index: Int) -> Float { noises[(row - range.lowerBound) * noiseCount + index] * noise }
            /// w[output] · input + b[output], in a fixed order (the same on every machine): eight
            /// lanes over the whole blocks of 8, their sum by halves, then the rest one by one.
            func affine(_ w: [Float], _ b: [Float], _ output: Int, input: UnsafePointer<Float>, width: Int) -> Float {
                w.withUnsafeBufferPointer { all in
                    let row = all.baseAddress! + output * width
                    var lanes = SIMD8<Float>()
                    var j = 0
                    while j + 8 <= width {
                        lanes = lanes.addingProduct(UnsafeRawPointer(row + j).loadUnaligned(as: SIMD8<Float>.self),
                                                    UnsafeRawPointer(input + j).loadUnaligned(as: SIMD8<Float>.self))
                        j += 8
                    }
                    let four = lanes.lowHalf + lanes.highHalf, two = four.lowHalf + four.highHalf
                    var sum = two[0] + two[1]
                    while j < width {
                        sum += row[j] * input[j]
                        j += 1
                    }
                    return sum + b[output]
                }
            }
            switch task {
            case .linear:
                for o in 0..<outputs {
                    targets[o] = affine(weight, bias, o, input: features, width: d) + noiseTerm(o)
                }
            case .logistic:
                targets[0] = affine(weight, bias, 0, input: features, width: d) + noiseTerm(0) > 0 ? 1 : 0
            case .multiclass:
                var best = 0
                var bestScore = -Float.infinity
                for c in 0..<outputs {
                    let score = affine(weight, bias, c, input: features, width: d) + noiseTerm(c)
                    if score > bestScore { best = c; bestScore = score }
                }
                targets[0] = Float(best)
            case .nonlinear:
                for h in 0..<Self.hiddenUnits {
                    hidden[h] = affine(weight, bias, h, input: features, width: d)
                }
                // tanh by VectorMath's fixed polynomial, not libm's: the same targets on every
                // machine, eight units at a time.
                for h in stride(from: 0, to: Self.hiddenUnits, by: 8) {
                    let t = hyperbolicTangent(SIMD8(hidden[h..<(h + 8)]))
                    for lane in 0..<8 { hidden[h + lane] = t[lane] }
                }
                targets[0] = hidden.withUnsafeBufferPointer {
                    affine(outWeight, outBias, 0, input: $0.baseAddress!, width: Self.hiddenUnits)
                } + noiseTerm(0)
            }
        }
    }

    /// The whole data set, generated on the calling thread (DataParallel generates it on the
    /// pinned workers instead; the values are the same).
    public func generate() throws(DatasetError) -> Dataset<Float> {
        let x = FloatStorage(count: rows * features), y = FloatStorage(count: rows * targetsPerRow)
        let weights = trueWeights
        fill(rows: 0..<rows, x: x.base, y: y.base, weights: weights)
        return try dataset(x: x, y: y, weights: weights)
    }

    /// Wraps generated storage as a data set.
    public func dataset(x: FloatStorage, y: FloatStorage, weights: [String: [Float]]) throws(DatasetError) -> Dataset<Float> {
        try Dataset(name: description, x: x, y: y, rows: rows, features: features, targetsPerRow: targetsPerRow, trueWeights: weights)
    }

    public var description: String {
        "synthetic \(task.rawValue) regression, \(rows) rows × \(features) features, noise \(noise), seed \(seed)"
    }
}

/// Deviate `k` of the block in lane `j` of ``Philox4x32/normals8(stream:rows:blocks:)``'s result.
@inline(__always)
func deviate(_ n: (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>), _ k: Int, lane j: Int) -> Float {
    switch k {
    case 0: n.0[j]
    case 1: n.1[j]
    case 2: n.2[j]
    default: n.3[j]
    }
}
