import RealModule

/// A model that also trains on sparse rows (CSR): its first tensor, at offset 0, is a weight
/// matrix [``sparseWidth``, inputFeatures] (torch's `nn.Linear` layout) whose columns a row's
/// non-zeros select; the parameters after it are dense, touched by every row.
///
/// The gradient kernel writes the weight's gradient compactly, column by column, only for the
/// columns the block's rows touch (``SparseGradient``): the engine decides where each column goes
/// (``SparseRowBlock/slots``), so that a chunk's partial gradient costs what its rows touch, not d.
public protocol SparseModel: Model {
    /// Rows of the first weight tensor: outputs (linear models) or hidden units.
    var sparseWidth: Int { get }

    /// Adds Σ over the block's rows of ∂loss/∂θ into `gradient` and returns Σ of the rows' losses.
    func accumulateGradient<Scalar: TrainingScalar>(parameters: UnsafePointer<Scalar>, rows: SparseRowBlock<Scalar>,
                                                    gradient: SparseGradient<Scalar>) -> Double

    /// Writes the raw outputs of the block's rows into `outputs`, `outputsPerRow` per row.
    func predict<Scalar: TrainingScalar>(parameters: UnsafePointer<Scalar>, rows: SparseRowBlock<Scalar>,
                                         outputs: UnsafeMutablePointer<Scalar>)
}

/// Sparse rows for a kernel: row i's entries are `offsets[i]..<offsets[i + 1]` of `columns` and
/// `values` (absolute entry indices, as in the data set's arrays).
public struct SparseRowBlock<Scalar: TrainingScalar> {
    /// count + 1 row offsets.
    public let offsets: UnsafePointer<Int64>
    public let columns: UnsafePointer<Int32>
    public let values: UnsafePointer<Scalar>
    /// For a gradient kernel, entry e's column's place in the ``SparseGradient``:
    /// `slots[e − offsets[0]]`. nil for `predict`.
    public let slots: UnsafePointer<Int32>?
    /// The first row's targets, `yStride` values apart.
    public let y: UnsafePointer<Scalar>
    public let yStride: Int
    public let count: Int
    /// Each row's weight in the loss; nil for 1.
    public let weights: UnsafePointer<Scalar>?

    public init(offsets: UnsafePointer<Int64>, columns: UnsafePointer<Int32>, values: UnsafePointer<Scalar>, slots: UnsafePointer<Int32>?,
                y: UnsafePointer<Scalar>, yStride: Int, count: Int, weights: UnsafePointer<Scalar>? = nil) {
        self.offsets = offsets; self.columns = columns; self.values = values; self.slots = slots
        self.y = y; self.yStride = yStride; self.count = count; self.weights = weights
    }

    @inline(__always) func retyped<Other>(_: Other.Type) -> SparseRowBlock<Other> {
        SparseRowBlock<Other>(offsets: offsets, columns: columns, values: values.retyped(Other.self), slots: slots, y: y.retyped(Other.self),
                              yStride: yStride, count: count, weights: weights?.retyped(Other.self))
    }
}

/// Where a sparse kernel adds its gradient: the first weight's touched columns compactly (slot
/// s's `sparseWidth` values at `columns + s · sparseWidth`, one per weight row), and every
/// parameter after that weight densely, in layout order.
public struct SparseGradient<Scalar: TrainingScalar> {
    public let columns: UnsafeMutablePointer<Scalar>
    public let dense: UnsafeMutablePointer<Scalar>

    public init(columns: UnsafeMutablePointer<Scalar>, dense: UnsafeMutablePointer<Scalar>) {
        self.columns = columns
        self.dense = dense
    }

    @inline(__always) func retyped<Other>(_: Other.Type) -> SparseGradient<Other> {
        SparseGradient<Other>(columns: columns.retyped(Other.self), dense: dense.retyped(Other.self))
    }
}

extension LinearKernel {
    /// z = Wx + b for each sparse row (a dot product over its entries, in entry order), the loss on
    /// z, then ∂/∂W scattered into the touched columns and ∂/∂b, row after row.
    func accumulateGradient<Scalar: TrainingScalar>(parameters w: UnsafePointer<Scalar>, rows block: SparseRowBlock<Scalar>,
                                                    gradient g: SparseGradient<Scalar>) -> Double {
        inPrecision(Scalar.self,
                    float: { sparseAccumulate(w.retyped(Float.self), block.retyped(Float.self), g.retyped(Float.self), byRow: false) },
                    double: { sparseAccumulate(w.retyped(Double.self), block.retyped(Double.self), g.retyped(Double.self), byRow: false) },
                    generic: { sparseAccumulate(w, block, g, byRow: false) })
    }

