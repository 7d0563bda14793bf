@testable import DataParallel
import Datasets
import Models
import Optim
import Testing

/// A sparse model, the synthetic task it learns, and an optimizer.
struct SparseCase: CustomTestStringConvertible, Sendable {
    let model: any SparseModel
    let task: SyntheticSparse.Task
    let optimizer: String
    var testDescription: String { "\(model.description), \(optimizer)" }

    func data(rows: Int = 2000, seed: UInt64 = 5) throws -> SparseDataset<Float> {
        try SyntheticSparse(task: task, rows: rows, features: model.inputFeatures, nonZerosPerRow: 12,
                            outputs: model.loss == .crossEntropy ? model.outputsPerRow : 1, seed: seed).generate(workers: 2)
    }

    func makeOptimizer<Scalar: TrainingScalar>(_ parameters: Parameters<Scalar>) throws -> any Optimizer<Scalar> {
        switch optimizer {
        case "SGD": try SGD([parameters], lr: 0.5, momentum: 0.9)
        case "Adam": try Adam([parameters], lr: 0.05)
        case "SparseAdam": try SparseAdam([parameters], lr: 0.05)
        case "Adagrad": try Adagrad([parameters], lr: 0.5)
        default: try LBFGS([parameters], lr: 1, maxIter: 4, historySize: 5, lineSearchFn: .strongWolfe)
        }
    }
}

let sparseModels: [(any SparseModel, SyntheticSparse.Task)] = [
    (LinearRegression(features: 3000), .linear),
    (LogisticRegression(features: 5000), .logistic),
    (MLP(features: 900, hidden: [6], outputs: 1, activation: .tanh, loss: .bceWithLogits), .logistic),
    (MLP(features: 500, hidden: [5, 4], outputs: 3, activation: .relu, loss: .crossEntropy), .multiclass),
    (SoftmaxRegression(features: 700, classes: 3), .multiclass),
]

let sparseCases: [SparseCase] = sparseModels.flatMap { model, task in
    ["SGD", "Adam", "SparseAdam", "Adagrad", "LBFGS"].map { SparseCase(model: model, task: task, optimizer: $0) }
}

func trainSparse<M: SparseModel, Scalar: TrainingScalar>(_ model: M, _ testCase: SparseCase, workers: Int, data: SparseDataset<Scalar>,
                                                         penalty: FitConfiguration.Penalty? = nil) throws -> [Scalar] {
    let parameters = model.makeParameters(seed: 11, as: Scalar.self)
    let optimizer = try testCase.makeOptimizer(parameters)
    var configuration = FitConfiguration(batchSize: 500, epochs: 2, workers: workers, seed: 3, chunkRows: 32)
    configuration.penalty = penalty
    _ = try fit(model, parameters: parameters, data: data, optimizer: optimizer, configuration: configuration)
    return parameters.values.array
}

/// Opens the existential so that the sparse `fit` is chosen.
func trainSparse<Scalar: TrainingScalar>(_ testCase: SparseCase, workers: Int, data: SparseDataset<Scalar>,
                                         penalty: FitConfiguration.Penalty? = nil) throws -> [Scalar] {
    func open<M: SparseModel>(_ model: M) throws -> [Scalar] { try trainSparse(model, testCase, workers: workers, data: data, penalty: penalty) }
    return try open(testCase.model)
}

extension DataParallelTests {
@Suite("Sparse data")
struct SparseTests {
    @Test("Sparse weights are bitwise identical for 1, 2, 3, 4 and 8 workers", arguments: sparseCases)
    func identicalForAnyWorkerCount(testCase: SparseCase) throws {
        let data = try testCase.data()
        let reference = try trainSparse(testCase, workers: 1, data: data)
        #expect(reference.allSatisfy { $0.isFinite })
        #expect(reference != testCase.model.initialParameters(seed: 11), "training moved the weights")
        for workers in [2, 3, 4, 8] {
            #expect(try trainSparse(testCase, workers: workers, data: data) == reference, "\(workers) workers")
        }
        // In Double too, and with a penalty (which makes the whole gradient dense).
        let wide = try data.converted(to: Double.self)
        let penalty = FitConfiguration.Penalty(l2: 1e-3, l1: 1e-4)
        let double1 = try trainSparse(testCase, workers: 1, data: wide, penalty: penalty)
        #expect(try trainSparse(testCase, workers: 3, data: wide, penalty: penalty) == double1)
    }

