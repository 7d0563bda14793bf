import Models
import Testing

/// A model under a gradient check, with data it accepts.
struct GradientCase: CustomTestStringConvertible, Sendable {
    let model: any Model
    var testDescription: String { model.description }
}

let gradientCases: [GradientCase] = [
    .init(model: LinearRegression(features: 7)),
    .init(model: LinearRegression(features: 37, outputs: 3)),
    .init(model: LinearRegression(features: 20, outputs: 2, loss: .l1)),
    .init(model: LinearRegression(features: 5, loss: .huber)),
    .init(model: LogisticRegression(features: 33)),
    .init(model: SoftmaxRegression(features: 18, classes: 4)),
    // The widths with kernels specialized for contiguous rows (8, 16, 24, 32, 48, 64), under each
    // loss, with several outputs, for softmax and for an MLP: the strided-rows test below
    // compares each with the general kernel, bit for bit.
    .init(model: LinearRegression(features: 32)),
    .init(model: LinearRegression(features: 16, loss: .l1)),
    .init(model: LinearRegression(features: 8, loss: .huber)),
    .init(model: LinearRegression(features: 24)),
    .init(model: LinearRegression(features: 48, loss: .huber)),
    .init(model: LogisticRegression(features: 64)),
    .init(model: LinearRegression(features: 16, outputs: 3, loss: .huber)),
    .init(model: SoftmaxRegression(features: 16, classes: 3)),
    .init(model: MLP(features: 16, hidden: [10], activation: .tanh)),
    .init(model: MLP(features: 6, hidden: [9], activation: .tanh)),
    .init(model: MLP(features: 17, hidden: [8, 5], outputs: 2, activation: .tanh, loss: .huber)),
    .init(model: MLP(features: 6, hidden: [12], activation: .relu, loss: .bceWithLogits)),
    .init(model: MLP(features: 5, hidden: [7, 6], outputs: 3, activation: .tanh, loss: .crossEntropy)),
]

/// Deterministic pseudo-random numbers in [-1, 1) for test data (seeded; printed on failure).
struct TestRandom {
    var state: UInt64
    mutating func next() -> Float {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(state >> 40) * 0x1p-23 - 1
    }
}

func testData(for model: any Model, rows: Int, seed: UInt64) -> (x: [Float], y: [Float]) {
    var random = TestRandom(state: seed)
    let x = (0..<(rows * model.inputFeatures)).map { _ in random.next() * 2 }
    let y = (0..<(rows * model.targetsPerRow)).map { _ -> Float in
        switch model.loss {
        case .bceWithLogits: random.next() > 0 ? 1 : 0
        case .crossEntropy: Float(Int((random.next() + 1) / 2 * Float(model.outputsPerRow)) % model.outputsPerRow)
        default: random.next() * 3
        }
    }
    return (x, y)
}

/// Runs `body` with the rows of `x` and `y` as a kernel's block.
func withBlock<Scalar: TrainingScalar, R>(_ model: any Model, _ x: [Scalar], _ y: [Scalar], _ rows: Int, offset: Int = 0,
                                          _ body: (RowBlock<Scalar>) -> R) -> R {
    x.withUnsafeBufferPointer { xs in
        y.withUnsafeBufferPointer { ys in
            body(RowBlock(x: xs.baseAddress! + offset * model.inputFeatures, features: model.inputFeatures,
                          y: ys.baseAddress! + offset * model.targetsPerRow, targets: model.targetsPerRow, count: rows))
        }
    }
}

func lossSum(_ model: any Model, _ parameters: [Double], _ x: [Float], _ y: [Float], rows: Int) -> Double {
    let p = parameters.map { Float($0) }
    var scratch = [Float](repeating: 0, count: p.count)
    return scratch.withUnsafeMutableBufferPointer { g in
        withBlock(model, x, y, rows) { model.accumulateGradient(parameters: p, rows: $0, gradient: g.baseAddress!) }
    }
}

@Suite("Model gradients")
struct GradientTests {
    @Test("Each kernel's gradient agrees with central finite differences", arguments: gradientCases)
    func finiteDifferences(testCase: GradientCase) {
        let model = testCase.model
        let rows = 19  // two blocks of eight rows for the kernels that take eight at a time, and three left over
        let seed: UInt64 = 20_261_124
        let (x, y) = testData(for: model, rows: rows, seed: seed)
        let initial = model.initialParameters(seed: 7).map { Double($0) * 3 }
        #expect(initial.count == model.parameterCount)
        var gradient = [Float](repeating: 0, count: model.parameterCount)
        let parameters = initial.map { Float($0) }
        _ = gradient.withUnsafeMutableBufferPointer { g in
            withBlock(model, x, y, rows) { model.accumulateGradient(parameters: parameters, rows: $0, gradient: g.baseAddress!) }
        }
        let h = 1e-3
        var worst = 0.0
        let scale = max(1, gradient.map { abs(Double($0)) }.max()!)
        for i in 0..<model.parameterCount {
            var plus = initial, minus = initial
            plus[i] += h; minus[i] -= h
            let numeric = (lossSum(model, plus, x, y, rows: rows) - lossSum(model, minus, x, y, rows: rows)) / (2 * h)
            worst = max(worst, abs(numeric - Double(gradient[i])) / scale)
        }
        #expect(worst < 5e-3, "\(model.description): worst gradient error \(worst) (seed \(seed))")
    }

