import RealModule
import VectorMath

/// The kernel shared by linear, logistic and softmax regression: z = xWᵀ + b (W [k, d]), then
/// the loss on z, then ∂/∂W = Σ (∂loss/∂z) xᵀ and ∂/∂b = Σ ∂loss/∂z, in one pass over the rows.
struct LinearKernel: Sendable, Equatable {
    let features: Int
    let outputs: Int
    let loss: Loss

    var shapes: [(name: String, shape: [Int])] { [("weight", [outputs, features]), ("bias", [outputs])] }

    func initialParameters(seed: UInt64) -> [Float] {
        var state = seed
        return linearLayerInitialization(fanIn: features, count: outputs * features + outputs, state: &state)
    }

    func accumulateGradient<Scalar: TrainingScalar>(parameters w: UnsafePointer<Scalar>, rows block: RowBlock<Scalar>,
                                                    gradient g: UnsafeMutablePointer<Scalar>) -> Double {
        inPrecision(Scalar.self,
                    float: { accumulate(w.retyped(Float.self), block.retyped(Float.self), g.retyped(Float.self)) },
                    double: { accumulate(w.retyped(Double.self), block.retyped(Double.self), g.retyped(Double.self)) },
                    generic: { accumulate(w, block, g) })
    }

    private func accumulate<Scalar: TrainingScalar>(_ w: UnsafePointer<Scalar>, _ block: RowBlock<Scalar>,
                                                    _ g: UnsafeMutablePointer<Scalar>) -> Double {
        let d = features, k = outputs, rows = block.count
        let bias = w + k * d, gradBias = g + k * d
        var total = 0.0
        if k == 1 && loss != .crossEntropy {
            return accumulateSingleOutput(w, block, g)
        }
        switch loss {
        case .mse, .l1, .huber:
            // Several outputs: blocks of eight rows, each output like the single-output kernel;
            // the rows left over one at a time.
            let (blocksLoss, firstLeft) = accumulateMultiOutput(w, block, g)
            total = blocksLoss
            for row in firstLeft..<rows {
                let features = block.features(row), targets = block.targets(row)
                var rowLoss: Scalar = 0
                let s = block.weight(row)
                for o in 0..<k {
                    let z = dot(w + o * d, features, d) + bias[o]
                    let (l, dz) = loss.residual(z - targets[o])
                    rowLoss += l
                    axpy(dz * s, features, g + o * d, d)
                    gradBias[o] += dz * s
                }
                total += Double(rowLoss) * Double(s)
            }
        case .bceWithLogits:
            for row in 0..<rows {
                let features = block.features(row)
                let z = dot(w, features, d) + bias[0]
                let (l, derivative) = Loss.binaryCrossEntropy(logit: z, target: block.targets(row)[0])
                let s = block.weight(row), dz = derivative * s
                total += l * Double(s)
                axpy(dz, features, g, d)
                gradBias[0] += dz
            }
        case .crossEntropy:
            var row = 0
            (total, row) = SoftmaxEightRows(kernel: self, w: w, block: block, g: g).run(features: features, rowStride: block.xStride)
            // The rows left over, one at a time: logits padded to whole 8-lane vectors (the
            // padding's exponential set to 0), exponentials eight classes at a time.
            let padded = (k + 7) / 8 * 8
            let logits = UnsafeMutablePointer<Scalar>.allocate(capacity: padded)
            defer { logits.deallocate() }
            logits.initialize(repeating: 0, count: padded)
            var tail = SIMD8<Scalar>(repeating: 1)  // 1 for the last vector's classes, 0 for padding
            for lane in 0..<8 where lane >= k - (padded - 8) { tail[lane] = 0 }
            while row < rows {
                let features = block.features(row)
                var peak = -Scalar.infinity
                for o in 0..<k {
                    logits[o] = dot(w + o * d, features, d) + bias[o]
                    peak = max(peak, logits[o])
                }
                let target = Int(block.targets(row)[0])
                let targetLogit = logits[target]
                var sums = SIMD8<Scalar>()
                for o in stride(from: 0, to: padded, by: 8) {
                    var e = exponential(load8(logits + o) - SIMD8(repeating: peak))
                    if o + 8 == padded { e *= tail }
                    store8(e, logits + o)
                    sums += e
                }
                let sum = sums.sum(), s = block.weight(row)
                total += (Double(peak - targetLogit) + Double(logarithm(SIMD8(repeating: sum))[0])) * Double(s)
                for o in 0..<k {
                    let dz = (logits[o] / sum - (o == target ? 1 : 0)) * s
                    axpy(dz, features, g + o * d, d)
                    gradBias[o] += dz
                }
                row += 1
            }
        }
        return total
    }