    // SparseAdam is left out: on the sparse path its update is lazy (only touched columns), by
    // design unlike the dense path's; its rule is checked against torch in SparseParityTests.
    @Test("The sparse path trains to the dense path's weights on the same data densified",
          arguments: sparseCases.filter { $0.optimizer != "SparseAdam" })
    func matchesDensePath(testCase: SparseCase) throws {
        let sparse = try testCase.data(rows: 800).converted(to: Double.self)
        let dense = try #require(sparse.densified())
        func open<M: SparseModel>(_ model: M) throws -> ([Double], [Double]) {
            let parameters = model.makeParameters(seed: 11, as: Double.self)
            let denseParameters = model.makeParameters(seed: 11, as: Double.self)
            let configuration = FitConfiguration(batchSize: 200, epochs: 2, workers: 2, seed: 3, chunkRows: 32)
            _ = try fit(model, parameters: parameters, data: sparse, optimizer: testCase.makeOptimizer(parameters), configuration: configuration)
            _ = try fit(model, parameters: denseParameters, data: dense, optimizer: testCase.makeOptimizer(denseParameters),
                        configuration: configuration)
            return (parameters.values.array, denseParameters.values.array)
        }
        let (fromSparse, fromDense) = try open(testCase.model)
        let scale = fromDense.map(abs).max()!
        let gap = zip(fromSparse, fromDense).map { abs($0 - $1) }.max()!
        // Double sums in another order (row by row, not eight rows at a time): rounding only.
        #expect(gap <= 1e-9 * scale, "largest difference \(gap), weights up to \(scale)")
        #expect(fromSparse != testCase.model.initialParameters(seed: 11).map(Double.init))
    }

    @Test("A sparse gradient equals the dense gradient of the densified rows, and is zero where no row has a feature")
    func gradientMatchesDense() throws {
        for (model, task) in sparseModels {
            func open<M: SparseModel>(_ model: M) throws {
                let sparse = try SyntheticSparse(task: task, rows: 300, features: model.inputFeatures, nonZerosPerRow: 5,
                                                 outputs: model.loss == .crossEntropy ? model.outputsPerRow : 1, seed: 9)
                    .generate(workers: 1).converted(to: Double.self)
                let dense = try #require(sparse.densified())
                let parameters = model.makeParameters(seed: 4, as: Double.self), reference = model.makeParameters(seed: 4, as: Double.self)
                let evaluator = GradientEvaluator<M, Double>(model: model, workers: 2, chunkRows: 16, maxRows: 300)
                let rows = 37..<290
                let loss = evaluator.evaluate(reference, on: dense, rows: rows)
                var sparseLoss = 0.0
                let sgd = try SGD([parameters], lr: 0)
                let configuration = FitConfiguration(batchSize: 300, epochs: 1, workers: 3, shuffle: false, chunkRows: 16,
                                                     scoreTrainingData: false)
                // One full-batch step at lr 0 leaves the gradient of all rows in parameters.grad.
                let report = try fit(model, parameters: parameters, data: sparse.slice(rows), optimizer: sgd, configuration: configuration)
                sparseLoss = report.epochs[0].trainingLoss
                #expect(abs(sparseLoss - loss) <= 1e-12 * max(1, abs(loss)), "\(model.description): loss \(sparseLoss) vs \(loss)")
                let g = parameters.grad.array, h = reference.grad.array
                let gap = zip(g, h).map { abs($0 - $1) }.max()!
                #expect(gap <= 1e-12, "\(model.description): gradient differs by \(gap)")
                // Columns no row of the slice has: exactly zero in the sparse gradient.
                var used = Set<Int>()
                for row in rows { for entry in sparse.row(row) { used.insert(entry.column) } }
                let d = model.inputFeatures
                for column in 0..<d where !used.contains(column) {
                    for output in 0..<model.sparseWidth where g[output * d + column] != 0 {
                        Issue.record("\(model.description): column \(column) untouched but its gradient is \(g[output * d + column])")
                        return
                    }
                }
            }
            try open(model)
        }
    }

