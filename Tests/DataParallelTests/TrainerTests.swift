import DataParallel
import Datasets
import Dispatch
import Foundation
import ModelIO
import Models
import Optim
import Testing
import Topology

extension DataParallelTests {
@Suite("Trainer")
struct TrainerTests {
    @Test("A linear regression fit recovers the true weights and reports what it did")
    func fitsLinearRegression() throws {
        let spec = try SyntheticRegression(task: .linear, rows: 20_000, features: 16, noise: 0.05, seed: 1)
        let (training, validation) = try spec.generate(workers: 2).split(validationFraction: 0.2)
        let model = LinearRegression(features: 16)
        let parameters = model.makeParameters(seed: 1)
        var seen: [Int] = []
        let report = try fit(model, parameters: parameters, data: training, validation: validation,
                             optimizer: Adam([parameters], lr: 0.05),
                             configuration: FitConfiguration(batchSize: 1024, epochs: 8, workers: 2)) { seen.append($0.epoch) }
        #expect(seen == Array(1...8))
        #expect(report.epochs.count == 8 && report.stopReason == .completed)
        #expect(report.epochs.last!.trainingLoss < report.epochs.first!.trainingLoss)
        let final = try #require(report.finalMetrics)
        #expect(final.r2! > 0.99, "R² \(final.r2!)")
        #expect(abs(final.mse! - 0.0025) < 0.002, "noise variance is 0.0025, MSE \(final.mse!)")
        #expect(report.trueWeightDistance! < 0.02)
        #expect(report.rowsProcessed == 8 * training.rows)
        #expect(report.bytesRead == report.rowsProcessed * 17 * 4)
        #expect(report.rowsPerSecond > 0 && report.computeSeconds > 0 && report.placement.workers == 2)
    }

    @Test("Classification fits report accuracy and log-loss")
    func fitsClassifiers() throws {
        let binary = try SyntheticRegression(task: .logistic, rows: 8000, features: 10, noise: 0.1, seed: 2).generate()
        let logistic = LogisticRegression(features: 10)
        let p1 = logistic.makeParameters()
        let r1 = try fit(logistic, parameters: p1, data: binary, optimizer: Adam([p1], lr: 0.05),
                         configuration: FitConfiguration(batchSize: 512, epochs: 5, workers: 2))
        #expect(r1.finalMetrics!.accuracy! > 0.95 && r1.finalMetrics!.logLoss! < 0.2)
        let classes = try SyntheticRegression(task: .multiclass, rows: 8000, features: 10, outputs: 3, noise: 0.1, seed: 2).generate()
        let softmax = SoftmaxRegression(features: 10, classes: 3)
        let p2 = softmax.makeParameters()
        let r2 = try fit(softmax, parameters: p2, data: classes, optimizer: Adam([p2], lr: 0.05),
                         configuration: FitConfiguration(batchSize: 512, epochs: 5, workers: 2))
        #expect(r2.finalMetrics!.accuracy! > 0.9, "accuracy \(r2.finalMetrics!.accuracy!)")
    }