    /// ``SparseLinearModel/accumulateResiduals(parameters:rows:residuals:dense:)``: the same rows'
    /// losses and derivatives, each row's ∂loss/∂z stored instead of scattered.
    func accumulateResiduals<Scalar: TrainingScalar>(parameters w: UnsafePointer<Scalar>, rows block: SparseRowBlock<Scalar>,
                                                     residuals: UnsafeMutablePointer<Scalar>, curvatures: UnsafeMutablePointer<Scalar>?,
                                                     dense: UnsafeMutablePointer<Scalar>) -> Double {
        let g = SparseGradient(columns: residuals, dense: dense)
        return inPrecision(Scalar.self,
                           float: { sparseAccumulate(w.retyped(Float.self), block.retyped(Float.self), g.retyped(Float.self), byRow: true,
                                                     curvatures: curvatures?.retyped(Float.self)) },
                           double: { sparseAccumulate(w.retyped(Double.self), block.retyped(Double.self), g.retyped(Double.self), byRow: true,
                                                      curvatures: curvatures?.retyped(Double.self)) },
                           generic: { sparseAccumulate(w, block, g, byRow: true, curvatures: curvatures) })
    }

    func predict<Scalar: TrainingScalar>(parameters w: UnsafePointer<Scalar>, rows block: SparseRowBlock<Scalar>,
                                         outputs: UnsafeMutablePointer<Scalar>) {
        inPrecision(Scalar.self,
                    float: { sparseLogits(w.retyped(Float.self), block.retyped(Float.self), outputs.retyped(Float.self)) },
                    double: { sparseLogits(w.retyped(Double.self), block.retyped(Double.self), outputs.retyped(Double.self)) },
                    generic: { sparseLogits(w, block, outputs) })
    }

    /// Row `row`'s k logits into `z`.
    @inline(__always)
    private func logits<Scalar: TrainingScalar>(_ w: UnsafePointer<Scalar>, _ block: SparseRowBlock<Scalar>, row: Int,
                                                _ z: UnsafeMutablePointer<Scalar>) {
        let d = features, k = outputs, bias = w + k * d
        let lower = Int(block.offsets[row]), upper = Int(block.offsets[row + 1])
        if k == 1 {
            // Two sums over alternate entries: the gather latency overlaps; the order is fixed.
            var even: Scalar = 0, odd: Scalar = 0
            var e = lower
            while e + 1 < upper {
                even = even.addingProduct(w[Int(block.columns[e])], block.values[e])
                odd = odd.addingProduct(w[Int(block.columns[e + 1])], block.values[e + 1])
                e += 2
            }
            if e < upper { even = even.addingProduct(w[Int(block.columns[e])], block.values[e]) }
            z[0] = bias[0] + (even + odd)
            return
        }
        for c in 0..<k { z[c] = 0 }
        for e in lower..<upper {
            let column = Int(block.columns[e]), value = block.values[e]
            for c in 0..<k { z[c] = z[c].addingProduct(w[c * d + column], value) }
        }
        for c in 0..<k { z[c] += bias[c] }
    }

