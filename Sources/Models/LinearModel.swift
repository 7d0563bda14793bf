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

    func accumulateGradient(parameters w: UnsafePointer<Float>, rows block: RowBlock, gradient g: UnsafeMutablePointer<Float>) -> Double {
        let d = features, k = outputs, rows = block.count
        let bias = w + k * d, gradBias = g + k * d
        var total = 0.0
        if k == 1 && loss != .crossEntropy {
            return accumulateSingleOutput(w, block, g)
        }
        switch loss {
        case .mse, .l1, .huber:
            for row in 0..<rows {
                let features = block.features(row), targets = block.targets(row)
                var rowLoss: Float = 0
                for o in 0..<k {
                    let z = dot(w + o * d, features, d) + bias[o]
                    let (l, dz) = loss.residual(z - targets[o])
                    rowLoss += l
                    axpy(dz, features, g + o * d, d)
                    gradBias[o] += dz
                }
                total += Double(rowLoss)
            }
        case .bceWithLogits:
            for row in 0..<rows {
                let features = block.features(row)
                let z = dot(w, features, d) + bias[0]
                let (l, dz) = Loss.binaryCrossEntropy(logit: z, target: block.targets(row)[0])
                total += l
                axpy(dz, features, g, d)
                gradBias[0] += dz
            }
        case .crossEntropy:
            // Logits padded to whole 8-lane vectors (the padding's exponential is set to 0),
            // exponentials on eight classes at a time, each computed once.
            let padded = (k + 7) / 8 * 8
            let logits = UnsafeMutablePointer<Float>.allocate(capacity: padded)
            defer { logits.deallocate() }
            logits.initialize(repeating: 0, count: padded)
            var tail = SIMD8<Float>(repeating: 1)  // 1 for the last vector's classes, 0 for padding
            for lane in 0..<8 where lane >= k - (padded - 8) { tail[lane] = 0 }
            for row in 0..<rows {
                let features = block.features(row)
                var peak = -Float.infinity
                for o in 0..<k {
                    logits[o] = dot(w + o * d, features, d) + bias[o]
                    peak = max(peak, logits[o])
                }
                let target = Int(block.targets(row)[0])
                let targetLogit = logits[target]
                var sums = SIMD8<Float>()
                for o in stride(from: 0, to: padded, by: 8) {
                    var e = exponential(load8(logits + o) - SIMD8(repeating: peak))
                    if o + 8 == padded { e *= tail }
                    store8(e, logits + o)
                    sums += e
                }
                let sum = sums.sum()
                total += Double(peak) + Double.log(Double(sum)) - Double(targetLogit)
                for o in 0..<k {
                    let dz = logits[o] / sum - (o == target ? 1 : 0)
                    axpy(dz, features, g + o * d, d)
                    gradBias[o] += dz
                }
            }
        }
        return total
    }

    /// One output (linear regression, logistic regression): the loss chosen once, then the
    /// eight-row kernel specialized for it.
    private func accumulateSingleOutput(_ w: UnsafePointer<Float>, _ block: RowBlock, _ g: UnsafeMutablePointer<Float>) -> Double {
        switch loss {
        case .mse: accumulateEightRows(SquaredErrorRows.self, w, block, g)
        case .l1: accumulateEightRows(AbsoluteErrorRows.self, w, block, g)
        case .huber: accumulateEightRows(HuberRows.self, w, block, g)
        case .bceWithLogits: accumulateEightRows(BinaryCrossEntropyRows.self, w, block, g)
        case .crossEntropy: preconditionFailure("cross entropy has one output per class")
        }
    }

    /// Rows in blocks of eight: each row's dot product read front to back into its own
    /// accumulator, the eight reduced together (``laneSums``), the loss on eight lanes, then
    /// one pass over the columns adding the eight rows' gradient contributions, so the gradient
    /// is loaded and stored once per eight rows. The rows left over go one at a time. Every sum
    /// has an order fixed by the code and the block's size, never by the thread running it.
    private func accumulateEightRows<L: EightRowLoss>(_: L.Type, _ w: UnsafePointer<Float>, _ block: RowBlock,
                                                      _ g: UnsafeMutablePointer<Float>) -> Double {
        let d = features, rows = block.count, stride = block.xStride, d8 = d & ~7
        let bias = w[d]
        var lossSum = SIMD8<Double>(), biasSum = SIMD8<Float>()
        var row = 0
        while row &+ 8 <= rows {
            let x0 = block.features(row), x1 = x0 + stride, x2 = x1 + stride, x3 = x2 + stride
            let x4 = x3 + stride, x5 = x4 + stride, x6 = x5 + stride, x7 = x6 + stride
            var z = laneSums(rowPartial(x0, w, d8), rowPartial(x1, w, d8), rowPartial(x2, w, d8), rowPartial(x3, w, d8),
                             rowPartial(x4, w, d8), rowPartial(x5, w, d8), rowPartial(x6, w, d8), rowPartial(x7, w, d8))
            var j = d8
            while j < d {
                z = z.addingProduct(SIMD8(x0[j], x1[j], x2[j], x3[j], x4[j], x5[j], x6[j], x7[j]), SIMD8(repeating: w[j]))
                j &+= 1
            }
            z += SIMD8(repeating: bias)
            let y = block.targets(row), ys = block.yStride
            let t = ys == 1 ? load8(y) : SIMD8(y[0], y[ys], y[2 &* ys], y[3 &* ys], y[4 &* ys], y[5 &* ys], y[6 &* ys], y[7 &* ys])
            let (l, dz) = L.evaluate(logits: z, targets: t)
            lossSum += l
            biasSum += dz
            let c0 = SIMD8(repeating: dz[0]), c1 = SIMD8(repeating: dz[1]), c2 = SIMD8(repeating: dz[2]), c3 = SIMD8(repeating: dz[3])
            let c4 = SIMD8(repeating: dz[4]), c5 = SIMD8(repeating: dz[5]), c6 = SIMD8(repeating: dz[6]), c7 = SIMD8(repeating: dz[7])
            j = 0
            while j < d8 {
                let low = (c0 * load8(x0 + j)).addingProduct(c1, load8(x1 + j)).addingProduct(c2, load8(x2 + j)).addingProduct(c3, load8(x3 + j))
                let high = (c4 * load8(x4 + j)).addingProduct(c5, load8(x5 + j)).addingProduct(c6, load8(x6 + j)).addingProduct(c7, load8(x7 + j))
                store8(load8(g + j) + (low + high), g + j)
                j &+= 8
            }
            while j < d {
                let low = ((dz[0] * x0[j] + dz[1] * x1[j]) + (dz[2] * x2[j] + dz[3] * x3[j]))
                let high = ((dz[4] * x4[j] + dz[5] * x5[j]) + (dz[6] * x6[j] + dz[7] * x7[j]))
                g[j] += low + high
                j &+= 1
            }
            row &+= 8
        }
        var total = lossSum.sum()
        var gradBias = biasSum.sum()
        while row < rows {
            let features = block.features(row)
            let z = dot(w, features, d) + bias
            let (l, dz) = L.evaluate(logits: SIMD8(repeating: z), targets: SIMD8(repeating: block.targets(row)[0]))
            total += l[0]
            axpy(dz[0], features, g, d)
            gradBias += dz[0]
            row &+= 1
        }
        g[d] += gradBias
        return total
    }

    func predict(parameters w: UnsafePointer<Float>, rows block: RowBlock, outputs out: UnsafeMutablePointer<Float>) {
        let d = features, k = outputs
        for row in 0..<block.count {
            for o in 0..<k { out[row * k + o] = dot(w + o * d, block.features(row), d) + w[k * d + o] }
        }
    }
}

