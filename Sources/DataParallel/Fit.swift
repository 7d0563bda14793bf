import Datasets
import VectorMath
import Models
import Optim
import Synchronization
import Topology

/// How to train.
public struct FitConfiguration: Sendable, Equatable {
    /// Rows per minibatch (one optimizer step each).
    public var batchSize: Int
    /// Passes over the training data.
    public var epochs: Int
    /// Workers; nil means every allowed core (taskset and cgroup cpusets count). More workers than cores is
    /// allowed: they share cores, and the report says so.
    public var workers: Int?
    /// Pin workers to cores (hwloc); false lets the scheduler place them.
    public var bind: Bool
    /// Seed of the minibatch order.
    public var seed: UInt64
    /// Visit minibatches in a seeded random order each epoch (rows within a minibatch keep their
    /// order, so reads stream).
    public var shuffle: Bool
    /// Rows per partial gradient. Fixed for a given model and minibatch, whatever the worker
    /// count: this is what makes results identical for any number of workers. nil (the default)
    /// picks one from the model's size and the batch size: a power of two from 128 to 4096 rows
    /// that gives a minibatch at least 64 chunks where it can.
    public var chunkRows: Int?
    /// Stop when the validation loss has not improved by `minDelta` for `patience` epochs, and
    /// keep the best weights; nil trains every epoch.
    public var earlyStopping: EarlyStopping?
    /// Without validation data, score the training data once more at the end (one more pass over
    /// it) for the report's final metrics.
    public var scoreTrainingData: Bool
    /// Penalties on the weights that are part of the objective every optimizer sees (LBFGS's
    /// closure included); nil for none.
    public var penalty: Penalty?
    /// Stop when the training objective stops improving (a tolerance-based stop, for any
    /// optimizer); nil trains every epoch.
    public var convergence: Convergence?
    /// Where training starts: epoch 1, minibatch 0, or the position a checkpoint recorded. The
    /// minibatch order depends only on the seed and the epoch, so resuming continues the very
    /// same trajectory.
    public var start = TrainingPosition(epoch: 1, batch: 0)
    /// The processes that train together: one (the default), or the ranks of an MPI job
    /// (`MPICluster`), each computing its share of every minibatch on its own workers. The
    /// weights are bitwise the same for any number of ranks and workers.
    public var cluster = Cluster.single
    /// The processing units (OS indices) the workers may use: a rank's share of a host that
    /// several ranks share (`MPICommunicator.hostShare`); nil for every allowed one, empty for
    /// one unpinned worker.
    public var processingUnits: [Int]?

    /// When to stop early.
    public struct EarlyStopping: Sendable, Equatable {
        public var patience: Int
        public var minDelta: Double
        public init(patience: Int = 3, minDelta: Double = 0) {
            self.patience = patience
            self.minDelta = minDelta
        }
    }

    /// Penalties added to the mean loss: `l2 / 2 · ‖w‖² + l1 · ‖w‖₁` over the weight tensors
    /// (those named `weight` or `N.weight`), never the biases — scikit-learn's `alpha` and
    /// `l1_ratio`, with `l2 = 1 / (C · n)` for its `LogisticRegression(C=...)`. The gradient
    /// gains `l2 · w + l1 · sign(w)` (sign 0 at 0: a subgradient), added after the reduction, so
    /// results stay the same for any worker count.
    ///
    /// `featureScales`, when given, weigh the first layer's weight columns: column j's terms
    /// become `l2 / 2 · (w / s_j)²` and `l1 · |w / s_j|`. Training on features divided by s_j
    /// (standardized) with these scales minimizes exactly the objective of the raw features:
    /// the standardization then changes how fast the optimizer gets there, not where.
    public struct Penalty: Sendable, Equatable, Codable {
        public var l2: Double
        public var l1: Double
        public var featureScales: [Float]?
        public init(l2: Double = 0, l1: Double = 0, featureScales: [Float]? = nil) {
            self.l2 = l2
            self.l1 = l1
            self.featureScales = featureScales
        }
        public var isZero: Bool { l2 == 0 && l1 == 0 }
    }