    /// One output (linear regression, logistic regression): the loss chosen once, then the
    /// eight-row kernel specialized for it.
    private func accumulateSingleOutput<Scalar: TrainingScalar>(_ w: UnsafePointer<Scalar>, _ block: RowBlock<Scalar>, _ g: UnsafeMutablePointer<Scalar>) -> Double {
        switch loss {
        case .mse: accumulateEightRows(SquaredErrorRows.self, w, block, g)
        case .l1: accumulateEightRows(AbsoluteErrorRows.self, w, block, g)
        case .huber: accumulateEightRows(HuberRows.self, w, block, g)
        case .bceWithLogits: accumulateEightRows(BinaryCrossEntropyRows.self, w, block, g)
        case .crossEntropy: preconditionFailure("cross entropy has one output per class")
        }
    }

    /// Linear regression with several outputs, rows eight at a time: for each output, the eight
    /// rows' predictions (``EightRows/dots(_:)``), the loss on eight lanes, and the output's
    /// gradient row updated once for the eight. Returns the blocks' loss and the first row not done.
    private func accumulateMultiOutput<Scalar: TrainingScalar>(_ w: UnsafePointer<Scalar>, _ block: RowBlock<Scalar>, _ g: UnsafeMutablePointer<Scalar>) -> (Double, Int) {
        switch loss {
        case .mse: MultiOutputEightRows<Scalar, SquaredErrorRows>(kernel: self, w: w, block: block, g: g).run(features: features, rowStride: block.xStride)
        case .l1: MultiOutputEightRows<Scalar, AbsoluteErrorRows>(kernel: self, w: w, block: block, g: g).run(features: features, rowStride: block.xStride)
        default: MultiOutputEightRows<Scalar, HuberRows>(kernel: self, w: w, block: block, g: g).run(features: features, rowStride: block.xStride)
        }
    }

    /// ``accumulateMultiOutput(_:_:_:)`` for rows laid out as `Layout` says.
    fileprivate func multiOutputKernel<Scalar: TrainingScalar, L: EightRowLoss, Layout: RowLayout>(_: L.Type, _: Layout.Type, _ w: UnsafePointer<Scalar>,
                                                                       _ block: RowBlock<Scalar>, _ g: UnsafeMutablePointer<Scalar>) -> (Double, Int) {
        let block = Layout.view(block)
        let d = Layout.features(d: features), k = outputs, rows = block.count
        let bias = w + k * d, gradBias = g + k * d
        let biasSums = UnsafeMutablePointer<SIMD8<Scalar>>.allocate(capacity: k)
        defer { biasSums.deallocate() }
        biasSums.initialize(repeating: SIMD8(), count: k)
        var lossSum = SIMD8<Double>()
        var row = 0
        while row &+ 8 <= rows {
            let eight = EightRows(block, from: row, features: d)
            let weights = block.weights == nil ? nil : block.weights8(from: row)
            for o in 0..<k {
                var (l, dz) = L.evaluate(logits: eight.dots(w + o * d) + SIMD8(repeating: bias[o]),
                                         targets: eightTargets(block, from: row, count: 8, index: o))
                if let weights { (l, dz) = (l * widened(weights), dz * weights) }
                lossSum += l
                biasSums[o] += dz
                eight.addGradient(dz, to: g + o * d)
            }
            row &+= 8
        }
        for o in 0..<k { gradBias[o] += biasSums[o].sum() }
        return (lossSum.sum(), row)
    }

