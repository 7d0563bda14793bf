import DataParallel
import Datasets
import Foundation
import Models
import Optim
import Testing

// The worked example of the DocC article "Writing your own model"
// (Sources/DataParallel/DataParallel.docc/CustomModel.md): the code between the markers is the
// article's, character for character (a test below compares them), so the article's code is
// compiled and run here.

// article: begin
/// ŷ = b + w₁x + w₂x² + … + w_d·x^d on one input: a polynomial fitted by least squares.
struct PolynomialRegression: Model {
    let degree: Int

    var description: String { "polynomial regression of degree \(degree), mse" }
    var inputFeatures: Int { 1 }
    var targetsPerRow: Int { 1 }
    var outputsPerRow: Int { 1 }
    var loss: Loss { .mse }
    var lossElementsPerRow: Int { 1 }
    // torch's names and shapes, as an nn.Linear(degree, 1) over the powers would have them.
    var parameterShapes: [(name: String, shape: [Int])] { [("weight", [1, degree]), ("bias", [1])] }

    func initialParameters(seed: UInt64) -> [Float] {
        Array(repeating: 0, count: degree + 1)
    }

    /// Adds Σ over the block's rows of ∂loss/∂θ to `gradient` and returns Σ of the rows'
    /// losses. Called on many threads at once, each with its own rows and its own gradient slot:
    /// it reads `parameters` and writes nothing else. Generic over the precision of the fit
    /// (`Float` or `Double`); `@_specialize` compiles it for both.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func accumulateGradient<Scalar: TrainingScalar>(parameters: UnsafePointer<Scalar>, rows: RowBlock<Scalar>,
                                                    gradient: UnsafeMutablePointer<Scalar>) -> Double {
        var total = 0.0
        for row in 0..<rows.count {
            let x = rows.features(row)[0], target = rows.targets(row)[0], weight = rows.weight(row)
            var power: Scalar = 1, prediction = parameters[degree]
            for k in 0..<degree {
                power *= x
                prediction += parameters[k] * power
            }
            let residual = prediction - target
            total += Double(weight * residual * residual)
            let slope = weight * 2 * residual
            power = 1
            for k in 0..<degree {
                power *= x
                gradient[k] += slope * power
            }
            gradient[degree] += slope
        }
        return total
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func predict<Scalar: TrainingScalar>(parameters: UnsafePointer<Scalar>, rows: RowBlock<Scalar>,
                                         outputs: UnsafeMutablePointer<Scalar>) {
        for row in 0..<rows.count {
            let x = rows.features(row)[0]
            var power: Scalar = 1, prediction = parameters[degree]
            for k in 0..<degree {
                power *= x
                prediction += parameters[k] * power
            }
            outputs[row] = prediction
        }
    }
}

/// y = 0.5 − x + 2x² plus a little noise, for x in [−1, 1].
func quadraticData(rows: Int) throws -> Dataset<Float> {
    let x = (0..<rows).map { Float(sin(Double($0))) }
    let y = (0..<rows).map { i -> Float in
        let noise = Float(0.01 * cos(7 * Double(i)))
        return 0.5 - x[i] + 2 * x[i] * x[i] + noise
    }
    return try Dataset(name: "quadratic", x: FloatStorage(x), y: FloatStorage(y), rows: rows, features: 1)
}

func fitQuadratic(workers: Int, data: Dataset<Float>) throws -> [Float] {
    let model = PolynomialRegression(degree: 2)
    let parameters = model.makeParameters()
    let optimizer = try LBFGS([parameters], lr: 1, lineSearchFn: .strongWolfe)
    _ = try fit(model, parameters: parameters, data: data, optimizer: optimizer,
                configuration: FitConfiguration(batchSize: data.rows, epochs: 20, workers: workers))
    return parameters.values.array   // [w₁, w₂, b] ≈ [−1, 2, 0.5]
}
// article: end

@Suite("The custom-model article")
struct CustomModelArticleTests {
    @Test("Its model trains with fit: the coefficients come back, bitwise the same on 1, 2 and 3 workers")
    func trains() throws {
        let data = try quadraticData(rows: 20_000)
        let one = try fitQuadratic(workers: 1, data: data)
        #expect(abs(one[0] + 1) < 0.01 && abs(one[1] - 2) < 0.01 && abs(one[2] - 0.5) < 0.01, "\(one)")
        #expect(try fitQuadratic(workers: 2, data: data) == one)
        #expect(try fitQuadratic(workers: 3, data: data) == one)
    }

    @Test("The article shows this file's code, character for character")
    func articleMatches() throws {
        let here = URL(fileURLWithPath: #filePath)
        let root = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let source = try String(contentsOf: here, encoding: .utf8)
        let article = try String(contentsOf: root.appendingPathComponent("Sources/DataParallel/DataParallel.docc/CustomModel.md"), encoding: .utf8)
        guard let begin = source.range(of: "// article: begin\n"), let end = source.range(of: "// article: end") else {
            Issue.record("markers missing")
            return
        }
        let code = String(source[begin.upperBound..<end.lowerBound])
        // The article's code blocks, joined, are the code between the markers.
        let blocks = article.components(separatedBy: "```swift\n").dropFirst().map { $0.components(separatedBy: "```")[0] }
        #expect(blocks.joined(separator: "\n") == code, "the article's code and the tested code differ: update CustomModel.md")
    }
}