/// Linear regression, y ≈ xWᵀ + b, with one or several outputs (torch: `nn.Linear(d, k)` and
/// `MSELoss`, `L1Loss` or `HuberLoss`).
public struct LinearRegression: Model, Equatable {
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
    public var inputFeatures: Int { kernel.features }
    public var targetsPerRow: Int { kernel.outputs }
    public var outputsPerRow: Int { kernel.outputs }
    public var loss: Loss { kernel.loss }
    public var lossElementsPerRow: Int { kernel.outputs }
    public var parameterShapes: [(name: String, shape: [Int])] { kernel.shapes }
    public func initialParameters(seed: UInt64) -> [Float] { kernel.initialParameters(seed: seed) }
    public func accumulateGradient(parameters: UnsafePointer<Float>, rows: RowBlock, gradient: UnsafeMutablePointer<Float>) -> Double {
        kernel.accumulateGradient(parameters: parameters, rows: rows, gradient: gradient)
    }
    public func predict(parameters: UnsafePointer<Float>, rows: RowBlock, outputs: UnsafeMutablePointer<Float>) {
        kernel.predict(parameters: parameters, rows: rows, outputs: outputs)
    }
}

/// Logistic regression on 0/1 targets: logit z = xwᵀ + b (torch: `nn.Linear(d, 1)` and
/// `BCEWithLogitsLoss`).
public struct LogisticRegression: Model, Equatable {
    let kernel: LinearKernel

