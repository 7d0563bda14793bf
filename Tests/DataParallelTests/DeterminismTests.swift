import DataParallel
import Datasets
import Models
import Optim
import Testing

/// A model, the synthetic data it learns, and an optimizer to train it with.
struct TrainingCase: CustomTestStringConvertible, Sendable {
    let model: any Model
    let task: SyntheticRegression.Task
    let outputs: Int
    let optimizer: String
    var testDescription: String { "\(model.description), \(optimizer)" }

    func data(rows: Int = 3000) throws -> Dataset<Float> {
        try SyntheticRegression(task: task, rows: rows, features: model.inputFeatures, outputs: outputs, noise: 0.1, seed: 5).generate()
    }

    func makeOptimizer<Scalar: TrainingScalar>(_ parameters: Parameters<Scalar>) throws -> any Optimizer<Scalar> {
        switch optimizer {
        case "SGD": try SGD([parameters], lr: 0.05, momentum: 0.9)
        case "Adam": try Adam([parameters], lr: 0.01)
        default: try LBFGS([parameters], lr: 1, maxIter: 4, historySize: 5, lineSearchFn: .strongWolfe)
        }
    }
}

let models: [(any Model, SyntheticRegression.Task, Int)] = [
    (LinearRegression(features: 19), .linear, 1),
    (LinearRegression(features: 11, outputs: 3, loss: .huber), .linear, 3),
    (LogisticRegression(features: 21), .logistic, 1),
    (SoftmaxRegression(features: 9, classes: 4), .multiclass, 4),
    (MLP(features: 7, hidden: [10], activation: .tanh), .nonlinear, 1),
    (MLP(features: 6, hidden: [8, 5], activation: .relu), .nonlinear, 1),
]

let trainingCases: [TrainingCase] = models.flatMap { model, task, outputs in
    ["SGD", "Adam", "LBFGS"].map { TrainingCase(model: model, task: task, outputs: outputs, optimizer: $0) }
}

/// Trains `testCase` with `workers` workers and returns the final weights.
func train<Scalar: TrainingScalar>(_ testCase: TrainingCase, workers: Int, data: Dataset<Scalar>, epochs: Int = 2) throws -> [Scalar] {
    let parameters = testCase.model.makeParameters(seed: 11, as: Scalar.self)
    let optimizer = try testCase.makeOptimizer(parameters)
    let configuration = FitConfiguration(batchSize: 1000, epochs: epochs, workers: workers, seed: 3, chunkRows: 128)
    _ = try fit(testCase.model, parameters: parameters, data: data, optimizer: optimizer, configuration: configuration)
    return parameters.values.array
}

extension DataParallelTests {
@Suite("Determinism")
struct DeterminismTests {
    @Test("Weights after training are bitwise identical for 1, 2, 3, 4 and 8 workers and from run to run",
          arguments: trainingCases)
    func identicalForAnyWorkerCount(testCase: TrainingCase) throws {
        let data = try testCase.data()
        let reference = try train(testCase, workers: 1, data: data)
        #expect(reference.allSatisfy { $0.isFinite })
        #expect(reference != testCase.model.initialParameters(seed: 11), "training moved the weights")
        for workers in [2, 3, 4, 8] {
            let weights = try train(testCase, workers: workers, data: data)
            #expect(weights == reference, "\(workers) workers differ from 1 worker")
        }
        let again = try train(testCase, workers: 2, data: data)
        #expect(again == reference, "a second run differs")
    }

    @Test("In Double (--dtype float64), weights after training are bitwise identical for 1, 2, 3 and 4 workers, and near the Float run's",
          arguments: trainingCases)
    func identicalForAnyWorkerCountInDouble(testCase: TrainingCase) throws {
        let single = try testCase.data()
        let data = try single.converted(to: Double.self)
        let reference = try train(testCase, workers: 1, data: data)
        #expect(reference.allSatisfy { $0.isFinite })
        for workers in [2, 3, 4] {
            #expect(try train(testCase, workers: workers, data: data) == reference, "\(workers) workers differ from 1 worker")
        }
        // The same fit in Float lands close by (two epochs: rounding has not compounded far; LBFGS's
        // line search takes other steps on other rounding, so it is further).
        let float = try train(testCase, workers: 2, data: single)
        let difference = zip(float, reference).map { (Double($0) - $1) * (Double($0) - $1) }.reduce(0, +).squareRoot()
        let norm = reference.map { $0 * $0 }.reduce(0, +).squareRoot()
        #expect(difference <= (testCase.optimizer == "LBFGS" ? 5e-2 : 1e-3) * norm, "Float and Double runs differ by \(difference / norm) relative")
    }