    /// Softmax regression, rows eight at a time: each class's logits for the eight rows
    /// (``EightRows/dots(_:)``), the softmax across classes lane by lane (one exponential per
    /// class and row), then each class's gradient row updated once for the eight rows. Returns
    /// the blocks' loss and the first row not done.
    fileprivate func accumulateSoftmaxEightRows<Scalar: TrainingScalar, Layout: RowLayout>(_: Layout.Type, _ w: UnsafePointer<Scalar>, _ block: RowBlock<Scalar>,
                                                                _ g: UnsafeMutablePointer<Scalar>) -> (Double, Int) {
        let block = Layout.view(block)
        let d = Layout.features(d: features), k = outputs, rows = block.count
        let bias = w + k * d, gradBias = g + k * d
        let z = UnsafeMutablePointer<SIMD8<Scalar>>.allocate(capacity: 2 * k)
        defer { z.deallocate() }
        let biasSums = z + k
        biasSums.initialize(repeating: SIMD8(), count: k)
        var lossSum = SIMD8<Double>()
        var row = 0
        while row &+ 8 <= rows {
            let eight = EightRows(block, from: row, features: d)
            var peak = SIMD8<Scalar>(repeating: -.infinity)
            for o in 0..<k {
                z[o] = eight.dots(w + o * d) + SIMD8(repeating: bias[o])
                peak = peak.replacing(with: z[o], where: z[o] .> peak)
            }
            let target = eightTargets(block, from: row)
            var sum = SIMD8<Scalar>(), targetLogit = SIMD8<Scalar>()
            for o in 0..<k {
                targetLogit.replace(with: z[o], where: target .== Scalar(o))
                z[o] = exponential(z[o] - peak)
                sum += z[o]
            }
            // −log softmax(z)[target] = peak − z[target] + ln Σ e^(z − peak)
            let weights = block.weights == nil ? SIMD8<Scalar>(repeating: 1) : block.weights8(from: row)
            lossSum += (widened(peak - targetLogit) + widened(logarithm(sum))) * (block.weights == nil ? SIMD8(repeating: 1) : widened(weights))
            for o in 0..<k {
                var dz = z[o] / sum - SIMD8<Scalar>().replacing(with: 1, where: target .== Scalar(o))
                if block.weights != nil { dz *= weights }
                biasSums[o] += dz
                eight.addGradient(dz, to: g + o * d)
            }
            row &+= 8
        }
        for o in 0..<k { gradBias[o] += biasSums[o].sum() }
        return (lossSum.sum(), row)
    }

    /// Rows in blocks of eight: each row's dot product read front to back into its own
    /// accumulator, the eight reduced together (``laneSums``), the loss on eight lanes, then
    /// one pass over the columns adding the eight rows' gradient contributions, so the gradient
    /// is loaded and stored once per eight rows. The rows left over go one at a time. Every sum
    /// has an order fixed by the code and the block's size, never by the thread running it.
    private func accumulateEightRows<Scalar: TrainingScalar, L: EightRowLoss>(_: L.Type, _ w: UnsafePointer<Scalar>, _ block: RowBlock<Scalar>,
                                                      _ g: UnsafeMutablePointer<Scalar>) -> Double {
        SingleOutputEightRows<Scalar, L>(kernel: self, w: w, block: block, g: g).run(features: features, rowStride: block.xStride)
    }

    /// ``accumulateEightRows(_:_:_:_:)`` for rows laid out as `Layout` says.
    fileprivate func eightRowKernel<Scalar: TrainingScalar, L: EightRowLoss, Layout: RowLayout>(_: L.Type, _: Layout.Type, _ w: UnsafePointer<Scalar>,
                                                                    _ block: RowBlock<Scalar>, _ g: UnsafeMutablePointer<Scalar>) -> Double {
        let block = Layout.view(block)
        let d = Layout.features(d: features), rows = block.count
        let bias = w[d]
        var lossSum = SIMD8<Double>(), biasSum = SIMD8<Scalar>()
        var row = 0
        while row &+ 8 <= rows {
            let eight = EightRows(block, from: row, features: d)
            var (l, dz) = L.evaluate(logits: eight.dots(w) + SIMD8(repeating: bias), targets: eightTargets(block, from: row))
            if block.weights != nil {
                let weights = block.weights8(from: row)
                (l, dz) = (l * widened(weights), dz * weights)
            }
            lossSum += l
            biasSum += dz
            eight.addGradient(dz, to: g)
            row &+= 8
        }
        var total = lossSum.sum()
        var gradBias = biasSum.sum()
        while row < rows {
            let features = block.features(row)
            let z = dot(w, features, d) + bias
            let (l, derivative) = L.evaluate(logits: SIMD8(repeating: z), targets: SIMD8(repeating: block.targets(row)[0]))
            let s = block.weight(row), dz = derivative[0] * s
            total += block.weights == nil ? l[0] : l[0] * Double(s)
            axpy(dz, features, g, d)
            gradBias += dz
            row &+= 1
        }
        g[d] += gradBias
        return total
    }

