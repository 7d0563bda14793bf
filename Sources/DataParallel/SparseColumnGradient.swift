import Datasets
import Models
import Optim

/// The gradient over every training row at once (full-batch L-BFGS, a minibatch of all rows) for
/// models whose outputs are z = Wx + b, computed by columns:
///
/// 1. Rows, in the fit's fixed chunks, each claimed by one worker: every row's ∂loss/∂z (its
///    residuals) into one array, the bias's gradient and the loss into per-chunk partials, which
///    the fixed chunk tree sums.
/// 2. Columns, in ranges of about equal entries, each claimed by one worker: column c's gradient
///    is Σ over the rows that have it, in ascending row order, of residual × value, read from a
///    column-major copy of the rows (CSC, built once for the fit).
///
/// Each column is one worker's sum in an order fixed by the data, so the gradient is bitwise the
/// same for any worker count, and nothing is merged: a column costs its entries, against the
/// minibatch engine's per-entry marking, filing and folding (`SparseGradientEngine`), which a
/// minibatch needs because its rows are a different subset each step.
final class SparseColumnGradient<M: SparseLinearModel, Scalar: TrainingScalar>: FullBatchGradient {
    let model: M
    let pool: WorkerPool
    let chunkRows: Int
    let data: SparseDataset<Scalar>
    private let features: Int, width: Int
    /// Column c's entries: `rowsOf`/`valuesOf[columnStarts[c]..<columnStarts[c + 1]]`, rows ascending.
    private let columnStarts: SharedBuffer<Int>
    private let rowsOf: SharedBuffer<Int32>
    private let valuesOf: SharedBuffer<Scalar>
    private let residuals: SharedBuffer<Scalar>
    private let denseSlots: SharedBuffer<Scalar>
    private let losses: SharedBuffer<Double>
    private let denseCount: Int, denseStride: Int
    /// Column ranges of about equal entries, for the column pass.
    private let ranges: [Range<Int>]
    /// The weight's elements some row has (the gradient's sparse indices when nothing else writes).
    private let touched: [Int]
    private let claims = Counter()
    private(set) var computeSeconds = 0.0
    private(set) var reduceSeconds = 0.0

    /// The column-major copy takes a 4-byte row and a value per entry; nil where the memory
    /// budget does not allow it (the minibatch engine then serves).
    init?(model: M, pool: WorkerPool, chunkRows: Int, data: SparseDataset<Scalar>) {
        let entries = data.nonZeros, d = model.inputFeatures, k = model.sparseWidth
        let copy = entries.multipliedReportingOverflow(by: 4 + MemoryLayout<Scalar>.stride)
        let rowBytes = data.rows.multipliedReportingOverflow(by: k * MemoryLayout<Scalar>.stride)
        let total = copy.partialValue.addingReportingOverflow(rowBytes.partialValue)
        guard !copy.overflow, !rowBytes.overflow, !total.overflow, MemoryBudget.allows(total.partialValue + (d + 1) * 8) else { return nil }
        self.model = model
        self.pool = pool
        self.chunkRows = chunkRows
        self.data = data
        features = d
        width = k
        denseCount = model.parameterCount - k * d
        denseStride = (denseCount + 15) / 16 * 16
        let chunks = (data.rows + chunkRows - 1) / chunkRows
        denseSlots = .allocate(count: max(chunks, 1) * denseStride, repeating: 0)
        losses = .allocate(count: max(chunks, 1), repeating: 0)
        residuals = .allocate(count: data.rows * k, repeating: 0)
        columnStarts = .allocate(count: d + 1, repeating: 0)
        rowsOf = .allocate(count: entries, repeating: 0)
        valuesOf = .allocate(count: entries, repeating: 0)
        transpose(data, features: d, starts: columnStarts.base, rows: rowsOf.base, values: valuesOf.base)
        // Ranges cut where the running entry count passes each share (at least 4 per worker).
        let pieces = max(1, min(d, 4 * pool.workers))
        var cuts = [0]
        for p in 1..<pieces {
            let target = entries / pieces * p + (entries % pieces) * p / pieces
            var lo = cuts.last!, hi = d
            while lo < hi {
                let mid = (lo + hi) / 2
                if columnStarts[mid] < target { lo = mid + 1 } else { hi = mid }
            }
            if lo > cuts.last! && lo < d { cuts.append(lo) }
        }
        cuts.append(d)
        ranges = (0..<(cuts.count - 1)).map { cuts[$0]..<cuts[$0 + 1] }
        var touched: [Int] = []
        for row in 0..<k {
            for c in 0..<d where columnStarts[c + 1] > columnStarts[c] { touched.append(row * d + c) }
        }
        self.touched = touched
    }