    /// When the objective counts as converged: it improved by less than `tolerance` ·
    /// max(|best|, 1) over the best so far for `patience` epochs in a row (scikit-learn's `tol`
    /// and `n_iter_no_change`). The weights are those of the last epoch.
    public struct Convergence: Sendable, Equatable {
        public var tolerance: Double
        public var patience: Int
        public init(tolerance: Double = 1e-4, patience: Int = 5) {
            self.tolerance = tolerance
            self.patience = patience
        }
    }

    public init(batchSize: Int = 4096, epochs: Int = 10, workers: Int? = nil, bind: Bool = true, seed: UInt64 = 0,
                shuffle: Bool = true, chunkRows: Int? = nil, earlyStopping: EarlyStopping? = nil,
                scoreTrainingData: Bool = true, penalty: Penalty? = nil, convergence: Convergence? = nil) {
        self.batchSize = batchSize; self.epochs = epochs; self.workers = workers; self.bind = bind
        self.seed = seed; self.shuffle = shuffle; self.chunkRows = chunkRows; self.earlyStopping = earlyStopping
        self.scoreTrainingData = scoreTrainingData; self.penalty = penalty; self.convergence = convergence
    }

    /// The rows per partial gradient a fit of `model` with minibatches of `batchRows` rows uses:
    /// ``chunkRows``, or the automatic choice, at most the minibatch.
    public func chunkRows<M: Model>(for model: M, batchRows: Int, scalarBytes: Int = 4) -> Int {
        ShardPlan.chunkRows(requested: chunkRows, parameterCount: model.parameterCount, batchRows: batchRows, scalarBytes: scalarBytes)
    }

    /// Checks the settings, throwing a message that names the bad one.
    public func validate() throws(TrainingError) {
        guard batchSize > 0 else { throw .invalidConfiguration("batch size must be at least 1, got \(batchSize)") }
        guard epochs >= 0 else { throw .invalidConfiguration("epochs must be 0 or more, got \(epochs)") }
        if let workers, workers < 1 { throw .invalidConfiguration("workers must be at least 1, got \(workers)") }
        if let chunkRows, chunkRows < 1 { throw .invalidConfiguration("chunk rows must be at least 1, got \(chunkRows)") }
        if let early = earlyStopping, early.patience < 1 {
            throw .invalidConfiguration("early-stopping patience must be at least 1, got \(early.patience)")
        }
        if let penalty, !(penalty.l2 >= 0 && penalty.l2.isFinite && penalty.l1 >= 0 && penalty.l1.isFinite) {
            throw .invalidConfiguration("penalties must be finite and 0 or more, got l2 \(penalty.l2), l1 \(penalty.l1)")
        }
        if let convergence, !(convergence.tolerance >= 0 && convergence.tolerance.isFinite) || convergence.patience < 1 {
            throw .invalidConfiguration("the convergence tolerance must be finite and 0 or more, its patience at least 1")
        }
        guard start.epoch >= 1, start.batch >= 0 else {
            throw .invalidConfiguration("the start position must be at epoch 1 or later, minibatch 0 or later")
        }
    }

    /// The worker count to use: the configured one, or every allowed core within the CPU quota.
    public var resolvedWorkers: Int {
        if let workers { return workers }
        guard let units = processingUnits else { return defaultWorkerCount() }
        return max(1, ((try? MachineTopology.current())?.restricted(to: units).cores.count) ?? 1)
    }
}

/// A place in training: the epoch (from 1) and the minibatch within it (from 0) that come next,
/// and, when the fit stops early, where early stopping stands. A checkpoint that records all of
/// it resumes the very same run.
public struct TrainingPosition: Sendable, Equatable, Codable {
    public var epoch: Int
    public var batch: Int
    /// Early stopping's state at this position; nil when the fit has none (or no epoch ended yet).
    public var earlyStopping: EarlyStoppingState?
    /// The convergence test's state at this position; nil when the fit has none (or no epoch ended yet).
    public var convergence: ConvergenceState?

