import Datasets
import VectorMath
import Models
import Optim

/// Computes the mean loss and its gradient over a block of rows, data-parallel and
/// deterministic: chunk partials on the workers, a fixed-order tree reduction in parallel over
/// cache-line-aligned slices of the gradient, the result in the parameters' gradient buffer.
///
/// On a ``Cluster`` of R ranks, this rank computes its run of the chunks, sums the tree's pieces
/// it owns, gathers every rank's pieces and finishes the tree (``TreeSplit``): the same bits on
/// every rank as in one process.
final class GradientEngine<M: Model, Scalar: TrainingScalar> {
    let model: M
    let pool: WorkerPool
    let chunkRows: Int
    let parameterCount: Int
    /// Slot stride in values: the parameter count rounded up to 16 values (a cache line of
    /// Floats, two of Doubles), so that no two workers' slots share a line.
    let stride: Int
    let cluster: Cluster
    /// On a cluster: the stop requests this rank sends with its pieces (a signal handler's flag),
    /// and the flag raised when any rank's request arrives (what the training loop watches).
    var stopRequests: CancellationFlag?
    var agreedStop: CancellationFlag?
    private var slots: SharedBuffer<Scalar>
    private var losses: SharedBuffer<Double>
    private var capacity: Int
    /// Per worker, how many of its chunks have been claimed in the current pass.
    private let claims: [Counter]
    private var split: TreeSplit?
    private var exchange = PieceExchange()
    private(set) var computeSeconds = 0.0
    private(set) var reduceSeconds = 0.0

    init(model: M, pool: WorkerPool, chunkRows: Int, maxRows: Int, cluster: Cluster = .single) {
        self.model = model
        self.pool = pool
        self.chunkRows = chunkRows
        self.cluster = cluster
        parameterCount = model.parameterCount
        stride = (model.parameterCount + 15) / 16 * 16
        capacity = (maxRows + chunkRows - 1) / chunkRows
        slots = .allocate(count: capacity * stride, repeating: 0)
        losses = .allocate(count: capacity, repeating: 0)
        claims = (0..<pool.workers).map { _ in Counter() }
    }

    deinit {
        slots.deallocate()
        losses.deallocate()
    }