    @Test("Full-batch fits take the gradient column by column: the minibatch engine's gradient to rounding, zero where no row has a feature, bitwise the same weights for 1, 2, 3, 4 and 8 workers")
    func fullBatchByColumns() throws {
        for (model, task) in sparseModels where model is any SparseLinearModel {
            func open<M: SparseModel>(_ model: M) throws {
                let float = try SyntheticSparse(task: task, rows: 700, features: model.inputFeatures, nonZerosPerRow: 7,
                                                outputs: model.loss == .crossEntropy ? model.outputsPerRow : 1, seed: 12).generate(workers: 1)
                let data = try float.converted(to: Double.self)
                let pool = WorkerPool(workers: 3, bind: false)
                defer { pool.release() }
                let columns = try #require(columnGradient(model, pool: pool, chunkRows: 64, data: data))
                let engine = SparseGradientEngine<M, Double>(model: model, pool: pool, chunkRows: 64, maxRows: 700)
                let a = model.makeParameters(seed: 5, as: Double.self), b = model.makeParameters(seed: 5, as: Double.self)
                let lossA = columns.gradient(of: a, clearingAll: false), lossB = engine.gradient(of: b, data: data, rows: 0..<700)
                #expect(abs(lossA - lossB) <= 1e-12 * abs(lossB))
                let gap = zip(a.grad.array, b.grad.array).map { abs($0 - $1) }.max()!
                #expect(gap <= 1e-14, "\(model.description): gradients differ by \(gap)")
                #expect(a.grad.array.enumerated().allSatisfy { $0.element == 0 || b.grad.array[$0.offset] != 0 })
                // LBFGS on every row: the weights for any worker count.
                func train(_ workers: Int) throws -> [Float] {
                    let parameters = model.makeParameters(seed: 11)
                    let optimizer = try LBFGS([parameters], lr: 1, maxIter: 6, historySize: 5, lineSearchFn: .strongWolfe)
                    var configuration = FitConfiguration(batchSize: 700, epochs: 3, workers: workers, seed: 3, chunkRows: 64)
                    configuration.penalty = FitConfiguration.Penalty(l2: 1e-3)
                    _ = try fit(model, parameters: parameters, data: float, optimizer: optimizer, configuration: configuration)
                    return parameters.values.array
                }
                let one = try train(1)
                #expect(one != model.initialParameters(seed: 11))
                for workers in [2, 3, 4, 8] { #expect(try train(workers) == one, "\(model.description), \(workers) workers") }
            }
            try open(model)
        }
    }

    @Test("Newton-CG on every row: Hessian-vector products match finite differences of the gradient, it reaches at least L-BFGS's optimum with a vanishing gradient, and its weights are bitwise the same for 1, 2, 3 and 8 workers")
    func newton() throws {
        for (model, task) in [(LogisticRegression(features: 4000) as any SparseLinearModel, SyntheticSparse.Task.logistic),
                              (LinearRegression(features: 3000), .linear)] {
            func open<M: SparseLinearModel>(_ model: M) throws {
                let float = try SyntheticSparse(task: task, rows: 1500, features: model.inputFeatures, nonZerosPerRow: 9, seed: 21).generate(workers: 1)
                let data = try float.converted(to: Double.self)
                let penalty = FitConfiguration.Penalty(l2: 1e-4)
                // H·v against (g(θ + εv) − g(θ − εv)) / 2ε, in Double.
                let pool = WorkerPool(workers: 2, bind: false)
                let full = try #require(columnGradient(model, pool: pool, chunkRows: 64, data: data))
                full.needsCurvature = true
                let parameters = model.makeParameters(seed: 3, as: Double.self)
                let theta = parameters.values.array
                func gradient(_ shift: [Double]) -> [Double] {
                    parameters.values.assign(zip(theta, shift).map { $0 + $1 })
                    _ = full.gradient(of: parameters, clearingAll: true)
                    _ = addPenalty(penalty, to: parameters)
                    return parameters.grad.array
                }
                _ = gradient(theta.map { _ in 0 })
                full.holdCurvature()
                let v = (0..<theta.count).map { Double(($0 * 7919) % 13) / 13 - 0.5 }
                let hv = full.hessianProduct(v, penalty: penalty)
                let step = 1e-5
                let plus = gradient(v.map { $0 * step }), minus = gradient(v.map { -$0 * step })
                let numeric = zip(plus, minus).map { ($0 - $1) / (2 * step) }
                let scale = numeric.map(abs).max()!
                let gap = zip(hv, numeric).map { abs($0 - $1) }.max()!
                #expect(gap <= 1e-6 * scale, "\(model.description): H·v differs by \(gap) (scale \(scale))")
                pool.release()

                func train(_ optimizer: String, workers: Int, epochs: Int) throws -> (weights: [Double], loss: Double, epochs: Int) {
                    let parameters = model.makeParameters(seed: 11, as: Double.self)
                    let chosen: any Optimizer<Double> = optimizer == "newton" ? try NewtonCG([parameters])
                        : try LBFGS([parameters], lr: 1, maxIter: 20, historySize: 10, lineSearchFn: .strongWolfe)
                    var configuration = FitConfiguration(batchSize: 1500, epochs: epochs, workers: workers, seed: 3, chunkRows: 64,
                                                         convergence: .init(tolerance: 1e-12, patience: 2))
                    configuration.penalty = penalty
                    let report = try fit(model, parameters: parameters, data: data, optimizer: chosen, configuration: configuration)
                    return (parameters.values.array, report.epochs.last!.trainingLoss, report.epochs.count)
                }
                let newton = try train("newton", workers: 1, epochs: 60), lbfgs = try train("lbfgs", workers: 1, epochs: 60)
                // At least as low a loss as L-BFGS reaches (lower: L-BFGS stops short), where the
                // gradient vanishes.
                #expect(newton.loss <= lbfgs.loss * (1 + 1e-12), "\(model.description): \(newton.loss) vs \(lbfgs.loss)")
                let atOptimum = gradient(zip(newton.weights, theta).map { $0 - $1 })
                let largest = atOptimum.map(abs).max()!
                #expect(largest <= 1e-9, "\(model.description): gradient \(largest) at newton's weights")
                for workers in [2, 3, 8] { #expect(try train("newton", workers: workers, epochs: 60).weights == newton.weights) }
            }
            try open(model)
        }
        // On dense rows, and with an l1 penalty, newton says what it needs.
        let model = LogisticRegression(features: 50)
        let parameters = model.makeParameters(seed: 1)
        let sparse = try SyntheticSparse(task: .logistic, rows: 200, features: 50, nonZerosPerRow: 5, seed: 2).generate(workers: 1)
        let dense = try #require(sparse.densified())
        #expect(throws: TrainingError.self) {
            try fit(model, parameters: parameters, data: dense, optimizer: NewtonCG([parameters]), configuration: FitConfiguration(batchSize: 200))
        }
        #expect(throws: TrainingError.self) {
            try fit(model, parameters: parameters, data: sparse, optimizer: NewtonCG([parameters]), configuration: FitConfiguration(batchSize: 50))
        }
    }

