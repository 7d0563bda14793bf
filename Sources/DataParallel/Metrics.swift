import Datasets
import VectorMath
import Models
import Optim

/// How well a model fits a data set; the metrics that fit the model's loss are set.
public struct Metrics: Sendable, Equatable, Codable {
    /// The training loss's mean over the data (MSE, L1, Huber, log-loss or cross-entropy).
    public var loss: Double
    /// Mean squared error over every output (regression).
    public var mse: Double?
    /// Coefficient of determination, 1 − SSE/SST, over all outputs pooled (regression).
    public var r2: Double?
    /// Share of rows classified correctly (classification).
    public var accuracy: Double?
    /// Mean negative log-likelihood of the targets (classification).
    public var logLoss: Double?
}

/// Scores `data`: each worker predicts its chunks and sums the chunks' statistics; the chunk sums
/// are added in the fixed tree order, so the metrics are the same for any worker count.
///
/// On a cluster, each rank scores its run of the chunks and the chunks' statistics are gathered,
/// so every rank gets the same metrics (and early stopping takes the same decision everywhere).
func evaluate<M: Model, Scalar: TrainingScalar>(_ model: M, parameters: Parameters<Scalar>, data: Dataset<Scalar>, pool: WorkerPool,
                                                chunkRows: Int, cluster: Cluster = .single) -> Metrics {
    let theta = SharedBuffer(parameters.values.withUnsafeMutableBufferPointer { $0.baseAddress! }, count: parameters.count)
    let x = SharedBuffer(data.x.base, count: data.x.count), xStride = data.rowStride
    return evaluate(model, rows: data.rows, y: data.y, targetStride: data.targetStride, pool: pool, chunkRows: chunkRows,
                    cluster: cluster) { rows, out in
        let block = RowBlock(x: x.base + rows.lowerBound * xStride, xStride: xStride, y: x.base, yStride: 0, count: rows.count)
        model.predict(parameters: theta.base, rows: block, outputs: out)
    }
}

/// ``evaluate(_:parameters:data:pool:chunkRows:)`` on sparse rows.
func evaluate<M: SparseModel, Scalar: TrainingScalar>(_ model: M, parameters: Parameters<Scalar>, data: SparseDataset<Scalar>,
                                                      pool: WorkerPool, chunkRows: Int) -> Metrics {
    let theta = SharedBuffer(parameters.values.withUnsafeMutableBufferPointer { $0.baseAddress! }, count: parameters.count)
    let offsets = SharedBuffer(data.offsets.base + data.offsetStart, count: data.rows + 1)
    let columns = SharedBuffer(data.columns.base, count: data.columns.count), values = SharedBuffer(data.values.base, count: data.values.count)
    return evaluate(model, rows: data.rows, y: data.y, targetStride: data.targetsPerRow, pool: pool, chunkRows: chunkRows,
                    cluster: .single) { rows, out in
        let block = SparseRowBlock(offsets: offsets.base + rows.lowerBound, columns: columns.base, values: values.base, slots: nil,
                                   y: values.base, yStride: 0, count: rows.count)
        model.predict(parameters: theta.base, rows: block, outputs: out)
    }
}

