import Models
import Testing

/// Row weights (class and sample weights): every kernel, every layout it specializes.
@Suite("Row weights")
struct WeightedRowTests {
    /// The kernel's loss and gradient over `rows` rows, with `weights` (nil: none).
    func run(_ model: any Model, _ x: [Float], _ y: [Float], rows: Int, offset: Int = 0, weights: [Float]?) -> (Double, [Float]) {
        let p = model.initialParameters(seed: 5).map { $0 * 3 }
        var gradient = [Float](repeating: 0, count: p.count)
        let loss = gradient.withUnsafeMutableBufferPointer { g in
            x.withUnsafeBufferPointer { xs in
                y.withUnsafeBufferPointer { ys in
                    let block = { (w: UnsafePointer<Float>?) in
                        RowBlock(x: xs.baseAddress! + offset * model.inputFeatures, xStride: model.inputFeatures,
                                 y: ys.baseAddress! + offset * model.targetsPerRow, yStride: model.targetsPerRow, count: rows, weights: w)
                    }
                    if let weights {
                        return weights.withUnsafeBufferPointer { model.accumulateGradient(parameters: p, rows: block($0.baseAddress! + offset), gradient: g.baseAddress!) }
                    }
                    return model.accumulateGradient(parameters: p, rows: block(nil), gradient: g.baseAddress!)
                }
            }
        }
        return (loss, gradient)
    }

    @Test("A row of weight s adds s times its loss and gradient; weights of 1 give bitwise the unweighted kernel's result",
          arguments: gradientCases)
    func weighted(testCase: GradientCase) {
        let model = testCase.model
        let rows = 19  // two blocks of eight and three rows left over
        let seed: UInt64 = 20_261_201
        let (x, y) = testData(for: model, rows: rows, seed: seed)
        var random = TestRandom(state: seed)
        let weights = (0..<rows).map { _ in (random.next() + 1) * 1.5 }
        let (loss, gradient) = run(model, x, y, rows: rows, weights: weights)
        // The reference: each row alone (unweighted), scaled by its weight and summed in Double.
        var referenceLoss = 0.0, reference = [Double](repeating: 0, count: gradient.count)
        for row in 0..<rows {
            let (rowLoss, rowGradient) = run(model, x, y, rows: 1, offset: row, weights: nil)
            referenceLoss += Double(weights[row]) * rowLoss
            for i in reference.indices { reference[i] += Double(weights[row]) * Double(rowGradient[i]) }
        }
        let scale = max(1, reference.map(abs).max()!)
        let worst = zip(gradient, reference).map { abs(Double($0) - $1) / scale }.max()!
        #expect(abs(loss - referenceLoss) <= 1e-4 * max(1, abs(referenceLoss)), "\(model.description): loss \(loss) vs \(referenceLoss) (seed \(seed))")
        #expect(worst < 1e-4, "\(model.description): worst weighted-gradient error \(worst) (seed \(seed))")

        let ones = run(model, x, y, rows: rows, weights: [Float](repeating: 1, count: rows))
        let none = run(model, x, y, rows: rows, weights: nil)
        #expect(ones.0 == none.0 && ones.1 == none.1, "\(model.description): weights of 1 change the result")
    }
}