    @Test("In Double, the sparse MLP's gradient agrees with central finite differences of its loss")
    func mlpFiniteDifferences() throws {
        for model in [MLP(features: 60, hidden: [5], outputs: 1, activation: .tanh, loss: .bceWithLogits),
                      MLP(features: 50, hidden: [4, 3], outputs: 3, activation: .tanh, loss: .crossEntropy)] {
            let data = try SyntheticSparse(task: model.loss == .crossEntropy ? .multiclass : .logistic, rows: 120, features: model.inputFeatures,
                                           nonZerosPerRow: 6, outputs: model.loss == .crossEntropy ? 3 : 1, seed: 8)
                .generate(workers: 1).converted(to: Double.self)
            let pool = WorkerPool(workers: 2, bind: false)
            defer { pool.release() }
            let engine = SparseGradientEngine<MLP, Double>(model: model, pool: pool, chunkRows: 16, maxRows: 120)
            let parameters = model.makeParameters(seed: 6, as: Double.self)
            _ = engine.gradient(of: parameters, data: data, rows: 0..<120)
            let analytic = parameters.grad.array, theta = parameters.values.array
            // Every parameter of the first weight's touched columns and of the dense layers.
            var worst = 0.0
            for index in stride(from: 0, to: theta.count, by: 7) where analytic[index] != 0 || index >= model.sparseWidth * model.inputFeatures {
                func loss(_ shift: Double) -> Double {
                    var shifted = theta
                    shifted[index] += shift
                    parameters.values.assign(shifted)
                    return engine.gradient(of: parameters, data: data, rows: 0..<120)
                }
                let step = 1e-6, numeric = (loss(step) - loss(-step)) / (2 * step)
                worst = max(worst, abs(numeric - analytic[index]) / max(1e-3, abs(analytic[index])))
            }
            #expect(worst < 1e-6, "\(model.description): relative gap \(worst)")
        }
    }