    @Test("Classification metrics agree with a serial Double computation over the model's outputs, for any worker count")
    func classificationMetrics() throws {
        // Rows not a multiple of 8 or of the chunk, so that partial blocks are scored too.
        let binary = try SyntheticRegression(task: .logistic, rows: 5003, features: 6, noise: 0.5, seed: 5).generate()
        let classes = try SyntheticRegression(task: .multiclass, rows: 5003, features: 6, outputs: 5, noise: 0.5, seed: 5).generate()
        func check<M: Model>(_ model: M, _ data: Dataset<Float>, seed: UInt64) throws {
            let parameters = model.makeParameters()
            // Weights large enough that some logits are far from 0 (saturated sigmoids, peaked softmaxes).
            var state = seed
            parameters.values.withUnsafeMutableBufferPointer { v in
                for i in v.indices {
                    state = state &* 6364136223846793005 &+ 1442695040888963407
                    v[i] = Float(Int64(bitPattern: state >> 11) % 2001 - 1000) / 150
                }
            }
            let outputs = predict(model, parameters: parameters, data: data)
            let k = model.outputsPerRow
            var correct = 0, logLoss = 0.0
            for row in 0..<data.rows {
                let z = outputs[row * k..<(row + 1) * k].map(Double.init)
                let target = Double(data.y[row * data.targetStride])
                if k == 1 {
                    logLoss += max(z[0], 0) - z[0] * target + Foundation.log1p(Foundation.exp(-abs(z[0])))
                    if (z[0] > 0) == (target == 1) { correct += 1 }
                } else {
                    let peak = z.max()!
                    logLoss += peak + Foundation.log(z.map { Foundation.exp($0 - peak) }.reduce(0, +)) - z[Int(target)]
                    if z.firstIndex(of: peak)! == Int(target) { correct += 1 }
                }
            }
            let expectedLoss = logLoss / Double(data.rows), expectedAccuracy = Double(correct) / Double(data.rows)
            let reference = try score(model, parameters: parameters, data: data, workers: 1)
            #expect(reference.accuracy == expectedAccuracy)
            #expect(abs(reference.logLoss! - expectedLoss) <= 1e-7 * expectedLoss, "\(reference.logLoss!) vs \(expectedLoss)")
            #expect(reference.loss == reference.logLoss)
            for workers in [2, 3] {
                #expect(try score(model, parameters: parameters, data: data, workers: workers) == reference)
            }
        }
        try check(LogisticRegression(features: 6), binary, seed: 1)
        try check(SoftmaxRegression(features: 6, classes: 5), classes, seed: 2)
    }

    @Test("Automatic chunks depend on the model and batch only: the library's default batch is shared out, and the weights are bitwise the same for 1, 2 and 3 workers")
    func automaticChunks() throws {
        let data = try SyntheticRegression(task: .linear, rows: 10_000, features: 12, seed: 8).generate()
        let model = LinearRegression(features: 12)
        var weights: [[Float]] = []
        for workers in [1, 2, 3] {
            let parameters = model.makeParameters()
            let report = try fit(model, parameters: parameters, data: data, optimizer: Adam([parameters], lr: 0.01),
                                 configuration: FitConfiguration(epochs: 2, workers: workers))
            // The default batch of 4096 rows in 32 chunks of 128, not one chunk of 4096.
            #expect(report.chunkRows == 128)
            weights.append(parameters.values.array)
        }
        #expect(weights[0] == weights[1] && weights[1] == weights[2])
        let parameters = model.makeParameters()
        let chosen = try fit(model, parameters: parameters, data: data, optimizer: Adam([parameters], lr: 0.01),
                             configuration: FitConfiguration(epochs: 1, workers: 2, chunkRows: 1000))
        #expect(chosen.chunkRows == 1000)
        #expect(FitConfiguration(chunkRows: 9000).chunkRows(for: model, batchRows: 4096) == 4096)
    }

    @Test("Generating data on the workers gives the serial generator's values")
    func parallelGeneration() throws {
        let spec = try SyntheticRegression(task: .nonlinear, rows: 10_000, features: 7, seed: 4)
        let serial = try spec.generate()
        for workers in [1, 3, 8] {
            let parallel = try spec.generate(workers: workers, chunkRows: 333)
            #expect(parallel.x.array == serial.x.array && parallel.y.array == serial.y.array)
            // A window of rows (what `optim generate` streams), filled in parallel.
            let rows = 1234..<7000
            var x = [Float](repeating: 0, count: rows.count * 7), y = [Float](repeating: 0, count: rows.count)
            x.withUnsafeMutableBufferPointer { xs in
                y.withUnsafeMutableBufferPointer { ys in
                    spec.fill(rows: rows, x: xs.baseAddress!, y: ys.baseAddress!, weights: spec.trueWeights, workers: workers, chunkRows: 500)
                }
            }
            #expect(x == Array(serial.x.array[rows.lowerBound * 7..<rows.upperBound * 7]) && y == Array(serial.y.array[rows]))
        }
    }