    deinit {
        columnStarts.deallocate(); rowsOf.deallocate(); valuesOf.deallocate()
        residuals.deallocate(); denseSlots.deallocate(); losses.deallocate()
    }

    /// Writes ∂(mean loss)/∂θ over every row into `parameters.grad` and returns the mean loss,
    /// as ``SparseGradientEngine/gradient(of:data:rows:clearingAll:)`` does for all rows.
    func gradient(of parameters: Parameters<Scalar>, clearingAll: Bool) -> Double {
        let start = ContinuousClock.now
        let plan = ShardPlan(rows: 0..<data.rows, chunkRows: chunkRows), chunkCount = plan.chunkCount
        let model = self.model, claims = self.claims, k = width, d = features
        let denseSlots = self.denseSlots, denseStride = self.denseStride, denseCount = self.denseCount, losses = self.losses
        let residuals = self.residuals
        let theta = SharedBuffer(parameters.values.withUnsafeMutableBufferPointer { $0.baseAddress! }, count: parameters.count)
        let offsets = SharedBuffer(data.offsets.base + data.offsetStart, count: data.rows + 1)
        let columns = SharedBuffer(data.columns.base, count: data.columns.count)
        let values = SharedBuffer(data.values.base, count: data.values.count)
        let y = SharedBuffer(data.y.base, count: data.y.count), yStride = data.targetsPerRow
        let weights = data.weights.map { SharedBuffer($0.base, count: $0.count) }
        claims.value.store(0, ordering: .relaxed)
        pool.run { _ in
            while true {
                let c = claims.value.add(1, ordering: .relaxed).oldValue
                guard c < chunkCount else { break }
                let chunk = plan.chunk(c)
                let dense = denseSlots.base + c * denseStride
                zero(dense, denseCount)
                let block = SparseRowBlock(offsets: offsets.base + chunk.lowerBound, columns: columns.base, values: values.base, slots: nil,
                                           y: y.base + chunk.lowerBound * yStride, yStride: yStride, count: chunk.count,
                                           weights: weights.map { UnsafePointer($0.base + chunk.lowerBound) })
                losses[c] = model.accumulateResiduals(parameters: theta.base, rows: block, residuals: residuals.base + chunk.lowerBound * k,
                                                      dense: dense)
            }
        }
        let middle = ContinuousClock.now
        computeSeconds += seconds(middle - start)

        let factor = 1 / Scalar(data.rows * model.lossElementsPerRow)
        let columnStarts = self.columnStarts, rowsOf = self.rowsOf, valuesOf = self.valuesOf, ranges = self.ranges
        parameters.grad.withUnsafeMutableBufferPointer { g in
            let grad = SharedBuffer(g.baseAddress!, count: g.count)
            claims.value.store(0, ordering: .relaxed)
            pool.run { _ in
                while true {
                    let r = claims.value.add(1, ordering: .relaxed).oldValue
                    guard r < ranges.count else { break }
                    columnSums(ranges[r], starts: columnStarts.base, rows: rowsOf.base, values: valuesOf.base, residuals: residuals.base,
                               width: k, features: d, factor: factor, into: grad.base)
                }
            }
            reduceTree(denseSlots, stride: denseStride, count: chunkCount, elements: 0..<denseCount)
            scale(denseSlots.base, by: factor, into: grad.base + k * d, denseCount)
        }
        parameters.markAllGradientsDefined()
        if !clearingAll { parameters.markSparseGradient(at: 0, indices: touched) }
        let lossSum = reduceTree(losses, count: chunkCount)
        reduceSeconds += seconds(ContinuousClock.now - middle)
        return lossSum / Double(data.rows * model.lossElementsPerRow)
    }
}