    @Test("The compact lists (for models too wide for an accumulator per worker) give the accumulators' gradient bitwise, for any workers")
    func compactMatchesDirect() throws {
        for (model, task) in sparseModels {
            func open<M: SparseModel>(_ model: M) throws {
                let data = try SyntheticSparse(task: task, rows: 1000, features: model.inputFeatures, nonZerosPerRow: 9,
                                               outputs: model.loss == .crossEntropy ? model.outputsPerRow : 1, seed: 3).generate(workers: 1)
                var gradients: [[Float]] = []
                for (workers, directBytes) in [(1, Int.max), (3, Int.max), (1, 0), (2, 0), (4, 0)] {
                    let pool = WorkerPool(workers: workers, bind: false)
                    defer { pool.release() }
                    let engine = SparseGradientEngine<M, Float>(model: model, pool: pool, chunkRows: 64, maxRows: 1000, directBytes: directBytes)
                    let parameters = model.makeParameters(seed: 2)
                    // Two minibatches: the second zeroes what the first wrote.
                    _ = engine.gradient(of: parameters, data: data, rows: 0..<1000)
                    _ = engine.gradient(of: parameters, data: data, rows: 100..<612)
                    gradients.append(parameters.grad.array)
                }
                #expect(gradients.allSatisfy { $0 == gradients[0] }, "\(model.description)")
                #expect(gradients[0].contains { $0 != 0 })
            }
            try open(model)
        }
    }

    @Test("Scores and predictions on sparse rows are those of the densified rows")
    func scoreAndPredict() throws {
        let model = SoftmaxRegression(features: 400, classes: 3)
        let sparse = try SyntheticSparse(task: .multiclass, rows: 500, features: 400, nonZerosPerRow: 8, outputs: 3, seed: 2).generate()
        let dense = try #require(sparse.densified())
        let parameters = model.makeParameters(seed: 1)
        let a = try score(model, parameters: parameters, data: sparse, workers: 2), b = try score(model, parameters: parameters, data: dense, workers: 2)
        #expect(abs(a.loss - b.loss) < 1e-5 && a.accuracy == b.accuracy)
        let p = predict(model, parameters: parameters, data: sparse), q = predict(model, parameters: parameters, data: dense)
        #expect(zip(p, q).allSatisfy { abs($0 - $1) < 1e-5 })
    }

    @Test("Logistic regression learns a wide power-law problem from its sparse rows")
    func learnsWideProblem() throws {
        let data = try SyntheticSparse(task: .logistic, rows: 20_000, features: 200_000, nonZerosPerRow: 30, noise: 0, seed: 1).generate()
        let (training, validation) = try data.split(validationFraction: 0.2)
        let model = LogisticRegression(features: 200_000)
        let parameters = model.makeParameters(seed: 0)
        let report = try fit(model, parameters: parameters, data: training, validation: validation,
                             optimizer: Adagrad([parameters], lr: 0.5),
                             configuration: FitConfiguration(batchSize: 256, epochs: 5, workers: 2))
        let accuracy = try #require(report.finalMetrics?.accuracy)
        // Most of the 200k columns appear in a handful of rows: a held-out accuracy well above
        // chance, from a gradient that never paid for the width.
        #expect(accuracy > 0.75, "held-out accuracy \(accuracy)")
    }

    @Test("Synthetic sparse rows are the same for any worker count, ascending, unit-norm, and power-law")
    func syntheticSparse() throws {
        let spec = try SyntheticSparse(task: .linear, rows: 3000, features: 100_000, nonZerosPerRow: 20, seed: 7)
        let a = try spec.generate(workers: 1), b = try spec.generate(workers: 3, chunkRows: 100)
        #expect(a.offsets.array == b.offsets.array && a.columns.array == b.columns.array && a.values.array == b.values.array && a.y.array == b.y.array)
        #expect(a.nonZeros > 3000 * 15 && a.nonZeros < 3000 * 20)
        var headRows = 0
        for row in 0..<a.rows {
            let entries = a.row(row)
            #expect(zip(entries, entries.dropFirst()).allSatisfy { $0.column < $1.column })
            let norm = entries.reduce(Float(0)) { $0 + $1.value * $1.value }
            #expect(abs(norm - 1) < 1e-5)
            if entries.contains(where: { $0.column < 16 }) { headRows += 1 }
        }
        // About 4 of 17 octaves are the first 16 features: most rows have one of them.
        #expect(headRows > a.rows / 2)
        #expect(a.trueWeights?["weight"]?.count == 100_000)
    }
}
}