    @Test("After a pinned fit, the caller's binding is what it was and plain concurrentPerform runs on threads allowed every core")
    func bindingDoesNotLeak() throws {
        let machine = try MachineTopology.current()
        let callerBefore = ThreadBinding.current()
        let data = try SyntheticRegression(task: .linear, rows: 20_000, features: 8, seed: 1).generate()
        let model = LinearRegression(features: 8)
        let parameters = model.makeParameters()
        let report = try fit(model, parameters: parameters, data: data, optimizer: SGD([parameters], lr: 0.01),
                             configuration: FitConfiguration(batchSize: 2048, epochs: 2, workers: machine.processingUnits.count, bind: true))
        #expect(ThreadBinding.current() == callerBefore)
        if report.placement.pinned { #expect(report.placement.units.count == machine.processingUnits.count) }

        // Every thread libdispatch runs the iterations on has the whole machine allowed again (a
        // binding left behind would hold it to one core); the busy iterations make it start as
        // many threads as there are cores. Which cores they ran on is the kernel's choice (on a
        // loaded machine, often fewer), so that is not asserted.
        let bindings = Locked<Set<[Int]>>([])
        let threads = Locked<Set<UInt>>([])
        DispatchQueue.concurrentPerform(iterations: machine.processingUnits.count * 2) { _ in
            let start = ContinuousClock.now
            var spin = 0.0
            while ContinuousClock.now - start < .milliseconds(30) { spin += 1 }
            if let binding = ThreadBinding.current() { bindings.withLock { _ = $0.insert(binding) } }
            threads.withLock { _ = $0.insert(UInt(pthread_self())) }
        }
        #expect(!bindings.withLock { $0 }.isEmpty)
        #expect(bindings.withLock { $0 }.allSatisfy { Set($0) == Set(machine.processingUnits) },
                "a thread is still pinned after the fit: \(bindings.withLock { $0 })")
        #expect(machine.processingUnits.count < 2 || threads.withLock { $0 }.count >= 2, "concurrentPerform ran on one thread")
    }

    @Test("More workers than cores is allowed, and the report says the workers share cores")
    func oversubscription() throws {
        let machine = try MachineTopology.current()
        let data = try SyntheticRegression(task: .linear, rows: 4000, features: 4, seed: 1).generate()
        let model = LinearRegression(features: 4)
        let parameters = model.makeParameters()
        let report = try fit(model, parameters: parameters, data: data, optimizer: SGD([parameters], lr: 0.01),
                             configuration: FitConfiguration(batchSize: 1000, epochs: 1, workers: machine.processingUnits.count + 3))
        #expect(report.placement.note?.contains("share a core") == true)
    }