/// The rows' column-major copy (CSC) by a counting sort over the rows in order, so that each
/// column's rows come out ascending.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
func transpose<Scalar: TrainingScalar>(_ data: SparseDataset<Scalar>, features d: Int, starts: UnsafeMutablePointer<Int>,
                                       rows: UnsafeMutablePointer<Int32>, values: UnsafeMutablePointer<Scalar>) {
    let columns = data.columns.base, source = data.values.base, first = data.entryStart(0)
    for e in first..<data.entryStart(data.rows) { starts[Int(columns[e]) + 1] += 1 }
    for c in 0..<d { starts[c + 1] += starts[c] }
    let place = UnsafeMutablePointer<Int>.allocate(capacity: max(d, 1))
    defer { place.deallocate() }
    place.update(from: starts, count: d)
    for r in 0..<data.rows {
        for e in data.entryStart(r)..<data.entryStart(r + 1) {
            let c = Int(columns[e]), at = place[c]
            rows[at] = Int32(r)
            values[at] = source[e]
            place[c] = at + 1
        }
    }
}

/// A gradient over every row of a fit's data, with its time in kernels and in reduction.
protocol FullBatchGradient<Scalar>: AnyObject {
    associatedtype Scalar: TrainingScalar
    func gradient(of parameters: Parameters<Scalar>, clearingAll: Bool) -> Double
    var computeSeconds: Double { get }
    var reduceSeconds: Double { get }
}

/// The column-wise full-batch gradient for `model` where it is a ``SparseLinearModel`` (and the
/// column-major copy fits in memory); nil otherwise.
func columnGradient<M: SparseModel, Scalar: TrainingScalar>(_ model: M, pool: WorkerPool, chunkRows: Int, data: SparseDataset<Scalar>)
    -> (any FullBatchGradient<Scalar>)?
{
    guard let linear = model as? any SparseLinearModel else { return nil }
    func open<L: SparseLinearModel>(_ model: L) -> (any FullBatchGradient<Scalar>)? {
        SparseColumnGradient<L, Scalar>(model: model, pool: pool, chunkRows: chunkRows, data: data)
    }
    return open(linear)
}

/// Each column of `range`: Σ over its entries, in order, of the entry's row's residuals × the
/// entry's value, times `factor`, into the weight's gradient [width, features]. Two running sums
/// over alternate entries (the gathers' latency overlaps), added at the end: a fixed order.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
func columnSums<Scalar: TrainingScalar>(_ range: Range<Int>, starts: UnsafePointer<Int>, rows: UnsafePointer<Int32>, values: UnsafePointer<Scalar>,
                                        residuals: UnsafePointer<Scalar>, width: Int, features: Int, factor: Scalar,
                                        into grad: UnsafeMutablePointer<Scalar>) {
    for c in range {
        let lower = starts[c], upper = starts[c + 1]
        if width == 1 {
            var even: Scalar = 0, odd: Scalar = 0
            var e = lower
            while e + 1 < upper {
                even = even.addingProduct(residuals[Int(rows[e])], values[e])
                odd = odd.addingProduct(residuals[Int(rows[e + 1])], values[e + 1])
                e += 2
            }
            if e < upper { even = even.addingProduct(residuals[Int(rows[e])], values[e]) }
            grad[c] = (even + odd) * factor
        } else {
            for o in 0..<width {
                var sum: Scalar = 0
                for e in lower..<upper { sum = sum.addingProduct(residuals[Int(rows[e]) * width + o], values[e]) }
                grad[o * features + c] = sum * factor
            }
        }
    }
}