    public init(epoch: Int, batch: Int, earlyStopping: EarlyStoppingState? = nil, convergence: ConvergenceState? = nil) {
        self.epoch = epoch
        self.batch = batch
        self.earlyStopping = earlyStopping
        self.convergence = convergence
    }
}

/// What the convergence test remembers between epochs: the best training objective so far and
/// the epochs since it last improved by the tolerance.
public struct ConvergenceState: Sendable, Equatable, Codable {
    public var bestLoss: Double
    public var epochsWithoutImprovement: Int

    public init(bestLoss: Double, epochsWithoutImprovement: Int) {
        self.bestLoss = bestLoss
        self.epochsWithoutImprovement = epochsWithoutImprovement
    }
}

/// What early stopping remembers between epochs: the best monitored loss so far, the weights
/// that had it, and the epochs since it last improved.
public struct EarlyStoppingState: Sendable, Equatable, Codable {
    public var bestLoss: Double
    public var bestWeights: [Double]
    public var epochsWithoutImprovement: Int

    public init(bestLoss: Double, bestWeights: [Double], epochsWithoutImprovement: Int) {
        self.bestLoss = bestLoss
        self.bestWeights = bestWeights
        self.epochsWithoutImprovement = epochsWithoutImprovement
    }
}

/// Where a fit is after a minibatch, for progress displays.
public struct BatchProgress: Sendable {
    /// The minibatch just done: its epoch and index in the epoch.
    public var position: TrainingPosition
    /// Minibatches per epoch.
    public var batchesPerEpoch: Int
    /// The minibatch's loss (before its step).
    public var loss: Double
    /// Rows trained on so far in this fit.
    public var rowsDone: Int
}

/// A learning-rate schedule stepped once per epoch.
public enum EpochSchedule {
    /// Any stepping scheduler (StepLR, CosineAnnealingLR, ...).
    case stepping(any Scheduler)
    /// ReduceLROnPlateau, stepped on the validation loss (the training loss without validation).
    case plateau(ReduceLROnPlateau)
}

/// Stops a running fit between minibatches, from any thread.
public final class CancellationFlag: Sendable {
    private let raised = Atomic<Bool>(false)
    public init() {}
    /// Asks the fit to stop after the current step.
    public func cancel() { raised.store(true, ordering: .relaxed) }
    public var isCancelled: Bool { raised.load(ordering: .relaxed) }
}

/// Every allowed core (those of the process's CPU binding and cgroup cpuset, as hwloc reports
/// them), or fewer where the cgroup's CPU quota is smaller (`Topology.CPUQuota`).
public func defaultWorkerCount() -> Int {
    CPUQuota.workers(within: (try? MachineTopology.current().cores.count) ?? 1)
}

extension Model {
    /// The model's parameters as an optimizer takes them, initialized as torch's `nn.Linear` would.
    public func makeParameters(seed: UInt64 = 0) -> Parameters<Float> { makeParameters(seed: seed, as: Float.self) }

    /// ``makeParameters(seed:)`` in `Float` or `Double` (the same initial values, widened).
    public func makeParameters<Scalar: TrainingScalar>(seed: UInt64 = 0, as _: Scalar.Type) -> Parameters<Scalar> {
        let parameters = Parameters<Scalar>(shapes: parameterShapes)
        parameters.values.assign(initialParameters(seed: seed).map { Scalar($0) })
        return parameters
    }

    /// Throws, naming the problem, when `data` cannot train this model.
    public func check<Scalar>(_ data: Dataset<Scalar>) throws(TrainingError) {
        try checkShape(data) { () throws(DatasetError) in try data.validateFinite() }
    }

    /// Throws, naming the problem, when sparse `data` cannot train this model.
    public func check<Scalar>(_ data: SparseDataset<Scalar>) throws(TrainingError) {
        try checkShape(data) { () throws(DatasetError) in try data.validateFinite() }
    }

