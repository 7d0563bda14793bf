import Datasets
import Models
import Optim
import RealModule

/// How well a model fits a data set; the metrics that fit the model's loss are set.
public struct Metrics: Sendable, Equatable, Codable {
    /// The training loss's mean over the data (MSE, L1, Huber, log-loss or cross-entropy).
    public var loss: Double
    /// Mean squared error over every output (regression).
    public var mse: Double?
    /// Coefficient of determination, 1 − SSE/SST (regression).
    public var r2: Double?
    /// Share of rows classified correctly (classification).
    public var accuracy: Double?
    /// Mean negative log-likelihood of the targets (classification).
    public var logLoss: Double?
}

/// Predicts every row of `data` on the workers, then scores the predictions in row order.
func evaluate<M: Model>(_ model: M, parameters: Parameters<Float>, data: Dataset, pool: WorkerPool, chunkRows: Int) -> Metrics {
    let k = model.outputsPerRow, d = data.features, t = data.targetsPerRow
    let outputs = SharedBuffer<Float>.allocate(count: data.rows * k, repeating: 0)
    defer { outputs.deallocate() }
    let theta = SharedBuffer(parameters.values.withUnsafeMutableBufferPointer { $0.baseAddress! }, count: parameters.count)
    let x = SharedBuffer(data.x.base, count: data.x.count)
    let plan = ShardPlan(rows: 0..<data.rows, chunkRows: chunkRows)
    let workers = pool.workers
    pool.run { w in
        for c in plan.chunks(worker: w, of: workers) {
            let rows = plan.chunk(c)
            model.predict(parameters: theta.base, x: x.base + rows.lowerBound * d, rows: rows.count,
                          outputs: outputs.base + rows.lowerBound * k)
        }
    }
    let y = data.y.base
    let n = Double(data.rows)
    switch model.loss {
    case .mse, .l1, .huber:
        var squared = 0.0, absolute = 0.0, huber = 0.0
        var means = [Double](repeating: 0, count: k)
        for row in 0..<data.rows { for o in 0..<k { means[o] += Double(y[row * t + o]) } }
        for o in 0..<k { means[o] /= n }
        var total = 0.0
        for row in 0..<data.rows {
            for o in 0..<k {
                let target = Double(y[row * t + o])
                let r = Double(outputs[row * k + o]) - target
                squared += r * r
                absolute += abs(r)
                huber += abs(r) < 1 ? 0.5 * r * r : abs(r) - 0.5
                total += (target - means[o]) * (target - means[o])
            }
        }
        let elements = n * Double(k)
        let loss = model.loss == .mse ? squared : model.loss == .l1 ? absolute : huber
        return Metrics(loss: loss / elements, mse: squared / elements, r2: total > 0 ? 1 - squared / total : nil)
    case .bceWithLogits:
        var correct = 0, logLoss = 0.0
        for row in 0..<data.rows {
            let z = Double(outputs[row]), target = Double(y[row])
            logLoss += max(z, 0) - z * target + Double.log(onePlus: Double.exp(-abs(z)))
            if (z > 0) == (target == 1) { correct += 1 }
        }
        return Metrics(loss: logLoss / n, accuracy: Double(correct) / n, logLoss: logLoss / n)
    case .crossEntropy:
        var correct = 0, logLoss = 0.0
        for row in 0..<data.rows {
            let logits = (0..<k).map { Double(outputs[row * k + $0]) }
            let peak = logits.max()!
            let logSum = peak + Double.log(logits.reduce(0) { $0 + Double.exp($1 - peak) })
            let target = Int(y[row])
            logLoss += logSum - logits[target]
            if logits.firstIndex(of: peak) == target { correct += 1 }
        }
        return Metrics(loss: logLoss / n, accuracy: Double(correct) / n, logLoss: logLoss / n)
    }
}

/// ‖θ − θ*‖ / ‖θ*‖ over the tensors the model and the true model share by name and size; nil
/// when the data's true weights are unknown or do not match the model.
func distanceToTruth(_ parameters: Parameters<Float>, _ truth: [String: [Float]]?) -> Double? {
    guard let truth else { return nil }
    var difference = 0.0, norm = 0.0, matched = 0
    for (index, tensor) in parameters.tensors.enumerated() {
        guard let target = truth[tensor.name], target.count == tensor.count else { continue }
        for (a, b) in zip(parameters.value(at: index), target) {
            difference += Double(a - b) * Double(a - b)
            norm += Double(b) * Double(b)
        }
        matched += 1
    }
    guard matched == parameters.tensors.count, norm > 0 else { return nil }
    return (difference / norm).squareRoot()
}