    /// The outputs, computed exactly as training computes them: eight rows at a time, then the
    /// rows left over one at a time.
    func predict<Scalar: TrainingScalar>(parameters w: UnsafePointer<Scalar>, rows block: RowBlock<Scalar>, outputs out: UnsafeMutablePointer<Scalar>) {
        inPrecision(Scalar.self,
                    float: { predictRows(w.retyped(Float.self), block.retyped(Float.self), out.retyped(Float.self)) },
                    double: { predictRows(w.retyped(Double.self), block.retyped(Double.self), out.retyped(Double.self)) },
                    generic: { predictRows(w, block, out) })
    }

    private func predictRows<Scalar: TrainingScalar>(_ w: UnsafePointer<Scalar>, _ block: RowBlock<Scalar>, _ out: UnsafeMutablePointer<Scalar>) {
        let d = features, k = outputs
        var row = PredictEightRows(kernel: self, w: w, block: block, out: out).run(features: d, rowStride: block.xStride)
        while row < block.count {
            for o in 0..<k { out[row * k + o] = dot(w + o * d, block.features(row), d) + w[k * d + o] }
            row += 1
        }
    }
}

extension LinearKernel {
    /// ``predict(parameters:rows:outputs:)``'s blocks of eight rows, for rows laid out as `Layout`
    /// says; returns the first row not done.
    fileprivate func predictEightRows<Scalar: TrainingScalar, Layout: RowLayout>(_: Layout.Type, _ w: UnsafePointer<Scalar>, _ block: RowBlock<Scalar>,
                                                         _ out: UnsafeMutablePointer<Scalar>) -> Int {
        let block = Layout.view(block)
        let d = Layout.features(d: features), k = outputs
        var row = 0
        while row &+ 8 <= block.count {
            let eight = EightRows(block, from: row, features: d)
            for o in 0..<k {
                let z = eight.dots(w + o * d) + SIMD8(repeating: w[k * d + o])
                for r in 0..<8 { out[(row &+ r) &* k &+ o] = z[r] }
            }
            row &+= 8
        }
        return row
    }
}

/// The predictions' blocks of eight rows, to be specialized for a block's layout.
private struct PredictEightRows<Scalar: TrainingScalar>: LayoutSpecialized {
    let kernel: LinearKernel, w: UnsafePointer<Scalar>, block: RowBlock<Scalar>, out: UnsafeMutablePointer<Scalar>
    @inline(__always) func callAsFunction<Layout: RowLayout>(_ layout: Layout.Type) -> Int {
        kernel.predictEightRows(layout, w, block, out)
    }
}

/// The single-output kernel, to be specialized for a block's layout.
private struct SingleOutputEightRows<Scalar: TrainingScalar, L: EightRowLoss>: LayoutSpecialized {
    let kernel: LinearKernel, w: UnsafePointer<Scalar>, block: RowBlock<Scalar>, g: UnsafeMutablePointer<Scalar>
    @inline(__always) func callAsFunction<Layout: RowLayout>(_ layout: Layout.Type) -> Double {
        kernel.eightRowKernel(L.self, layout, w, block, g)
    }
}

/// The multi-output kernel's blocks of eight rows, to be specialized for a block's layout.
private struct MultiOutputEightRows<Scalar: TrainingScalar, L: EightRowLoss>: LayoutSpecialized {
    let kernel: LinearKernel, w: UnsafePointer<Scalar>, block: RowBlock<Scalar>, g: UnsafeMutablePointer<Scalar>
    @inline(__always) func callAsFunction<Layout: RowLayout>(_ layout: Layout.Type) -> (Double, Int) {
        kernel.multiOutputKernel(L.self, layout, w, block, g)
    }
}

/// The softmax kernel's blocks of eight rows, to be specialized for a block's layout.
private struct SoftmaxEightRows<Scalar: TrainingScalar>: LayoutSpecialized {
    let kernel: LinearKernel, w: UnsafePointer<Scalar>, block: RowBlock<Scalar>, g: UnsafeMutablePointer<Scalar>
    @inline(__always) func callAsFunction<Layout: RowLayout>(_ layout: Layout.Type) -> (Double, Int) {
        kernel.accumulateSoftmaxEightRows(layout, w, block, g)
    }
}