    @Test("In Double, each kernel's gradient agrees with central finite differences to 1e-7", arguments: gradientCases)
    func doubleFiniteDifferences(testCase: GradientCase) {
        let model = testCase.model
        let rows = 19
        let seed: UInt64 = 20_261_201
        let (xFloat, yFloat) = testData(for: model, rows: rows, seed: seed)
        let x = xFloat.map { Double($0) }, y = yFloat.map { Double($0) }
        let initial = model.initialParameters(seed: 7).map { Double($0) * 3 }
        func loss(_ p: [Double]) -> Double {
            var scratch = [Double](repeating: 0, count: p.count)
            return scratch.withUnsafeMutableBufferPointer { g in
                withBlock(model, x, y, rows) { model.accumulateGradient(parameters: p, rows: $0, gradient: g.baseAddress!) }
            }
        }
        var gradient = [Double](repeating: 0, count: model.parameterCount)
        _ = gradient.withUnsafeMutableBufferPointer { g in
            withBlock(model, x, y, rows) { model.accumulateGradient(parameters: initial, rows: $0, gradient: g.baseAddress!) }
        }
        let h = 1e-5
        var worst = 0.0
        let scale = max(1, gradient.map { abs($0) }.max()!)
        for i in 0..<model.parameterCount {
            var plus = initial, minus = initial
            plus[i] += h; minus[i] -= h
            worst = max(worst, abs((loss(plus) - loss(minus)) / (2 * h) - gradient[i]) / scale)
        }
        #expect(worst < 1e-7, "\(model.description): worst gradient error \(worst) (seed \(seed))")
    }

    @Test("Double and Float kernels agree on the same rows to Float rounding", arguments: gradientCases)
    func doubleMatchesFloat(testCase: GradientCase) {
        let model = testCase.model
        let rows = 19
        let (x, y) = testData(for: model, rows: rows, seed: 11)
        let p = model.initialParameters(seed: 3)
        var single = [Float](repeating: 0, count: p.count), double = [Double](repeating: 0, count: p.count)
        let lossSingle = single.withUnsafeMutableBufferPointer { g in
            withBlock(model, x, y, rows) { model.accumulateGradient(parameters: p, rows: $0, gradient: g.baseAddress!) }
        }
        let pDouble = p.map { Double($0) }
        let lossDouble = double.withUnsafeMutableBufferPointer { g in
            withBlock(model, x.map { Double($0) }, y.map { Double($0) }, rows) {
                model.accumulateGradient(parameters: pDouble, rows: $0, gradient: g.baseAddress!)
            }
        }
        let scale = max(1, double.map { abs($0) }.max()!)
        let worst = zip(single, double).map { abs(Double($0) - $1) / scale }.max()!
        #expect(abs(lossSingle - lossDouble) <= 1e-5 * max(1, abs(lossDouble)), "\(model.description): losses \(lossSingle), \(lossDouble)")
        #expect(worst < 1e-5, "\(model.description): worst difference \(worst)")
        // Predictions too: the same forward pass in each precision.
        var outSingle = [Float](repeating: 0, count: rows * model.outputsPerRow), outDouble = [Double](repeating: 0, count: outSingle.count)
        outSingle.withUnsafeMutableBufferPointer { o in withBlock(model, x, y, rows) { model.predict(parameters: p, rows: $0, outputs: o.baseAddress!) } }
        outDouble.withUnsafeMutableBufferPointer { o in
            withBlock(model, x.map { Double($0) }, y.map { Double($0) }, rows) { model.predict(parameters: pDouble, rows: $0, outputs: o.baseAddress!) }
        }
        #expect(zip(outSingle, outDouble).allSatisfy { abs(Double($0) - $1) <= 1e-5 * max(1, abs($1)) })
    }

    @Test("Gradients accumulate: two calls over halves of the rows add up to one call over all")
    func accumulates() {
        let model = MLP(features: 6, hidden: [9], activation: .tanh)
        let (x, y) = testData(for: model, rows: 8, seed: 3)
        let p = model.initialParameters(seed: 1)
        var whole = [Float](repeating: 0, count: p.count), halves = whole
        let lossWhole = whole.withUnsafeMutableBufferPointer { g in
            withBlock(model, x, y, 8) { model.accumulateGradient(parameters: p, rows: $0, gradient: g.baseAddress!) }
        }
        let lossHalves = halves.withUnsafeMutableBufferPointer { g in
            withBlock(model, x, y, 4) { model.accumulateGradient(parameters: p, rows: $0, gradient: g.baseAddress!) }
                + withBlock(model, x, y, 4, offset: 4) { model.accumulateGradient(parameters: p, rows: $0, gradient: g.baseAddress!) }
        }
        #expect(abs(lossWhole - lossHalves) < 1e-5)
        #expect(zip(whole, halves).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($0)) })
    }