    /// ∂²loss/∂z² of one output (for Hessian-vector products; one output only).
    @inline(__always)
    private func secondDerivative<Scalar: TrainingScalar>(_ z: Scalar, _ target: Scalar) -> Scalar {
        switch loss {
        case .mse: return 2
        case .huber: return abs(z - target) < 1 ? 1 : 0
        case .l1, .crossEntropy: return 0
        case .bceWithLogits:
            let p = 1 / (1 + Scalar.exp(-z))
            return p * (1 - p)
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    private func sparseLogits<Scalar: TrainingScalar>(_ w: UnsafePointer<Scalar>, _ block: SparseRowBlock<Scalar>,
                                                      _ out: UnsafeMutablePointer<Scalar>) {
        for row in 0..<block.count { logits(w, block, row: row, out + row * outputs) }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    private func sparseAccumulate<Scalar: TrainingScalar>(_ w: UnsafePointer<Scalar>, _ block: SparseRowBlock<Scalar>,
                                                          _ g: SparseGradient<Scalar>, byRow: Bool,
                                                          curvatures: UnsafeMutablePointer<Scalar>? = nil) -> Double {
        let k = outputs, slots = block.slots ?? block.columns, first = Int(block.offsets[0])
        var total = 0.0
        withUnsafeTemporaryAllocation(of: Scalar.self, capacity: 2 * k) { scratch in
            let z = scratch.baseAddress!, dz = z + k
            for row in 0..<block.count {
                logits(w, block, row: row, z)
                let targets = block.y + row * block.yStride
                let weight = block.weights.map { $0[row] } ?? 1
                var rowLoss = 0.0
                switch loss {
                case .mse, .l1, .huber:
                    for c in 0..<k {
                        let (value, derivative) = loss.residual(z[c] - targets[c])
                        rowLoss += Double(value)
                        dz[c] = derivative * weight
                    }
                case .bceWithLogits:
                    let (value, derivative) = Loss.binaryCrossEntropy(logit: z[0], target: targets[0])
                    rowLoss = value
                    dz[0] = derivative * weight
                case .crossEntropy:
                    var top = z[0]
                    for c in 1..<k { top = max(top, z[c]) }
                    var sum: Scalar = 0
                    for c in 0..<k {
                        dz[c] = Scalar.exp(z[c] - top)
                        sum += dz[c]
                    }
                    let target = Int(targets[0])
                    rowLoss = Double(Scalar.log(sum) + top - z[target])
                    let inverse = weight / sum
                    for c in 0..<k { dz[c] *= inverse }
                    dz[target] -= weight
                }
                total += rowLoss * Double(weight)
                let lower = Int(block.offsets[row]), upper = Int(block.offsets[row + 1])
                if byRow {
                    for c in 0..<k { g.columns[row * k + c] = dz[c] }
                    if let curvatures { curvatures[row] = secondDerivative(z[0], targets[0]) * weight }
                } else if k == 1 {
                    let dz0 = dz[0]
                    for e in lower..<upper {
                        let slot = Int(slots[e - first])
                        g.columns[slot] = g.columns[slot].addingProduct(dz0, block.values[e])
                    }
                } else {
                    for e in lower..<upper {
                        let column = g.columns + Int(slots[e - first]) * k, value = block.values[e]
                        for c in 0..<k { column[c] = column[c].addingProduct(dz[c], value) }
                    }
                }
                for c in 0..<k { g.dense[c] += dz[c] }
            }
        }
        return total
    }
}

/// A sparse model whose outputs are z = Wx + b (``SparseModel/sparseWidth`` of them): the gradient of the
/// weight over rows is Σ over rows of ∂loss/∂z ⊗ x, so a trainer may compute ∂loss/∂z for every
/// row first and then each column's gradient on its own (full-batch fits do, column by column).
public protocol SparseLinearModel: SparseModel {
    /// For each row of the block, writes ∂loss/∂z of its outputs (times the row's weight) at
    /// `residuals + row · sparseWidth`, adds the dense parameters' gradient (the bias: Σ of
    /// those) into `dense`, and returns Σ of the rows' losses. `rows.slots` is not used. With
    /// `curvatures` (one output only), also each row's ∂²loss/∂z² times its weight, for
    /// Hessian-vector products.
    func accumulateResiduals<Scalar: TrainingScalar>(parameters: UnsafePointer<Scalar>, rows: SparseRowBlock<Scalar>,
                                                     residuals: UnsafeMutablePointer<Scalar>, curvatures: UnsafeMutablePointer<Scalar>?,
                                                     dense: UnsafeMutablePointer<Scalar>) -> Double
}

extension LinearRegression: SparseLinearModel {
    public var sparseWidth: Int { kernel.outputs }
}

extension LogisticRegression: SparseLinearModel {
    public var sparseWidth: Int { 1 }
}

extension SoftmaxRegression: SparseLinearModel {
    public var sparseWidth: Int { kernel.outputs }
}

extension LinearKernelModel {
    public func accumulateGradient<Scalar: TrainingScalar>(parameters: UnsafePointer<Scalar>, rows: SparseRowBlock<Scalar>,
                                                           gradient: SparseGradient<Scalar>) -> Double {
        kernel.accumulateGradient(parameters: parameters, rows: rows, gradient: gradient)
    }
    public func accumulateResiduals<Scalar: TrainingScalar>(parameters: UnsafePointer<Scalar>, rows: SparseRowBlock<Scalar>,
                                                            residuals: UnsafeMutablePointer<Scalar>, curvatures: UnsafeMutablePointer<Scalar>?,
                                                            dense: UnsafeMutablePointer<Scalar>) -> Double {
        kernel.accumulateResiduals(parameters: parameters, rows: rows, residuals: residuals, curvatures: curvatures, dense: dense)
    }
    public func predict<Scalar: TrainingScalar>(parameters: UnsafePointer<Scalar>, rows: SparseRowBlock<Scalar>,
                                                outputs: UnsafeMutablePointer<Scalar>) {
        kernel.predict(parameters: parameters, rows: rows, outputs: outputs)
    }
}
