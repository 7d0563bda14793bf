import Datasets
import VectorMath
import Models
import Optim

/// The same fit on sparse rows (CSR): the kernels read only each row's non-zeros, and a minibatch's
/// gradient costs what its rows touch (see `SparseGradientEngine`); the weights are bitwise the
/// same for any number of workers. The gradient is dense and zero at the columns no row of the
/// minibatch touched, as torch's `nn.Linear` gives on sparse input, so every optimizer applies.
public func fit<M: SparseModel, Scalar: TrainingScalar>(
    _ model: M, parameters: Parameters<Scalar>, data: SparseDataset<Scalar>, validation: SparseDataset<Scalar>? = nil,
    optimizer: any Optimizer<Scalar>, schedule: EpochSchedule? = nil, configuration: FitConfiguration = .init(),
    cancellation: CancellationFlag? = nil, progress: ((EpochReport) -> Void)? = nil,
    onBatch: ((BatchProgress) -> Void)? = nil, checkpoint: ((TrainingPosition) throws -> Void)? = nil
) throws(TrainingError) -> TrainingReport {
    try checkFit(model, parameters: parameters, configuration: configuration)
    guard configuration.cluster.size == 1 else {
        throw .invalidConfiguration("sparse rows train in one process for now (their reduction merges sparse partials); run without mpirun")
    }
    try model.check(data)
    if let validation { try model.check(validation) }
    let pool = WorkerPool(workers: configuration.resolvedWorkers, bind: configuration.bind, units: configuration.processingUnits)
    defer { pool.release() }
    let batchSize = min(configuration.batchSize, data.rows)
    let chunkRows = configuration.chunkRows ?? sparseChunkRows(model, data: data, batchRows: batchSize)
    let engine = SparseGradientEngine<M, Scalar>(model: model, pool: pool, chunkRows: min(chunkRows, batchSize), maxRows: batchSize)
    let clearing = !(configuration.penalty?.isZero ?? true)
    // Every step on every row (full-batch L-BFGS): the gradient by columns, nothing to merge.
    let full = batchSize == data.rows ? columnGradient(model, pool: pool, chunkRows: engine.chunkRows, data: data) : nil
    // A second-order optimizer gets its Hessian-vector products from the same columns.
    let newton = optimizer as? any SecondOrderOptimizer<Scalar>
    let previousHessian = newton?.hessian
    if let newton {
        guard let full, full.hasHessian, (configuration.penalty?.l1 ?? 0) == 0 else {
            throw .invalidConfiguration("newton takes linear regression with one output or logistic regression, on all the training rows "
                                        + "at once (the batch size) and without an l1 penalty")
        }
        newton.hessian = FullBatchHessian(full, penalty: configuration.penalty)
    }
    defer { newton?.hessian = previousHessian }
    let pass = TrainingPass<Scalar>(
        rows: data.rows,
        bytes: { rows in
            (data.entryStart(rows.upperBound) - data.entryStart(rows.lowerBound)) * (4 + MemoryLayout<Scalar>.stride)
                + rows.count * (8 + data.targetsPerRow * MemoryLayout<Scalar>.stride)
        },
        trueWeights: data.trueWeights, chunkRows: engine.chunkRows,
        gradient: { rows, _ in
            if let full, rows == 0..<data.rows { return full.gradient(of: parameters, clearingAll: clearing) }
            return engine.gradient(of: parameters, data: data, rows: rows, clearingAll: clearing)
        },
        validate: validation.map { validation in { evaluate(model, parameters: parameters, data: validation, pool: pool, chunkRows: chunkRows) } },
        scoreTraining: { evaluate(model, parameters: parameters, data: data, pool: pool, chunkRows: chunkRows) },
        times: { (engine.computeSeconds + (full?.computeSeconds ?? 0), engine.reduceSeconds + (full?.reduceSeconds ?? 0)) })
    return try train(pass, parameters: parameters, optimizer: optimizer, schedule: schedule, configuration: configuration,
                     cancellation: cancellation, progress: progress, onBatch: onBatch, checkpoint: checkpoint, pool: pool)
}

/// Rows per chunk on sparse data: the dense rule with each row's work its mean non-zeros times the
/// weight's rows (a function of the data and minibatch only, never of the workers).
func sparseChunkRows<M: SparseModel, Scalar>(_ model: M, data: SparseDataset<Scalar>, batchRows: Int) -> Int {
    let perRow = max(1, data.nonZeros / data.rows) * model.sparseWidth + (model.parameterCount - model.sparseWidth * model.inputFeatures)
    return ShardPlan.automaticChunkRows(parameterCount: perRow, batchRows: batchRows)
}

/// ``score(_:parameters:data:workers:bind:)`` on sparse rows.
public func score<M: SparseModel, Scalar: TrainingScalar>(_ model: M, parameters: Parameters<Scalar>, data: SparseDataset<Scalar>,
                                                         workers: Int? = nil, bind: Bool = true) throws(TrainingError) -> Metrics {
    try model.check(data)
    let pool = WorkerPool(workers: workers ?? defaultWorkerCount(), bind: bind)
    defer { pool.release() }
    return evaluate(model, parameters: parameters, data: data, pool: pool,
                    chunkRows: sparseChunkRows(model, data: data, batchRows: data.rows))
}

/// The raw outputs of `model` for every sparse row of `data`, `outputsPerRow` per row.
public func predict<M: SparseModel, Scalar: TrainingScalar>(_ model: M, parameters: Parameters<Scalar>, data: SparseDataset<Scalar>) -> [Scalar] {
    var outputs = [Scalar](repeating: 0, count: data.rows * model.outputsPerRow)
    parameters.values.withUnsafeBufferPointer { theta in
        outputs.withUnsafeMutableBufferPointer { out in
            model.predict(parameters: theta.baseAddress!,
                          rows: SparseRowBlock(offsets: data.offsets.base + data.offsetStart, columns: data.columns.base, values: data.values.base,
                                               slots: nil, y: data.y.base, yStride: data.targetsPerRow, count: data.rows),
                          outputs: out.baseAddress!)
        }
    }
    return outputs
}