    @Test("Predictions are the kernel's forward pass: zero loss at the fitted point of a linear model")
    func predictions() {
        let model = LinearRegression(features: 3, outputs: 2)
        let p: [Float] = [1, 2, 3, -1, 0.5, 0, 0.25, -2]   // weight [2, 3], bias [2]
        let x: [Float] = [1, 0, 2, -1, 1, 1]
        var out = [Float](repeating: 0, count: 4)
        out.withUnsafeMutableBufferPointer { o in withBlock(model, x, [0, 0, 0, 0], 2) { model.predict(parameters: p, rows: $0, outputs: o.baseAddress!) } }
        #expect(out == [7.25, -3, 4.25, -0.5])
        var g = [Float](repeating: 0, count: 8)
        let loss = g.withUnsafeMutableBufferPointer { gs in withBlock(model, x, out, 2) { model.accumulateGradient(parameters: p, rows: $0, gradient: gs.baseAddress!) } }
        #expect(loss == 0 && g.allSatisfy { $0 == 0 })
    }

    @Test("Every regression model's predict is its training forward pass: its own predictions as targets give zero loss and gradient",
          arguments: gradientCases.filter { $0.model.loss.isRegression })
    func predictionsAreTheForwardPass(testCase: GradientCase) {
        let model = testCase.model, rows = 19
        let (x, _) = testData(for: model, rows: rows, seed: 5)
        let p = model.initialParameters(seed: 3)
        let unused = [Float](repeating: 0, count: rows * model.targetsPerRow)
        var predictions = unused
        predictions.withUnsafeMutableBufferPointer { o in
            withBlock(model, x, unused, rows) { model.predict(parameters: p, rows: $0, outputs: o.baseAddress!) }
        }
        var g = [Float](repeating: 0, count: p.count)
        let loss = g.withUnsafeMutableBufferPointer { gs in
            withBlock(model, x, predictions, rows) { model.accumulateGradient(parameters: p, rows: $0, gradient: gs.baseAddress!) }
        }
        #expect(loss == 0 && g.allSatisfy { $0 == 0 }, "loss \(loss)")
    }

    @Test("Strided rows (targets inside the rows, as in a .npy file) give the packed rows' gradients and predictions", arguments: gradientCases)
    func stridedRows(testCase: GradientCase) {
        let model = testCase.model, rows = 19
        let d = model.inputFeatures, t = model.targetsPerRow
        let (x, y) = testData(for: model, rows: rows, seed: 4)
        let p = model.initialParameters(seed: 2)
        var packed = [Float](repeating: 0, count: p.count), strided = packed
        let packedLoss = packed.withUnsafeMutableBufferPointer { g in
            withBlock(model, x, y, rows) { model.accumulateGradient(parameters: p, rows: $0, gradient: g.baseAddress!) }
        }
        // Rows of [x0 ... x(d-1), y0 ... y(t-1)]: the layout of a (rows, d + t) .npy file.
        var interleaved: [Float] = []
        for row in 0..<rows {
            interleaved += x[(row * d)..<(row * d + d)]
            interleaved += y[(row * t)..<(row * t + t)]
        }
        let stridedLoss = strided.withUnsafeMutableBufferPointer { g in
            interleaved.withUnsafeBufferPointer { all in
                model.accumulateGradient(parameters: p, rows: RowBlock(x: all.baseAddress!, xStride: d + t, y: all.baseAddress! + d,
                                                                        yStride: d + t, count: rows),
                                         gradient: g.baseAddress!)
            }
        }
        #expect(packedLoss == stridedLoss && packed == strided)

        // And the predictions (each layout's own predict kernel).
        let k = model.outputsPerRow
        var packedOutputs = [Float](repeating: 0, count: rows * k), stridedOutputs = packedOutputs
        packedOutputs.withUnsafeMutableBufferPointer { o in
            withBlock(model, x, y, rows) { model.predict(parameters: p, rows: $0, outputs: o.baseAddress!) }
        }
        stridedOutputs.withUnsafeMutableBufferPointer { o in
            interleaved.withUnsafeBufferPointer { all in
                model.predict(parameters: p, rows: RowBlock(x: all.baseAddress!, xStride: d + t, y: all.baseAddress! + d, yStride: d + t, count: rows),
                              outputs: o.baseAddress!)
            }
        }
        #expect(packedOutputs == stridedOutputs)
    }

    @Test("Parameter tensors carry torch's names and shapes")
    func layout() {
        let mlp = MLP(features: 4, hidden: [8, 3], outputs: 2)
        #expect(mlp.parameterShapes.map(\.name) == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"])
        #expect(mlp.parameterShapes.map(\.shape) == [[8, 4], [8], [3, 8], [3], [2, 3], [2]])
        #expect(mlp.parameterCount == 8 * 4 + 8 + 3 * 8 + 3 + 2 * 3 + 2)
        #expect(SoftmaxRegression(features: 5, classes: 3).parameterShapes.map(\.shape) == [[3, 5], [3]])
        #expect(LogisticRegression(features: 5).targetProblem(0.5) == "0 or 1")
        #expect(SoftmaxRegression(features: 5, classes: 3).targetProblem(3) == "a class index in 0..<3")
    }
}
