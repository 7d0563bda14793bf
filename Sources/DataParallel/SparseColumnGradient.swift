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
    /// Each row's ∂²loss/∂z² at the latest evaluation, and at the point Newton holds (one output).
    private let curvatures: SharedBuffer<Scalar>
    private let held: SharedBuffer<Scalar>
    /// Hessian-vector products' scratch: each row's curvature × (its row · v), the vector in
    /// the fit's precision, the products' bias partials per chunk.
    private let scaled: SharedBuffer<Scalar>
    private let vector: SharedBuffer<Scalar>
    private let biasSlots: SharedBuffer<Scalar>
    private let denseSlots: SharedBuffer<Scalar>
    private let losses: SharedBuffer<Double>
    private let denseCount: Int, denseStride: Int
    /// Column ranges of about equal entries, for the column pass.
    private let ranges: [Range<Int>]
    /// The weight's elements some row has (the gradient's sparse indices when nothing else writes).
    private let touched: [Int]
    private let claims = Counter()
    /// Whether evaluations record each row's curvature (a second-order optimizer uses them).
    var needsCurvature = false
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
        let curved = k == 1 ? data.rows : 0
        curvatures = .allocate(count: curved, repeating: 0)
        held = .allocate(count: curved, repeating: 0)
        scaled = .allocate(count: curved, repeating: 0)
        vector = .allocate(count: k == 1 ? model.parameterCount : 0, repeating: 0)
        biasSlots = .allocate(count: max(chunks, 1), repeating: 0)
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
        curvatures.deallocate(); held.deallocate(); scaled.deallocate(); vector.deallocate(); biasSlots.deallocate()
    }

    /// Writes ∂(mean loss)/∂θ over every row into `parameters.grad` and returns the mean loss,
    /// as ``SparseGradientEngine/gradient(of:data:rows:clearingAll:)`` does for all rows.
    func gradient(of parameters: Parameters<Scalar>, clearingAll: Bool) -> Double {
        let start = ContinuousClock.now
        let plan = ShardPlan(rows: 0..<data.rows, chunkRows: chunkRows), chunkCount = plan.chunkCount
        let model = self.model, claims = self.claims, k = width, d = features
        let denseSlots = self.denseSlots, denseStride = self.denseStride, denseCount = self.denseCount, losses = self.losses
        let residuals = self.residuals, curvatures = needsCurvature ? self.curvatures : nil
        let theta = SharedBuffer(parameters.values.withUnsafeMutableBufferPointer { $0.baseAddress! }, count: parameters.count)
        let rowsShared = SharedSparseRows(data)
        claims.value.store(0, ordering: .relaxed)
        pool.run { _ in
            while true {
                let c = claims.value.add(1, ordering: .relaxed).oldValue
                guard c < chunkCount else { break }
                let chunk = plan.chunk(c)
                let dense = denseSlots.base + c * denseStride
                zero(dense, denseCount)
                let block = rowsShared.block(chunk, slots: nil)
                losses[c] = model.accumulateResiduals(parameters: theta.base, rows: block, residuals: residuals.base + chunk.lowerBound * k,
                                                      curvatures: curvatures.map { $0.base + chunk.lowerBound }, dense: dense)
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

    /// Whether Hessian-vector products are offered: one output, a bias as the only dense parameter.
    var hasHessian: Bool { width == 1 && denseCount == 1 }

    /// Keeps the latest evaluation's curvatures for the products that follow.
    func holdCurvature() {
        held.base.update(from: curvatures.base, count: curvatures.count)
    }

    /// H·v of the mean loss at the held point, with the penalty's l2 (on the weight): Xv by rows
    /// (each row's dot with v's weight, plus v's bias), scaled by each row's curvature, then
    /// Xᵀ of that by columns, as the gradient's column pass; the bias's part through the chunk tree.
    func hessianProduct(_ v: [Double], penalty: FitConfiguration.Penalty?) -> [Double] {
        precondition(hasHessian && v.count == model.parameterCount)
        let d = features, n = data.rows, plan = ShardPlan(rows: 0..<n, chunkRows: chunkRows), chunkCount = plan.chunkCount
        narrow(v, into: vector.base)
        let vector = self.vector, held = self.held, scaled = self.scaled, biasSlots = self.biasSlots, claims = self.claims
        let rowsShared = SharedSparseRows(data), offsets = rowsShared.offsets, columns = rowsShared.columns, values = rowsShared.values
        claims.value.store(0, ordering: .relaxed)
        pool.run { _ in
            while true {
                let c = claims.value.add(1, ordering: .relaxed).oldValue
                guard c < chunkCount else { break }
                let bias = curvedRowDots(plan.chunk(c), offsets: offsets.base, columns: columns.base, values: values.base, vector: vector.base,
                                         bias: d, curvatures: held.base, into: scaled.base)
                biasSlots[c] = bias
            }
        }
        let factor = 1 / Scalar(n * model.lossElementsPerRow)
        let out = UnsafeMutablePointer<Scalar>.allocate(capacity: d + 1)
        defer { out.deallocate() }
        let result = SharedBuffer(out, count: d + 1)
        let columnStarts = self.columnStarts, rowsOf = self.rowsOf, valuesOf = self.valuesOf, ranges = self.ranges
        claims.value.store(0, ordering: .relaxed)
        pool.run { _ in
            while true {
                let r = claims.value.add(1, ordering: .relaxed).oldValue
                guard r < ranges.count else { break }
                columnSums(ranges[r], starts: columnStarts.base, rows: rowsOf.base, values: valuesOf.base, residuals: scaled.base,
                           width: 1, features: d, factor: factor, into: result.base)
            }
        }
        reduceTree(biasSlots, stride: 1, count: chunkCount, elements: 0..<1)
        out[d] = biasSlots[0] * factor
        var product = widen(out, count: d + 1)
        if let penalty, penalty.l2 > 0 {
            let scales = penalty.featureScales.flatMap { $0.count == d ? $0 : nil }
            for j in 0..<d { product[j] += penalty.l2 * v[j] / (scales.map { Double($0[j]) * Double($0[j]) } ?? 1) }
        }
        return product
    }

    /// LIBLINEAR's preconditioner in this objective's scale: the penalty's l2 plus a hundredth of
    /// the data's part of the Hessian's diagonal, (1/n) Σ over each column's rows of curvature ×
    /// value², at the held point.
    func preconditioner(penalty: FitConfiguration.Penalty?) -> [Double] {
        let d = features, n = data.rows
        let out = UnsafeMutablePointer<Scalar>.allocate(capacity: d)
        defer { out.deallocate() }
        curvedSquares(0..<d, starts: columnStarts.base, rows: rowsOf.base, values: valuesOf.base, curvatures: held.base, into: out)
        let factor = 0.01 / Double(n * model.lossElementsPerRow), l2 = penalty?.l2 ?? 0
        let scales = penalty?.featureScales.flatMap { $0.count == d ? $0 : nil }
        var diagonal = widen(out, count: d).map { $0 * factor }
        for j in 0..<d { diagonal[j] += l2 / (scales.map { Double($0[j]) * Double($0[j]) } ?? 1) }
        var bias = 0.0
        for row in 0..<n { bias += Double(held[row]) }
        diagonal.append(bias * factor)
        return diagonal
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

/// Each row of `rows`: its curvature × (its dot with `vector`'s weight, plus `vector[bias]`),
/// into `out`; returns their sum (in row order), the bias's part of H·v.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
func curvedRowDots<Scalar: TrainingScalar>(_ rows: Range<Int>, offsets: UnsafePointer<Int64>, columns: UnsafePointer<Int32>,
                                           values: UnsafePointer<Scalar>, vector: UnsafePointer<Scalar>, bias: Int,
                                           curvatures: UnsafePointer<Scalar>, into out: UnsafeMutablePointer<Scalar>) -> Scalar {
    var total: Scalar = 0
    for row in rows {
        var even: Scalar = 0, odd: Scalar = 0
        var e = Int(offsets[row])
        let upper = Int(offsets[row + 1])
        while e + 1 < upper {
            even = even.addingProduct(vector[Int(columns[e])], values[e])
            odd = odd.addingProduct(vector[Int(columns[e + 1])], values[e + 1])
            e += 2
        }
        if e < upper { even = even.addingProduct(vector[Int(columns[e])], values[e]) }
        let t = curvatures[row] * ((even + odd) + vector[bias])
        out[row] = t
        total += t
    }
    return total
}

/// Each column of `range`: Σ over its entries of the row's curvature × value².
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
func curvedSquares<Scalar: TrainingScalar>(_ range: Range<Int>, starts: UnsafePointer<Int>, rows: UnsafePointer<Int32>, values: UnsafePointer<Scalar>,
                                           curvatures: UnsafePointer<Scalar>, into out: UnsafeMutablePointer<Scalar>) {
    for c in range {
        var sum: Scalar = 0
        for e in starts[c]..<starts[c + 1] { sum = sum.addingProduct(curvatures[Int(rows[e])] * values[e], values[e]) }
        out[c - range.lowerBound] = sum
    }
}

@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
func narrow<Scalar: TrainingScalar>(_ v: [Double], into out: UnsafeMutablePointer<Scalar>) {
    for j in v.indices { out[j] = Scalar(v[j]) }
}

@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
func widen<Scalar: TrainingScalar>(_ p: UnsafePointer<Scalar>, count: Int) -> [Double] {
    (0..<count).map { Double(p[$0]) }
}

/// A gradient over every row of a fit's data, with its time in kernels and in reduction.
protocol FullBatchGradient<Scalar>: AnyObject {
    associatedtype Scalar: TrainingScalar
    func gradient(of parameters: Parameters<Scalar>, clearingAll: Bool) -> Double
    var hasHessian: Bool { get }
    var needsCurvature: Bool { get set }
    func holdCurvature()
    func hessianProduct(_ v: [Double], penalty: FitConfiguration.Penalty?) -> [Double]
    func preconditioner(penalty: FitConfiguration.Penalty?) -> [Double]
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

/// Hessian-vector products for a second-order optimizer, from a full-batch gradient and the
/// fit's penalty.
final class FullBatchHessian<Scalar: TrainingScalar>: HessianVectorProduct {
    let full: any FullBatchGradient<Scalar>
    let penalty: FitConfiguration.Penalty?

    init(_ full: any FullBatchGradient<Scalar>, penalty: FitConfiguration.Penalty?) {
        self.full = full
        self.penalty = penalty
        full.needsCurvature = true
    }

    func holdCurvature() { full.holdCurvature() }
    func product(_ v: [Double]) -> [Double] { full.hessianProduct(v, penalty: penalty) }
    func preconditioner() -> [Double]? { full.preconditioner(penalty: penalty) }
}