    /// - Parameter features: inputs per row (d).
    public init(features: Int) {
        kernel = LinearKernel(features: features, outputs: 1, loss: .bceWithLogits)
    }

    public var description: String { "logistic regression, \(kernel.features) → 1, bce_with_logits" }
    public var inputFeatures: Int { kernel.features }
    public var targetsPerRow: Int { 1 }
    public var outputsPerRow: Int { 1 }
    public var loss: Loss { .bceWithLogits }
    public var lossElementsPerRow: Int { 1 }
    public var parameterShapes: [(name: String, shape: [Int])] { kernel.shapes }
    public func initialParameters(seed: UInt64) -> [Float] { kernel.initialParameters(seed: seed) }
    public func accumulateGradient(parameters: UnsafePointer<Float>, rows: RowBlock, gradient: UnsafeMutablePointer<Float>) -> Double {
        kernel.accumulateGradient(parameters: parameters, rows: rows, gradient: gradient)
    }
    public func predict(parameters: UnsafePointer<Float>, rows: RowBlock, outputs: UnsafeMutablePointer<Float>) {
        kernel.predict(parameters: parameters, rows: rows, outputs: outputs)
    }
}

/// Multinomial logistic regression on class indices: logits xWᵀ + b, one per class (torch:
/// `nn.Linear(d, classes)` and `CrossEntropyLoss`).
public struct SoftmaxRegression: Model, Equatable {
    let kernel: LinearKernel

    /// - Parameters:
    ///   - features: inputs per row (d).
    ///   - classes: number of classes (≥ 2).
    public init(features: Int, classes: Int) {
        precondition(classes >= 2, "SoftmaxRegression needs at least 2 classes")
        kernel = LinearKernel(features: features, outputs: classes, loss: .crossEntropy)
    }

    public var description: String { "softmax regression, \(kernel.features) → \(kernel.outputs) classes, cross_entropy" }
    public var inputFeatures: Int { kernel.features }
    public var targetsPerRow: Int { 1 }
    public var outputsPerRow: Int { kernel.outputs }
    public var loss: Loss { .crossEntropy }
    public var lossElementsPerRow: Int { 1 }
    public var parameterShapes: [(name: String, shape: [Int])] { kernel.shapes }
    public func initialParameters(seed: UInt64) -> [Float] { kernel.initialParameters(seed: seed) }
    public func accumulateGradient(parameters: UnsafePointer<Float>, rows: RowBlock, gradient: UnsafeMutablePointer<Float>) -> Double {
        kernel.accumulateGradient(parameters: parameters, rows: rows, gradient: gradient)
    }
    public func predict(parameters: UnsafePointer<Float>, rows: RowBlock, outputs: UnsafeMutablePointer<Float>) {
        kernel.predict(parameters: parameters, rows: rows, outputs: outputs)
    }
}
