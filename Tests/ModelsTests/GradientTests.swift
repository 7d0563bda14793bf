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

func lossSum(_ model: any Model, _ parameters: [Double], _ x: [Float], _ y: [Float], rows: Int) -> Double {
    let p = parameters.map { Float($0) }
    var scratch = [Float](repeating: 0, count: p.count)
    return scratch.withUnsafeMutableBufferPointer { g in
        model.accumulateGradient(parameters: p, x: x, y: y, rows: rows, gradient: g.baseAddress!)
    }
}

@Suite("Model gradients")
struct GradientTests {
    @Test("Each kernel's gradient agrees with central finite differences", arguments: gradientCases)
    func finiteDifferences(testCase: GradientCase) {
        let model = testCase.model
        let rows = 6
        let seed: UInt64 = 20_261_124
        let (x, y) = testData(for: model, rows: rows, seed: seed)
        let initial = model.initialParameters(seed: 7).map { Double($0) * 3 }
        #expect(initial.count == model.parameterCount)
        var gradient = [Float](repeating: 0, count: model.parameterCount)
        let parameters = initial.map { Float($0) }
        _ = gradient.withUnsafeMutableBufferPointer { g in
            model.accumulateGradient(parameters: parameters, x: x, y: y, rows: rows, gradient: g.baseAddress!)
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

    @Test("Gradients accumulate: two calls over halves of the rows add up to one call over all")
    func accumulates() {
        let model = MLP(features: 6, hidden: [9], activation: .tanh)
        let (x, y) = testData(for: model, rows: 8, seed: 3)
        let p = model.initialParameters(seed: 1)
        var whole = [Float](repeating: 0, count: p.count), halves = whole
        let lossWhole = whole.withUnsafeMutableBufferPointer { model.accumulateGradient(parameters: p, x: x, y: y, rows: 8, gradient: $0.baseAddress!) }
        let lossHalves = halves.withUnsafeMutableBufferPointer { g in
            x.withUnsafeBufferPointer { xs in
                y.withUnsafeBufferPointer { ys in
                    model.accumulateGradient(parameters: p, x: xs.baseAddress!, y: ys.baseAddress!, rows: 4, gradient: g.baseAddress!)
                        + model.accumulateGradient(parameters: p, x: xs.baseAddress! + 24, y: ys.baseAddress! + 4, rows: 4, gradient: g.baseAddress!)
                }
            }
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
        out.withUnsafeMutableBufferPointer { model.predict(parameters: p, x: x, rows: 2, outputs: $0.baseAddress!) }
        #expect(out == [7.25, -3, 4.25, -0.5])
        var g = [Float](repeating: 0, count: 8)
        let loss = g.withUnsafeMutableBufferPointer { model.accumulateGradient(parameters: p, x: x, y: out, rows: 2, gradient: $0.baseAddress!) }
        #expect(loss == 0 && g.allSatisfy { $0 == 0 })
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