    /// The width and the targets per row, then `finite`, then the targets' values.
    private func checkShape<Data: TargetRows>(_ data: Data, finite: () throws(DatasetError) -> Void) throws(TrainingError) {
        guard data.features == inputFeatures else {
            throw .incompatibleData("\(data.name): rows have \(data.features) features, the model takes \(inputFeatures)")
        }
        guard data.targetsPerRow == targetsPerRow else {
            throw .incompatibleData("\(data.name): rows have \(data.targetsPerRow) target(s), the model needs \(targetsPerRow)")
        }
        do { try finite() } catch { throw .incompatibleData(error.description) }
        try checkTargets(data.name, rows: data.rows, target: data.target)
    }

    private func checkTargets<Scalar: BinaryFloatingPoint>(_ name: String, rows: Int, target: (Int, Int) -> Scalar) throws(TrainingError) {
        guard loss == .bceWithLogits || loss == .crossEntropy else { return }
        for row in 0..<rows {
            if let expected = targetProblem(target(row, 0)) {
                throw .incompatibleData(DatasetError.invalidTarget(name, row: row, value: "\(target(row, 0))", expected: expected).description)
            }
        }
    }
}

/// Fits `model` to `data`, data-parallel on every allowed core, one optimizer step per minibatch.
///
/// Each minibatch is cut into chunks of ``FitConfiguration/chunkRows`` rows; the workers compute
/// the chunks' partial gradients with the model's fused kernel, the partials are summed in a
/// fixed tree order into `parameters.grad`, and the optimizer steps once (LBFGS re-evaluates its
/// closure as further full passes over the minibatch). The weights after training are bitwise the
/// same for any number of workers and from run to run.
///
/// ```swift
/// let data = try SyntheticRegression(task: .linear, rows: 1 << 20, features: 32).generate()
/// let model = LinearRegression(features: 32)
/// let parameters = model.makeParameters(seed: 1)
/// let report = try fit(model, parameters: parameters, data: data,
///                      optimizer: Adam([parameters], lr: 0.01),
///                      configuration: FitConfiguration(batchSize: 65_536, epochs: 5))
/// print(report.epochs.last!.trainingLoss, report.rowsPerSecond)
/// ```
///
/// - Parameters:
///   - model: the model: its parameter layout and its fused kernel.
///   - parameters: the model's parameters (`Model.makeParameters(seed:)`), trained in place.
///   - data: the training rows.
///   - validation: data scored after each epoch (and used by early stopping and plateau schedules).
///   - optimizer: any optimizer of `Optim` over `parameters`.
///   - schedule: a learning-rate schedule stepped after each epoch.
///   - progress: called after each epoch, on the calling thread.
///   - onBatch: called after each minibatch with its position (a progress bar's hook).
///   - checkpoint: called at the end of each epoch, and when cancelled, with the position to
///     resume from; save the parameters, optimizer and schedule state there.
///   - cancellation: raise it to stop between minibatches.
///   - configuration: batch size, epochs, workers, seed, stopping rules, penalty, start position.
/// - Throws: ``TrainingError`` for a bad configuration or data that does not fit the model (before
///   any step), or when the loss diverges (the parameters then hold the last finite weights).
public func fit<M: Model, Scalar: TrainingScalar>(
    _ model: M, parameters: Parameters<Scalar>, data: Dataset<Scalar>, validation: Dataset<Scalar>? = nil,
    optimizer: any Optimizer<Scalar>, schedule: EpochSchedule? = nil, configuration: FitConfiguration = .init(),
    cancellation: CancellationFlag? = nil, progress: ((EpochReport) -> Void)? = nil,
    onBatch: ((BatchProgress) -> Void)? = nil, checkpoint: ((TrainingPosition) throws -> Void)? = nil
) throws(TrainingError) -> TrainingReport {
    try checkFit(model, parameters: parameters, configuration: configuration)
    let cluster = configuration.cluster
    try cluster.agree { () throws(TrainingError) in
        try model.check(data)
        if let validation { try model.check(validation) }
    }
    if optimizer is any SecondOrderOptimizer<Scalar> {
        throw .invalidConfiguration("newton takes sparse rows for now (its Hessian-vector products are the sparse path's: "
                                    + "optim train --sparse, a SparseDataset in the library); lbfgs fits dense rows")
    }
    let pool = WorkerPool(workers: configuration.resolvedWorkers, bind: configuration.bind, units: configuration.processingUnits)
    defer { pool.release() }
    let batchSize = min(configuration.batchSize, data.rows)
    let engine = GradientEngine<M, Scalar>(model: model, pool: pool,
                                          chunkRows: configuration.chunkRows(for: model, batchRows: batchSize, scalarBytes: MemoryLayout<Scalar>.stride),
                                          maxRows: batchSize, cluster: cluster)
    // On a cluster a stop request travels in the next step's gather: every rank stops at the same minibatch.
    let stop = cluster.size > 1 ? CancellationFlag() : cancellation
    engine.stopRequests = cancellation
    engine.agreedStop = stop
    let chunkRows = engine.chunkRows
    let pass = TrainingPass<Scalar>(
        rows: data.rows, bytes: { $0.count * (data.features + data.targetsPerRow) * MemoryLayout<Scalar>.stride },
        trueWeights: data.trueWeights, chunkRows: chunkRows,
        gradient: { rows, _ in engine.gradient(of: parameters, data: data, rows: rows) },
        validate: validation.map { validation in
            { evaluate(model, parameters: parameters, data: validation, pool: pool, chunkRows: chunkRows, cluster: cluster) }
        },
        scoreTraining: { evaluate(model, parameters: parameters, data: data, pool: pool, chunkRows: chunkRows, cluster: cluster) },
        times: { (engine.computeSeconds, engine.reduceSeconds) })
    return try train(pass, parameters: parameters, optimizer: optimizer, schedule: schedule, configuration: configuration,
                     cancellation: stop, progress: progress, onBatch: onBatch, checkpoint: checkpoint, pool: pool)
}