    @Test("Bad input is a clear error before any step, never a crash")
    func badInput() throws {
        let model = LinearRegression(features: 3)
        let parameters = model.makeParameters()
        let optimizer = try SGD([parameters], lr: 0.1)
        let good = try Dataset<Float>(x: [1, 2, 3, 4, 5, 6], y: [1, 2], features: 3)
        func message(_ body: () throws -> Void) -> String? {
            do { try body(); return nil } catch { return "\(error)" }
        }
        #expect(message { _ = try fit(model, parameters: parameters, data: good, optimizer: optimizer,
                                      configuration: FitConfiguration(batchSize: 0)) } == "invalid configuration: batch size must be at least 1, got 0")
        #expect(message { _ = try fit(model, parameters: parameters, data: good, optimizer: optimizer,
                                      configuration: FitConfiguration(workers: 0)) } == "invalid configuration: workers must be at least 1, got 0")
        let wide = try Dataset<Float>(x: [1, 2, 3, 4], y: [1, 2], features: 2)
        #expect(message { _ = try fit(model, parameters: parameters, data: wide, optimizer: optimizer) }
                == "in-memory data: rows have 2 features, the model takes 3")
        let nan = try Dataset<Float>(x: [1, 2, 3, 4, .infinity, 6], y: [1, 2], features: 3)
        #expect(message { _ = try fit(model, parameters: parameters, data: nan, optimizer: optimizer) }
                == "in-memory data: feature at row 1, column 1 is inf; data must be finite")
        let labels = try Dataset<Float>(x: [1, 2, 3, 4, 5, 6], y: [1, 2], features: 3)
        let logistic = LogisticRegression(features: 3)
        let lp = logistic.makeParameters()
        #expect(message { _ = try fit(logistic, parameters: lp, data: labels, optimizer: SGD([lp])) }
                == "in-memory data: target at row 1 is 2.0, expected 0 or 1")
        let other = LinearRegression(features: 3, outputs: 2).makeParameters()
        #expect(message { _ = try fit(model, parameters: other, data: good, optimizer: optimizer) }?
            .hasPrefix("invalid configuration: the parameters' tensors [[2, 3], [2]] are not the model's [[1, 3], [1]]") == true)
        var resumed = FitConfiguration(batchSize: 1)
        resumed.start = TrainingPosition(epoch: 1, batch: 2)
        #expect(message { _ = try fit(model, parameters: parameters, data: good, optimizer: optimizer, configuration: resumed) }
                == "invalid configuration: the start position's minibatch 2 is past the epoch's last, 1: a position from another data set or batch size?")
        #expect(parameters.values.array == model.initialParameters(seed: 0), "no step was taken")
    }

    @Test("A diverging fit stops with a clear error and keeps the last finite weights")
    func divergence() throws {
        let data = try SyntheticRegression(task: .linear, rows: 4000, features: 8, seed: 1).generate()
        let model = LinearRegression(features: 8)
        let parameters = model.makeParameters()
        do {
            _ = try fit(model, parameters: parameters, data: data, optimizer: SGD([parameters], lr: 50),
                        configuration: FitConfiguration(batchSize: 500, epochs: 20, workers: 2))
            Issue.record("lr 50 did not diverge")
        } catch let error as TrainingError {
            guard case .diverged = error else { Issue.record("\(error)"); return }
            #expect("\(error)".hasPrefix("training diverged"))
            #expect(parameters.values.array.allSatisfy { $0.isFinite })
        }
    }

    @Test("Early stopping keeps the best weights; cancellation stops between minibatches")
    func stoppingEarly() throws {
        let spec = try SyntheticRegression(task: .linear, rows: 6000, features: 6, noise: 0.5, seed: 3)
        let (training, validation) = try spec.generate().split(validationFraction: 0.3)
        let model = LinearRegression(features: 6)
        let parameters = model.makeParameters()
        let report = try fit(model, parameters: parameters, data: training, validation: validation,
                             optimizer: SGD([parameters], lr: 0.1),
                             configuration: FitConfiguration(batchSize: 256, epochs: 200, workers: 2,
                                                             earlyStopping: .init(patience: 2, minDelta: 1e-4)))
        #expect(report.stopReason == .earlyStopped && report.epochs.count < 200)
        let best = report.epochs.compactMap { $0.validation?.loss }.min()!
        #expect(abs(report.finalMetrics!.loss - best) < 1e-9, "the best epoch's weights were kept")

        let flag = CancellationFlag()
        let cancelled = try fit(model, parameters: parameters, data: training, optimizer: SGD([parameters], lr: 0.01),
                                configuration: FitConfiguration(batchSize: 256, epochs: 50, workers: 2)) { epoch in
            if epoch.epoch == 3 { flag.cancel() }
        }
        #expect(cancelled.stopReason == .completed, "without the flag passed, the fit runs to the end")
        let another = CancellationFlag()
        let stopped = try fit(model, parameters: parameters, data: training, optimizer: SGD([parameters], lr: 0.01),
                              configuration: FitConfiguration(batchSize: 256, epochs: 50, workers: 2),
                              cancellation: another, progress: { if $0.epoch == 3 { another.cancel() } })
        #expect(stopped.stopReason == .cancelled && stopped.epochs.count == 3)
    }

    @Test("Schedules step once per epoch; LBFGS fits through full data-parallel closures")
    func schedulesAndLBFGS() throws {
        let data = try SyntheticRegression(task: .linear, rows: 4000, features: 5, noise: 0.01, seed: 9).generate()
        let model = LinearRegression(features: 5)
        let parameters = model.makeParameters()
        let optimizer = try SGD([parameters], lr: 0.1)
        let report = try fit(model, parameters: parameters, data: data, optimizer: optimizer,
                             schedule: .stepping(StepLR(optimizer, stepSize: 2, gamma: 0.5)),
                             configuration: FitConfiguration(batchSize: 1000, epochs: 5, workers: 2))
        #expect(report.epochs.map(\.learningRate) == [0.1, 0.1, 0.05, 0.05, 0.025])

        let lp = model.makeParameters()
        let lbfgs = try LBFGS([lp], lr: 1, maxIter: 20, lineSearchFn: .strongWolfe)
        let full = try fit(model, parameters: lp, data: data, optimizer: lbfgs,
                           configuration: FitConfiguration(batchSize: 4000, epochs: 3, workers: 2))
        #expect(full.finalMetrics!.r2! > 0.999)
        #expect(full.trueWeightDistance! < 0.01)
    }
}
}

