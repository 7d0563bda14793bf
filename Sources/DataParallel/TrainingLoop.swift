import Datasets
import VectorMath
import Models
import Optim
import Topology

/// What the training loop needs of the data and its gradient engine, dense or sparse.
struct TrainingPass<Scalar: TrainingScalar> {
    let rows: Int
    /// Bytes a pass over these rows reads.
    let bytes: (Range<Int>) -> Int
    let trueWeights: [String: [Float]]?
    let chunkRows: Int
    /// The mean loss's gradient over the rows into `parameters.grad`; its loss.
    let gradient: (Range<Int>, Bool) -> Double
    /// Scores the validation data, when there is some.
    let validate: (() -> Metrics)?
    let scoreTraining: () -> Metrics
    /// Seconds in the kernels and in the reduction so far.
    let times: () -> (Double, Double)
}

/// The checks every fit makes before any work.
func checkFit<M: Model, Scalar>(_ model: M, parameters: Parameters<Scalar>, configuration: FitConfiguration) throws(TrainingError) {
    guard CPUBaseline.isSupported else { throw .invalidConfiguration(CPUBaseline.unsupportedMessage) }
    try configuration.validate()
    guard parameters.count == model.parameterCount,
          parameters.tensors.map(\.shape) == model.parameterShapes.map(\.shape) else {
        throw .invalidConfiguration("the parameters' tensors \(parameters.tensors.map(\.shape)) are not the model's \(model.parameterShapes.map(\.shape))")
    }
}