/// The metrics of the rows' outputs, which `predictRows(rows, out)` writes for a chunk of rows.
private func evaluate<M: Model, Scalar: TrainingScalar>(_ model: M, rows: Int, y storage: ScalarStorage<Scalar>, targetStride t: Int,
                                                        pool: WorkerPool, chunkRows: Int, cluster: Cluster,
                                                        predictRows: @escaping @Sendable (Range<Int>, UnsafeMutablePointer<Scalar>) -> Void) -> Metrics {
    let k = model.outputsPerRow
    let plan = ShardPlan(rows: 0..<rows, chunkRows: chunkRows)
    let chunks = plan.chunkCount
    // Per chunk: squared, absolute and Huber residual sums, Σy, Σy² (regression); or correct
    // count and log-loss sum (classification).
    let fields = 5
    let partials = SharedBuffer<Double>.allocate(count: chunks * fields, repeating: 0)
    defer { partials.deallocate() }
    let y = SharedBuffer(storage.base, count: storage.count)
    let workers = pool.workers, loss = model.loss
    let local = TreeSplit.chunks(rank: cluster.rank, of: cluster.size, chunkCount: chunks)
    pool.run { w in
        var outputs = [Scalar](repeating: 0, count: chunkRows * k)
        for c in plan.chunks(worker: w, of: workers, within: local) {
            let rows = plan.chunk(c)
            outputs.withUnsafeMutableBufferPointer { predictRows(rows, $0.baseAddress!) }
            var sums = (0.0, 0.0, 0.0, 0.0, 0.0)
            if loss.isRegression {
                sums = outputs.withUnsafeBufferPointer { regressionSums($0.baseAddress!, y.base, rows: rows, outputs: k, targetStride: t) }
            } else {
                let (correct, lossSum) = outputs.withUnsafeBufferPointer {
                    loss.classificationStatistics(logits: $0.baseAddress!, classes: k, targets: y.base + rows.lowerBound * t,
                                                  targetStride: t, count: rows.count)
                }
                sums.0 = Double(correct)
                sums.1 = lossSum
            }
            let slot = c * fields
            (partials[slot], partials[slot + 1], partials[slot + 2], partials[slot + 3], partials[slot + 4]) = sums
        }
    }
    if cluster.size > 1 {
        let mine = Array(UnsafeBufferPointer(start: partials.base + local.lowerBound * fields, count: local.count * fields))
        let counts = (0..<cluster.size).map { TreeSplit.chunks(rank: $0, of: cluster.size, chunkCount: chunks).count * fields }
        let all = cluster.gather(mine, counts: counts)
        for (i, value) in all.enumerated() { partials[i] = value }
    }
    // Tree-reduce each field over the chunks (fields are interleaved: gather them first).
    var totals = [Double](repeating: 0, count: fields)
    let column = SharedBuffer<Double>.allocate(count: chunks, repeating: 0)
    defer { column.deallocate() }
    for f in 0..<fields {
        for c in 0..<chunks { column[c] = partials[c * fields + f] }
        totals[f] = reduceTree(column, count: chunks)
    }
    let n = Double(rows)
    switch loss {
    case .mse, .l1, .huber:
        let elements = n * Double(k)
        let squared = totals[0]
        // SST = Σy² − (Σy)²/n, per output summed; with one output per row this is exact in Double
        // for any realistic data, and with several it is the sum over outputs' pooled variance.
        let totalVariance = totals[4] - totals[3] * totals[3] / elements
        let value = loss == .mse ? squared : loss == .l1 ? totals[1] : totals[2]
        return Metrics(loss: value / elements, mse: squared / elements, r2: totalVariance > 0 ? 1 - squared / totalVariance : nil)
    case .bceWithLogits, .crossEntropy:
        return Metrics(loss: totals[1] / n, accuracy: totals[0] / n, logLoss: totals[1] / n)
    }
}

/// ‖θ − θ*‖ / ‖θ*‖ over the tensors the model and the true model share by name and size; nil
/// when the data's true weights are unknown or do not match the model.
/// Squared, absolute and Huber residual sums, Σy and Σy² over `rows` (`outputs` predictions per
/// row, row after row; targets `targetStride` apart), in Double, in row order.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
func regressionSums<Scalar: TrainingScalar>(_ predictions: UnsafePointer<Scalar>, _ y: UnsafeMutablePointer<Scalar>, rows: Range<Int>,
                                            outputs k: Int, targetStride t: Int) -> (Double, Double, Double, Double, Double) {
    var sums = (0.0, 0.0, 0.0, 0.0, 0.0)
    for (i, row) in rows.enumerated() {
        for o in 0..<k {
            let target = Double(y[row * t + o]), r = Double(predictions[i * k + o]) - target
            sums.0 += r * r
            sums.1 += abs(r)
            sums.2 += abs(r) < 1 ? 0.5 * r * r : abs(r) - 0.5
            sums.3 += target
            sums.4 += target * target
        }
    }
    return sums
}

func distanceToTruth<Scalar: TrainingScalar>(_ parameters: Parameters<Scalar>, _ truth: [String: [Float]]?) -> Double? {
    guard let truth else { return nil }
    var difference = 0.0, norm = 0.0, matched = 0
    for (index, tensor) in parameters.tensors.enumerated() {
        guard let target = truth[tensor.name], target.count == tensor.count else { continue }
        for (a, b) in zip(parameters.value(at: index), target) {
            let gap = Double(a) - Double(b)
            difference += gap * gap
            norm += Double(b) * Double(b)
        }
        matched += 1
    }
    guard matched == parameters.tensors.count, norm > 0 else { return nil }
    return (difference / norm).squareRoot()
}