    /// Writes ∂(mean loss)/∂θ over `rows` of `data` into `parameters.grad` and returns the mean loss.
    func gradient(of parameters: Parameters<Scalar>, data: Dataset<Scalar>, rows: Range<Int>) -> Double {
        let plan = ShardPlan(rows: rows, chunkRows: chunkRows)
        let chunkCount = plan.chunkCount
        precondition(chunkCount <= capacity, "minibatch larger than the engine was sized for")
        if cluster.size > 1 && split?.chunkCount != chunkCount { split = TreeSplit(chunkCount: chunkCount, ranks: cluster.size) }
        let local = cluster.size > 1 ? split!.chunks(rank: cluster.rank) : 0..<chunkCount
        let model = self.model, stride = self.stride, count = parameterCount
        let slots = self.slots, losses = self.losses, workers = pool.workers
        let theta = SharedBuffer(parameters.values.withUnsafeMutableBufferPointer { $0.baseAddress! }, count: count)
        let x = SharedBuffer(data.x.base, count: data.x.count), y = SharedBuffer(data.y.base, count: data.y.count)
        let xStride = data.rowStride, yStride = data.targetStride
        let weights = data.weights.map { SharedBuffer($0.base, count: $0.count) }

        let claims = self.claims
        for counter in claims { counter.value.store(0, ordering: .relaxed) }
        var start = ContinuousClock.now
        pool.run { w in
            // Worker w's own chunks first, then the chunks other workers have not started: a
            // worker whose thread wakes late (tens of µs on a VM) does not hold up the pass.
            // Each chunk is claimed once; its partial and the reduction do not depend on which
            // worker computed it.
            for v in 0..<workers {
                let owner = (w + v) % workers
                let own = plan.chunks(worker: owner, of: workers, within: local)
                while true {
                    let c = own.lowerBound + claims[owner].value.add(1, ordering: .relaxed).oldValue
                    guard c < own.upperBound else { break }
                    let slot = slots.base + c * stride
                    zero(slot, stride)
                    let chunk = plan.chunk(c)
                    let block = RowBlock(x: x.base + chunk.lowerBound * xStride, xStride: xStride,
                                         y: y.base + chunk.lowerBound * yStride, yStride: yStride, count: chunk.count,
                                         weights: weights.map { UnsafePointer($0.base + chunk.lowerBound) })
                    losses[c] = model.accumulateGradient(parameters: theta.base, rows: block, gradient: slot)
                }
            }
        }
        var now = ContinuousClock.now
        computeSeconds += seconds(now - start)
        start = now

        let lossSum: Double
        if let split, cluster.size > 1 {
            for piece in split.pieces[cluster.rank] {
                let base = SharedBuffer(slots.base + piece.lo * stride, count: piece.size * stride)
                inSlices(work: piece.size * count) { reduceTree(base, stride: stride, count: piece.size, elements: $0) }
                losses[piece.lo] = reduceTree(SharedBuffer(losses.base + piece.lo, count: piece.size), count: piece.size)
            }
            let flags = stopRequests?.isCancelled == true ? PieceExchange.stopRequested : 0
            let reduced = exchange.reduce(split, cluster: cluster, slots: slots, stride: stride, count: count, losses: losses, flags: flags) {
                elements in inSlices(work: chunkCount * elements.count, over: elements) { split.finish(slots, stride: stride, elements: $0) }
            }
            if reduced.flags & PieceExchange.stopRequested != 0 { agreedStop?.cancel() }
            lossSum = reduced.loss
        } else {
            // The tree's order per element is the same however the elements are sliced.
            if chunkCount > 1 { inSlices(work: chunkCount * count) { reduceTree(slots, stride: stride, count: chunkCount, elements: $0) } }
            lossSum = reduceTree(losses, count: chunkCount)
        }
        let elements = rows.count * model.lossElementsPerRow
        parameters.grad.withUnsafeMutableBufferPointer { g in scale(slots.base, by: 1 / Scalar(elements), into: g.baseAddress!, count) }
        parameters.markAllGradientsDefined()
        now = ContinuousClock.now
        reduceSeconds += seconds(now - start)
        return lossSum / Double(elements)
    }

    /// `body` over the parameters' elements (or those of `range`): in cache-line-aligned slices
    /// on the workers when there is enough to share, else at once.
    private func inSlices(work: Int, over range: Range<Int>? = nil, _ body: @escaping @Sendable (Range<Int>) -> Void) {
        let range = range ?? 0..<parameterCount, workers = pool.workers
        guard work >= 1 << 16 && workers > 1 else { return body(range) }
        let slice = ((range.count + workers - 1) / workers + 15) / 16 * 16
        pool.run { w in
            let lower = min(range.lowerBound + w * slice, range.upperBound), upper = min(lower + slice, range.upperBound)
            if lower < upper { body(lower..<upper) }
        }
    }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
}

/// `n` zeros at `p` (specialized: a generic `update(repeating:)` is a call per value).
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
func zero<Scalar: TrainingScalar>(_ p: UnsafeMutablePointer<Scalar>, _ n: Int) {
    p.update(repeating: 0, count: n)
}

/// out[j] = source[j] · factor for j in 0..<n.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
func scale<Scalar: TrainingScalar>(_ source: UnsafePointer<Scalar>, by factor: Scalar, into out: UnsafeMutablePointer<Scalar>, _ n: Int) {
    for j in 0..<n { out[j] = source[j] * factor }
}

/// Whether every value is finite.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
func allFinite<Scalar: TrainingScalar>(_ values: [Scalar]) -> Bool {
    values.allSatisfy(\.isFinite)
}