/// The loop of every fit: epochs of minibatches, one optimizer step each, with validation,
/// schedules, stopping rules and checkpoints.
func train<Scalar: TrainingScalar>(
    _ pass: TrainingPass<Scalar>, parameters: Parameters<Scalar>, optimizer: any Optimizer<Scalar>, schedule: EpochSchedule?,
    configuration: FitConfiguration, cancellation: CancellationFlag?, progress: ((EpochReport) -> Void)?,
    onBatch: ((BatchProgress) -> Void)?, checkpoint: ((TrainingPosition) throws -> Void)?, pool: WorkerPool
) throws(TrainingError) -> TrainingReport {
    func save(_ position: TrainingPosition) throws(TrainingError) {
        do { try checkpoint?(position) } catch { throw .checkpointFailed("\(error)") }
    }
    // A large elementwise step runs on the same pinned workers, slice by slice (bitwise the
    // one-thread result); the optimizer gets its own executor back when the fit ends.
    let stepping = pool.workers > 1 ? optimizer as? any ParallelStepping : nil
    let previousStep = stepping?.parallelStep
    let workers = pool.workers
    stepping?.parallelStep = { pieces, body in
        pool.run { w in
            var piece = w
            while piece < pieces {
                body(piece)
                piece += workers
            }
        }
    }
    defer { stepping?.parallelStep = previousStep }
    let batchSize = min(configuration.batchSize, pass.rows)
    var report = TrainingReport()
    report.placement = pool.placement
    report.chunkRows = pass.chunkRows
    let batches = (pass.rows + batchSize - 1) / batchSize
    guard configuration.start.batch < batches else {
        throw .invalidConfiguration("the start position's minibatch \(configuration.start.batch) is past the epoch's last, "
            + "\(batches - 1): a position from another data set or batch size?")
    }
    var lastFinite = parameters.values.array
    let start = configuration.start
    let penalty = configuration.penalty.flatMap { $0.isZero ? nil : $0 }
    var converging = configuration.convergence == nil ? nil : start.convergence
    var stopping = configuration.earlyStopping == nil ? nil : start.earlyStopping
    if let state = stopping, state.bestWeights.count != parameters.count {
        throw .invalidConfiguration("the start position's early-stopping weights have \(state.bestWeights.count) values, the model \(parameters.count)")
    }
    // A checkpoint written as early stopping ended the run: the run is over, with its best weights.
    let stoppedAlready = stopping.map { $0.epochsWithoutImprovement >= configuration.earlyStopping!.patience } ?? false
    if stoppedAlready {
        parameters.values.assign(stopping!.bestWeights.map { Scalar($0) })
        report.stopReason = .earlyStopped
    }
    // Likewise a checkpoint written as the objective converged.
    if !stoppedAlready, let state = converging, state.epochsWithoutImprovement >= configuration.convergence!.patience {
        report.stopReason = .converged
    }
    let finishedAlready = stoppedAlready || report.stopReason == .converged
    training: for epoch in start.epoch...max(configuration.epochs, start.epoch) where epoch <= configuration.epochs && !finishedAlready {
        let epochStart = ContinuousClock.now
        let learningRate = optimizer.learningRate(group: 0)
        let order = batchOrder(batches, epoch: epoch, seed: configuration.seed, shuffle: configuration.shuffle)
        var lossSum = 0.0
        var rowsThisEpoch = 0, epochBytes = 0
        for (position, batch) in order.enumerated() where epoch > start.epoch || position >= start.batch {
            if cancellation?.isCancelled == true {
                report.stopReason = .cancelled
                try save(TrainingPosition(epoch: epoch, batch: position, earlyStopping: stopping, convergence: converging))
                break training
            }
            let rows = (batch * batchSize)..<min((batch + 1) * batchSize, pass.rows)
            var closureSeconds = 0.0
            let stepStart = ContinuousClock.now
            let loss = optimizer.step {
                let start = ContinuousClock.now
                defer { closureSeconds += seconds(ContinuousClock.now - start) }
                let loss = pass.gradient(rows, false)
                return penalty.map { loss + addPenalty($0, to: parameters) } ?? loss
            }
            report.stepSeconds += seconds(ContinuousClock.now - stepStart) - closureSeconds
            let current = parameters.values.array
            guard loss.isFinite, allFinite(current) else {
                parameters.values.assign(lastFinite)
                finish(&report, pass, pool)
                throw .diverged(epoch: epoch, batch: position + 1, loss: loss.isFinite ? .nan : loss, report: report)
            }
            lastFinite = current
            lossSum += loss * Double(rows.count)
            rowsThisEpoch += rows.count
            epochBytes += pass.bytes(rows)
            onBatch?(BatchProgress(position: TrainingPosition(epoch: epoch, batch: position), batchesPerEpoch: batches, loss: loss,
                                   rowsDone: report.rowsProcessed + rowsThisEpoch))
        }
        let trainingTime = seconds(ContinuousClock.now - epochStart)
        report.trainingSeconds += trainingTime
        report.rowsProcessed += rowsThisEpoch
        report.bytesRead += epochBytes
        guard rowsThisEpoch > 0 else { break }
        let metrics = pass.validate?()
        let epochReport = EpochReport(epoch: epoch, trainingLoss: lossSum / Double(rowsThisEpoch), validation: metrics,
                                      learningRate: learningRate, seconds: trainingTime,
                                      rowsPerSecond: Double(rowsThisEpoch) / max(trainingTime, 1e-9))
        // (A copy of the weights only on a cluster: one process has no replicas.)
        if configuration.cluster.size > 1, !configuration.cluster.replicasAgree(parameters.values.array) {
            throw .replicasDiffer(epoch: epoch)
        }
        report.epochs.append(epochReport)
        progress?(epochReport)
        if report.stopReason == .cancelled { break }

        let monitored = metrics?.loss ?? epochReport.trainingLoss
        switch schedule {
        case .stepping(let scheduler)?: try? scheduler.step()
        case .plateau(let plateau)?: plateau.step(metric: monitored)
        case nil: break
        }
        var stopNow = false, converged = false
        if let test = configuration.convergence {
            let loss = epochReport.trainingLoss
            if let state = converging, !(loss < state.bestLoss - test.tolerance * max(abs(state.bestLoss), 1)) {
                converging!.epochsWithoutImprovement += 1
                converging!.bestLoss = min(state.bestLoss, loss)
                converged = converging!.epochsWithoutImprovement >= test.patience
            } else {
                converging = ConvergenceState(bestLoss: loss, epochsWithoutImprovement: 0)
            }
        }
        if let early = configuration.earlyStopping {
            if let state = stopping, !(monitored < state.bestLoss - early.minDelta) {
                stopping!.epochsWithoutImprovement += 1
                stopNow = stopping!.epochsWithoutImprovement >= early.patience
            } else {
                stopping = EarlyStoppingState(bestLoss: monitored, bestWeights: parameters.values.array.map { Double($0) }, epochsWithoutImprovement: 0)
            }
        }
        // The checkpoint holds the weights as they are (the optimizer's state belongs to them) and
        // early stopping's state, so that a resumed run takes the same decisions.
        try save(TrainingPosition(epoch: epoch + 1, batch: 0, earlyStopping: stopping, convergence: converging))
        if stopNow {
            parameters.values.assign(stopping!.bestWeights.map { Scalar($0) })
            report.stopReason = .earlyStopped
            break training
        }
        if converged {
            report.stopReason = .converged
            break training
        }
    }
    if let validate = pass.validate {
        report.finalMetrics = validate()
    } else if configuration.scoreTrainingData {
        report.finalMetrics = pass.scoreTraining()
    }
    report.trueWeightDistance = distanceToTruth(parameters, pass.trueWeights)
    finish(&report, pass, pool)
    return report
}

private func finish<Scalar>(_ report: inout TrainingReport, _ pass: TrainingPass<Scalar>, _ pool: WorkerPool) {
    (report.computeSeconds, report.reduceSeconds) = pass.times()
    report.placement = pool.placement
}
