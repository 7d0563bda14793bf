import RealModule

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
            var logits = [Float](repeating: 0, count: k)
            for row in 0..<rows {
                let features = block.features(row)
                var peak = -Float.infinity
                for o in 0..<k {
                    logits[o] = dot(w + o * d, features, d) + bias[o]
                    peak = max(peak, logits[o])
                }
                var sum: Float = 0
                for o in 0..<k { sum += Float.exp(logits[o] - peak) }
                let target = Int(block.targets(row)[0])
                total += Double(peak) + Double.log(Double(sum)) - Double(logits[target])
                for o in 0..<k {
                    let dz = Float.exp(logits[o] - peak) / sum - (o == target ? 1 : 0)
                    axpy(dz, features, g + o * d, d)
                    gradBias[o] += dz
                }
            }
        }
        return total
    }

    /// One output (linear regression, logistic regression): rows in blocks of four, four dot
    /// products, then one pass adding the four rows' gradient contributions.
    private func accumulateSingleOutput(_ w: UnsafePointer<Float>, _ block: RowBlock, _ g: UnsafeMutablePointer<Float>) -> Double {
        let d = features, bias = w[d], rows = block.count
        var total = 0.0
        @inline(__always) func lossAndDerivative(_ z: Float, _ target: Float) -> (Double, Float) {
            if loss == .bceWithLogits { return Loss.binaryCrossEntropy(logit: z, target: target) }
            let (l, dz) = loss.residual(z - target)
            return (Double(l), dz)
        }
        var gradBias: Float = 0
        var row = 0
        while row + 4 <= rows {
            let x0 = block.features(row), x1 = block.features(row + 1), x2 = block.features(row + 2), x3 = block.features(row + 3)
            let (l0, d0) = lossAndDerivative(dot(w, x0, d) + bias, block.targets(row)[0])
            let (l1, d1) = lossAndDerivative(dot(w, x1, d) + bias, block.targets(row + 1)[0])
            let (l2, d2) = lossAndDerivative(dot(w, x2, d) + bias, block.targets(row + 2)[0])
            let (l3, d3) = lossAndDerivative(dot(w, x3, d) + bias, block.targets(row + 3)[0])
            total += (l0 + l1) + (l2 + l3)
            axpy4(d0, x0, d1, x1, d2, x2, d3, x3, g, d)
            gradBias += (d0 + d1) + (d2 + d3)
            row += 4
        }
        while row < rows {
            let features = block.features(row)
            let (l, dz) = lossAndDerivative(dot(w, features, d) + bias, block.targets(row)[0])
            total += l
            axpy(dz, features, g, d)
            gradBias += dz
            row += 1
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