    @Test("A model of over a million parameters, whose Adam step the fit slices over its workers, trains to the same bits on 1, 2 and 3 workers")
    func largeStepSliced() throws {
        let data = try SyntheticRegression(task: .linear, rows: 32, features: 1024, seed: 5).generate()
        let model = MLP(features: 1024, hidden: [1024], outputs: 1, activation: .relu, loss: .mse)
        #expect(model.parameterCount >= ElementwiseOptimizer<Float, AdamOptions>.parallelThreshold)
        func train(workers: Int) throws -> [Float] {
            let parameters = model.makeParameters(seed: 2)
            let adam = try Adam([parameters], lr: 1e-3, amsgrad: true)
            _ = try fit(model, parameters: parameters, data: data, optimizer: adam,
                        configuration: FitConfiguration(batchSize: 16, epochs: 1, workers: workers))
            #expect(adam.parallelStep == nil, "the fit kept its executor in the optimizer")
            return parameters.values.array
        }
        let one = try train(workers: 1)
        #expect(try train(workers: 2) == one)
        #expect(try train(workers: 3) == one)
    }

    @Test("Training agrees with a plain serial reference implementation within 1e-5", arguments: trainingCases)
    func agreesWithSerialReference(testCase: TrainingCase) throws {
        let data = try testCase.data(rows: 2000)
        let parallel = try train(testCase, workers: 3, data: data, epochs: 1)
        let serial = try serialReference(testCase, data: data, epochs: 1)
        let difference = zip(parallel, serial).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +).squareRoot()
        let norm = serial.map { Double($0) * Double($0) }.reduce(0, +).squareRoot()
        #expect(difference <= 1e-5 * norm, "relative difference \(difference / norm)")
    }

    /// The same training written the plain way: minibatches in the same order, the gradient as one
    /// running sum over the rows (in Double), the same optimizer.
    func serialReference(_ testCase: TrainingCase, data: Dataset<Float>, epochs: Int) throws -> [Float] {
        let model = testCase.model
        let parameters = model.makeParameters(seed: 11)
        let optimizer = try testCase.makeOptimizer(parameters)
        let batchSize = 1000
        let batches = (data.rows + batchSize - 1) / batchSize
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: model.parameterCount)
        defer { scratch.deallocate() }
        for epoch in 1...epochs {
            for batch in referenceOrder(batches, epoch: epoch, seed: 3) {
                let rows = (batch * batchSize)..<min((batch + 1) * batchSize, data.rows)
                optimizer.step {
                    var gradient = [Double](repeating: 0, count: model.parameterCount)
                    var loss = 0.0
                    for row in rows {
                        scratch.update(repeating: 0, count: model.parameterCount)
                        let block = RowBlock(x: data.x.base + row * data.rowStride, xStride: data.rowStride,
                                             y: data.y.base + row * data.targetStride, yStride: data.targetStride, count: 1)
                        loss += model.accumulateGradient(
                            parameters: parameters.values.withUnsafeBufferPointer { $0.baseAddress! }, rows: block, gradient: scratch)
                        for j in gradient.indices { gradient[j] += Double(scratch[j]) }
                    }
                    let elements = Double(rows.count * model.lossElementsPerRow)
                    parameters.grad.assign(gradient.map { Float($0 / elements) })
                    parameters.markAllGradientsDefined()
                    return loss / elements
                }
            }
        }
        return parameters.values.array
    }

    /// The trainer's documented minibatch order (seeded Fisher-Yates, SplitMix64), rewritten here.
    func referenceOrder(_ count: Int, epoch: Int, seed: UInt64) -> [Int] {
        var order = Array(0..<count)
        var state = seed ^ (UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15)
        for i in stride(from: count - 1, to: 0, by: -1) {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            order.swapAt(i, Int((z ^ (z >> 31)) % UInt64(i + 1)))
        }
        return order
    }
}
}