/// Scores `parameters` of `model` on `data` (data-parallel, deterministic): the loss and the
/// metrics that fit it (MSE and R², or accuracy and log-loss). On a cluster, each rank scores its
/// share of the chunks and every rank gets the same metrics.
public func score<M: Model, Scalar: TrainingScalar>(_ model: M, parameters: Parameters<Scalar>, data: Dataset<Scalar>, workers: Int? = nil,
                                                   bind: Bool = true, cluster: Cluster = .single) throws(TrainingError) -> Metrics {
    try cluster.agree { () throws(TrainingError) in try model.check(data) }
    let pool = WorkerPool(workers: workers ?? defaultWorkerCount(), bind: bind)
    defer { pool.release() }
    return evaluate(model, parameters: parameters, data: data, pool: pool,
                    chunkRows: ShardPlan.automaticChunkRows(parameterCount: model.parameterCount, batchRows: data.rows,
                                                            scalarBytes: MemoryLayout<Scalar>.stride), cluster: cluster)
}

/// The raw outputs (predictions, or logits) of `model` for every row of `data`, `outputsPerRow` per
/// row. On a cluster, each rank computes a block of rows (starting at a multiple of eight rows, so
/// that every row is computed in the same lane as in one process) and every rank gets them all.
public func predict<M: Model, Scalar: TrainingScalar>(_ model: M, parameters: Parameters<Scalar>, data: Dataset<Scalar>,
                                                     cluster: Cluster = .single) -> [Scalar] {
    let groups = (data.rows + 7) / 8
    func block(_ rank: Int) -> Range<Int> {
        min(data.rows, rank * groups / cluster.size * 8)..<min(data.rows, (rank + 1) * groups / cluster.size * 8)
    }
    let rows = block(cluster.rank), k = model.outputsPerRow
    var outputs = [Scalar](repeating: 0, count: rows.count * k)
    if !rows.isEmpty {
        parameters.values.withUnsafeBufferPointer { theta in
            outputs.withUnsafeMutableBufferPointer { out in
                model.predict(parameters: theta.baseAddress!,
                              rows: RowBlock(x: data.x.base + rows.lowerBound * data.rowStride, xStride: data.rowStride,
                                             y: data.y.base + rows.lowerBound * data.targetStride, yStride: data.targetStride, count: rows.count),
                              outputs: out.baseAddress!)
            }
        }
    }
    guard cluster.size > 1 else { return outputs }
    return cluster.gather(outputs, counts: (0..<cluster.size).map { block($0).count * k })
}