/// The three models that are the linear kernel under a loss: what they share, forwarded to it.
protocol LinearKernelModel: Model {
    var kernel: LinearKernel { get }
}

extension LinearKernelModel {
    public var inputFeatures: Int { kernel.features }
    public var outputsPerRow: Int { kernel.outputs }
    public var loss: Loss { kernel.loss }
    public var parameterShapes: [(name: String, shape: [Int])] { kernel.shapes }
    public func initialParameters(seed: UInt64) -> [Float] { kernel.initialParameters(seed: seed) }
    public func accumulateGradient<Scalar: TrainingScalar>(parameters: UnsafePointer<Scalar>, rows: RowBlock<Scalar>,
                                                           gradient: UnsafeMutablePointer<Scalar>) -> Double {
        kernel.accumulateGradient(parameters: parameters, rows: rows, gradient: gradient)
    }
    public func predict<Scalar: TrainingScalar>(parameters: UnsafePointer<Scalar>, rows: RowBlock<Scalar>, outputs: UnsafeMutablePointer<Scalar>) {
        kernel.predict(parameters: parameters, rows: rows, outputs: outputs)
    }
}

/// Linear regression, y ≈ xWᵀ + b, with one or several outputs (torch: `nn.Linear(d, k)` and
/// `MSELoss`, `L1Loss` or `HuberLoss`).
public struct LinearRegression: LinearKernelModel, Equatable {
    let kernel: LinearKernel

    /// - Parameters:
    ///   - features: inputs per row (d).
    ///   - outputs: predicted values per row (k).
    ///   - loss: `.mse` (default), `.l1` or `.huber`.
    public init(features: Int, outputs: Int = 1, loss: Loss = .mse) {
        precondition(loss.isRegression, "LinearRegression takes a regression loss (mse, l1, huber)")
        kernel = LinearKernel(features: features, outputs: outputs, loss: loss)
    }

    public var description: String { "linear regression, \(kernel.features) → \(kernel.outputs), \(loss.rawValue)" }
    public var targetsPerRow: Int { kernel.outputs }
    public var lossElementsPerRow: Int { kernel.outputs }
}

/// Logistic regression on 0/1 targets: logit z = xwᵀ + b (torch: `nn.Linear(d, 1)` and
/// `BCEWithLogitsLoss`).
public struct LogisticRegression: LinearKernelModel, Equatable {
    let kernel: LinearKernel

    /// - Parameter features: inputs per row (d).
    public init(features: Int) {
        kernel = LinearKernel(features: features, outputs: 1, loss: .bceWithLogits)
    }

    public var description: String { "logistic regression, \(kernel.features) → 1, bce_with_logits" }
    public var targetsPerRow: Int { 1 }
    public var lossElementsPerRow: Int { 1 }
}

/// Multinomial logistic regression on class indices: logits xWᵀ + b, one per class (torch:
/// `nn.Linear(d, classes)` and `CrossEntropyLoss`).
public struct SoftmaxRegression: LinearKernelModel, Equatable {
    let kernel: LinearKernel

    /// - Parameters:
    ///   - features: inputs per row (d).
    ///   - classes: number of classes (≥ 2).
    public init(features: Int, classes: Int) {
        precondition(classes >= 2, "SoftmaxRegression needs at least 2 classes")
        kernel = LinearKernel(features: features, outputs: classes, loss: .crossEntropy)
    }

    public var description: String { "softmax regression, \(kernel.features) → \(kernel.outputs) classes, cross_entropy" }
    public var targetsPerRow: Int { 1 }
    public var lossElementsPerRow: Int { 1 }
}

/// The dispatch over layouts, for this file's kernels (see `LayoutSpecialized` for why each
/// file has its own copy).
fileprivate extension LayoutSpecialized {
    /// The kernel run with constants for the block's layout where it is one of the narrow contiguous
    /// layouts (rows of 8, 16, 24, 32, 48 or 64 columns), else as read from it.
    @inline(__always)
    func run(features: Int, rowStride: Int) -> Result {
        guard rowStride == features else { return self(AnyLayout.self) }
        switch features {
        case 8: return self(Contiguous8.self)
        case 16: return self(Contiguous16.self)
        case 24: return self(Contiguous24.self)
        case 32: return self(Contiguous32.self)
        case 48: return self(Contiguous48.self)
        case 64: return self(Contiguous64.self)
        default: return self(AnyLayout.self)
        }
    }
}