/// A value behind an NSLock (a pthread mutex, which ThreadSanitizer understands).
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}

extension DataParallelTests {
@Suite("Checkpoints")
struct CheckpointTests {
    @Test("Stopped mid-epoch and resumed from its checkpoint, training ends with bitwise the same weights", arguments: ["Adam", "SGD", "LBFGS"])
    func resumeIsBitwise(optimizerName: String) throws {
        let data = try SyntheticRegression(task: .logistic, rows: 6000, features: 7, seed: 8).generate()
        let model = LogisticRegression(features: 7)
        func makeOptimizer(_ p: Parameters<Float>) throws -> any Optimizer<Float> {
            switch optimizerName {
            case "Adam": try Adam([p], lr: 0.05)
            case "SGD": try SGD([p], lr: 0.1, momentum: 0.9, nesterov: true)
            default: try LBFGS([p], lr: 1, maxIter: 3, historySize: 4)
            }
        }
        let configuration = FitConfiguration(batchSize: 500, epochs: 4, workers: 2, seed: 6)

        let straight = model.makeParameters(seed: 2)
        _ = try fit(model, parameters: straight, data: data, optimizer: makeOptimizer(straight), configuration: configuration)

        // Stop after minibatch 4 of epoch 3, saving what a checkpoint saves.
        let interrupted = model.makeParameters(seed: 2)
        let first = try makeOptimizer(interrupted)
        let flag = CancellationFlag()
        var saved: (position: TrainingPosition, weights: [Float], state: Data)?
        let report = try fit(model, parameters: interrupted, data: data, optimizer: first, configuration: configuration,
                             cancellation: flag,
                             onBatch: { if $0.position == TrainingPosition(epoch: 3, batch: 4) { flag.cancel() } },
                             checkpoint: { position in saved = (position, interrupted.values.array, try OptimizerState.encode(first)) })
        #expect(report.stopReason == .cancelled)
        let checkpoint = try #require(saved)
        #expect(checkpoint.position == TrainingPosition(epoch: 3, batch: 5))

        // A fresh process, in effect: new parameters and optimizer, loaded from the checkpoint.
        let resumed = model.makeParameters(seed: 99)
        resumed.values.assign(checkpoint.weights)
        let second = try makeOptimizer(resumed)
        try OptimizerState.load(checkpoint.state, into: second)
        var again = configuration
        again.start = checkpoint.position
        _ = try fit(model, parameters: resumed, data: data, optimizer: second, configuration: again)
        #expect(resumed.values.array == straight.values.array)
    }

