/// A model the trainer can fit: its parameter layout, and one fused kernel that runs forward,
/// loss and backward over a block of rows.
///
/// Parameters are one flat vector, the tensors of ``parameterShapes`` end to end, named and
/// shaped as torch's modules name and shape them (`weight` [outputs, inputs], `bias`).
/// Kernels run on many threads at once on disjoint rows; they read the parameters and write only
/// the gradient slot they are given.
///
/// A model describes an architecture, not a precision: its kernels are generic over the
/// ``TrainingScalar`` the fit runs in (`Float` or `Double`), and compiled for both (mark them
/// `@_specialize(where Scalar == Float)` and `== Double`, or they run generic, many times slower).
public protocol Model: Sendable {
    /// A short description ("linear regression, 32 → 1, MSE").
    var description: String { get }
    /// Features per row (d).
    var inputFeatures: Int { get }
    /// Target values per row in the data: outputs for regression, 1 for classification.
    var targetsPerRow: Int { get }
    /// Values the model predicts per row: outputs, or one logit per class.
    var outputsPerRow: Int { get }
    /// The loss the kernel computes.
    var loss: Loss { get }
    /// The tensors, in layout order, with torch's names and shapes.
    var parameterShapes: [(name: String, shape: [Int])] { get }
    /// Loss terms per row that the mean divides by: outputs for regression losses (torch's
    /// `MSELoss` averages over every element), 1 for classification.
    var lossElementsPerRow: Int { get }

    /// Initial parameters as torch's `nn.Linear` draws them (U(−1/√fan_in, 1/√fan_in)), from `seed`,
    /// in Float: a Double fit starts from the same values, widened.
    func initialParameters(seed: UInt64) -> [Float]

    /// Adds Σ over the block's rows of ∂loss/∂θ into `gradient` and returns Σ of the rows' losses.
    func accumulateGradient<Scalar: TrainingScalar>(parameters: UnsafePointer<Scalar>, rows: RowBlock<Scalar>,
                                                    gradient: UnsafeMutablePointer<Scalar>) -> Double

    /// Writes the raw outputs (predictions, or logits) of the block's rows into `outputs`,
    /// `outputsPerRow` per row.
    func predict<Scalar: TrainingScalar>(parameters: UnsafePointer<Scalar>, rows: RowBlock<Scalar>, outputs: UnsafeMutablePointer<Scalar>)
}

/// Rows for a kernel: features and targets in place, each row `xStride` values after the last
/// (more than the feature count when the targets sit in the same rows, as in a `.npy` file whose
/// last column is the target), targets `yStride` values apart.
public struct RowBlock<Scalar: TrainingScalar> {
    /// The first row's features.
    public let x: UnsafePointer<Scalar>
    /// Values from one row's features to the next's.
    public let xStride: Int
    /// The first row's targets (unused by `predict`).
    public let y: UnsafePointer<Scalar>
    /// Values from one row's targets to the next's.
    public let yStride: Int
    /// The number of rows.
    public let count: Int
    /// Each row's weight in the loss (class weights, sample weights), one per row; nil for 1.
    /// A row of weight s adds s · loss and s · ∂loss/∂θ (the mean still divides by the rows).
    public let weights: UnsafePointer<Scalar>?

    public init(x: UnsafePointer<Scalar>, xStride: Int, y: UnsafePointer<Scalar>, yStride: Int, count: Int,
                weights: UnsafePointer<Scalar>? = nil) {
        self.x = x; self.xStride = xStride; self.y = y; self.yStride = yStride; self.count = count
        self.weights = weights
    }

    /// Contiguous rows: `features` values per row, `targets` per row.
    public init(x: UnsafePointer<Scalar>, features: Int, y: UnsafePointer<Scalar>, targets: Int, count: Int) {
        self.init(x: x, xStride: features, y: y, yStride: targets, count: count)
    }

    /// Row `row`'s features.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    @inline(__always) public func features(_ row: Int) -> UnsafePointer<Scalar> { x + row &* xStride }
    /// Row `row`'s targets.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    @inline(__always) public func targets(_ row: Int) -> UnsafePointer<Scalar> { y + row &* yStride }
    /// Row `row`'s weight (1 without weights).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    @inline(__always) public func weight(_ row: Int) -> Scalar { weights.map { $0[row] } ?? 1 }
    /// The weights of rows row..<row+count in lanes 0..<count (zeros after).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    @inline(__always) func weights8(from row: Int, count: Int = 8) -> SIMD8<Scalar> {
        var lanes = SIMD8<Scalar>()
        if let weights { for lane in 0..<count { lanes[lane] = weights[row &+ lane] } }
        return lanes
    }
}

extension Model {
    /// The number of parameters.
    public var parameterCount: Int { parameterShapes.reduce(0) { $0 + $1.shape.reduce(1, *) } }

    /// nil when `value` is a valid target for this model, else what was expected.
    public func targetProblem<Value: BinaryFloatingPoint>(_ value: Value) -> String? {
        switch loss {
        case .bceWithLogits: value == 0 || value == 1 ? nil : "0 or 1"
        case .crossEntropy:
            value >= 0 && value < Value(outputsPerRow) && value.rounded() == value
                ? nil : "a class index in 0..<\(outputsPerRow)"
        default: nil
        }
    }
}

/// torch's default initialization of an `nn.Linear(fan_in, fan_out)` layer: weights and bias
/// uniform in ±1/√fan_in. Deterministic in `seed` (SplitMix64).
func linearLayerInitialization(fanIn: Int, count: Int, state: inout UInt64) -> [Float] {
    let bound = 1 / Float(fanIn).squareRoot()
    return (0..<count).map { _ in
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        let unit = Float(z >> 40) * 0x1p-24
        return (2 * unit - 1) * bound
    }
}