    @Test("Resume in the library: TrainingRun and CheckpointWriter stop a fit anywhere and continue it to bitwise the uninterrupted weights; another run or model is refused, changing nothing",
          arguments: ["Adam", "LBFGS"])
    func libraryResume(optimizerName: String) throws {
        let all = try SyntheticRegression(task: .linear, rows: 3000, features: 5, noise: 0.3, seed: 9).generate()
        let (data, validation) = try all.split(validationFraction: 0.2)
        let model = MLP(features: 5, hidden: [6], outputs: 1, activation: .tanh, loss: .mse)
        let configuration = FitConfiguration(batchSize: 300, epochs: 6, workers: 2, seed: 3, earlyStopping: .init(patience: 4, minDelta: 0),
                                             convergence: .init(tolerance: 1e-9, patience: 3))
        func run(seed: UInt64 = 1, lr: Double = 0.02, identity: [String: String]? = nil) throws -> TrainingRun {
            let parameters = model.makeParameters(seed: seed)
            let optimizer: any Optimizer<Float> = optimizerName == "Adam" ? try Adam([parameters], lr: lr)
                : try LBFGS([parameters], lr: lr * 50, maxIter: 2, historySize: 3)
            let schedule = EpochSchedule.stepping(try StepLR(optimizer as! any SchedulableOptimizer, stepSize: 2, gamma: 0.5))
            // SWA from epoch 2 (Adam) or an EMA of every step (LBFGS): the averages resume too.
            let average = optimizerName == "Adam" ? try AveragedModel(parameters) : try AveragedModel(parameters, average: .ema(decay: 0.8))
            return TrainingRun(model: model, parameters: parameters, optimizer: optimizer, schedule: schedule, average: average,
                               identity: identity ?? ["data": "synthetic seed 9", "lr": "\(lr)", "optimizer": optimizerName])
        }
        func train(_ run: TrainingRun, _ configuration: FitConfiguration, writer: CheckpointWriter? = nil,
                   cancellation: CancellationFlag? = nil, stopAt: TrainingPosition? = nil) throws -> TrainingReport {
            let report = try fit(model, parameters: run.parameters, data: data, validation: validation, optimizer: run.optimizer,
                                 schedule: run.schedule, configuration: configuration, cancellation: cancellation,
                                 progress: { if optimizerName == "Adam" && $0.epoch >= 2 { run.average?.updateParameters(run.parameters) } },
                                 onBatch: {
                                     if optimizerName != "Adam" { run.average?.updateParameters(run.parameters) }
                                     if $0.position == stopAt { cancellation?.cancel() }
                                 },
                                 checkpoint: writer.map { writer in { try writer.offer($0) } })
            try writer?.flush()
            return report
        }
        let straight = try run()
        _ = try train(straight, configuration)

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("optim-resume-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("run.ckpt").path
        let first = try run()
        let writer = CheckpointWriter(run: first, path: path, epochs: configuration.epochs)
        let stopped = try train(first, configuration, writer: writer, cancellation: CancellationFlag(), stopAt: TrainingPosition(epoch: 4, batch: 3))
        #expect(stopped.stopReason == .cancelled && writer.written == 4)

        // A fresh process, in effect: other initial weights, loaded from the file.
        let second = try run(seed: 77)
        var again = configuration
        again.start = try second.resume(from: path)
        #expect(again.start.epoch == 4 && again.start.batch == 4 && again.start.earlyStopping != nil)
        _ = try train(second, again)
        #expect(second.parameters.values.array == straight.parameters.values.array)
        let (averaged, expected) = (try #require(second.average), try #require(straight.average))
        #expect(averaged.nAveraged == expected.nAveraged && averaged.nAveraged > 2)
        #expect(averaged.averaged.values.array == expected.averaged.values.array, "the averaged weights differ after resuming")

        // Another run (a hyperparameter in the identity differs) or another model: refused, nothing changed.
        let other = try run(seed: 5, lr: 0.03)
        #expect(throws: ResumeError.anotherRun(key: "lr", checkpoint: "0.02", run: "0.03")) { try other.resume(from: path) }
        #expect(other.parameters.values.array == model.makeParameters(seed: 5).values.array)
        let wider = MLP(features: 5, hidden: [7], outputs: 1, activation: .tanh, loss: .mse)
        let widerParameters = wider.makeParameters(seed: 1)
        let mismatched = TrainingRun(model: wider, parameters: widerParameters, optimizer: try Adam([widerParameters]), identity: [:])
        #expect(throws: DataFileError.self) { try mismatched.resume(from: path) }
        #expect(widerParameters.values.array == wider.makeParameters(seed: 1).values.array)
    }

    @Test("Early stopping survives a checkpoint: resumed mid-run, or from the checkpoint written as it stopped, the run ends as the uninterrupted one")
    func earlyStoppingResumes() throws {
        let all = try SyntheticRegression(task: .linear, rows: 4000, features: 6, noise: 0.5, seed: 4).generate()
        let (data, validation) = try all.split(validationFraction: 0.25)
        let model = LinearRegression(features: 6)
        let configuration = FitConfiguration(batchSize: 250, epochs: 60, workers: 2, seed: 1,
                                             earlyStopping: .init(patience: 2, minDelta: 1e-3))
        var positions: [TrainingPosition] = []
        var snapshots: [[Float]] = [], states: [Data] = []
        let straight = model.makeParameters(seed: 3)
        let optimizer = try Adam([straight], lr: 0.05)
        let report = try fit(model, parameters: straight, data: data, validation: validation, optimizer: optimizer,
                             configuration: configuration,
                             checkpoint: { position in
                                 positions.append(position)
                                 snapshots.append(straight.values.array)
                                 states.append(try OptimizerState.encode(optimizer))
                             })
        #expect(report.stopReason == .earlyStopped)
        let epochs = report.epochs.count
        #expect(epochs > 3 && epochs < 60)
        let last = try #require(positions.last?.earlyStopping)
        #expect(last.epochsWithoutImprovement == 2 && straight.values.array.map(Double.init) == last.bestWeights)

        func resume(from index: Int) throws -> (weights: [Float], report: TrainingReport) {
            let parameters = model.makeParameters(seed: 77)
            parameters.values.assign(snapshots[index])
            let optimizer = try Adam([parameters], lr: 0.05)
            try OptimizerState.load(states[index], into: optimizer)
            var again = configuration
            again.start = positions[index]
            let report = try fit(model, parameters: parameters, data: data, validation: validation, optimizer: optimizer,
                                 configuration: again)
            return (parameters.values.array, report)
        }
        // From the end of the epoch before the last one: one epoch without improvement counted.
        let beforeLast = try resume(from: positions.count - 2)
        #expect(beforeLast.weights == straight.values.array)
        #expect(beforeLast.report.stopReason == .earlyStopped && beforeLast.report.epochs.count == 1)
        // From the checkpoint written as it stopped: nothing left to train, the best weights.
        let atStop = try resume(from: positions.count - 1)
        #expect(atStop.weights == straight.values.array && atStop.report.stopReason == .earlyStopped)
        #expect(atStop.report.epochs.isEmpty)

        // Without the early-stopping state, a resumed run would count from zero and train on.
        var forgetful = positions[positions.count - 2]
        forgetful.earlyStopping = nil
        positions[positions.count - 2] = forgetful
        #expect(try resume(from: positions.count - 2).report.epochs.count > 1)
    }
}
}
