import Datasets
import VectorMath
import Models
import Optim

/// The gradient of a ``SparseModel`` over sparse rows, data-parallel and deterministic, at a cost
/// that follows the features a minibatch touches rather than the width d.
///
/// ## Design
///
/// The dense engine gives each chunk of rows a partial gradient of every parameter and sums the
/// partials in a fixed tree. With d in the millions that is d per chunk to zero and to add (64
/// chunks × 1M features × 4 bytes = 256 MB per step) for chunks that touch a few thousand
/// features. Here:
///
/// 1. **Compact chunk partials.** A chunk's worker lists the distinct columns its rows touch,
///    in first-seen order (a bit per column, or a map from column to place, reset after use, so
///    no pass over d), and the kernel adds the weight's gradient into those columns only (in the
///    worker's accumulator, or in the compact list), rows in order:
///    the chunk's partial is (columns, `width` values per column) plus the dense parameters (the
///    biases), the same whichever worker has the chunk.
/// 2. **Feature-range ownership.** Before the kernels run, the columns are cut into ranges at
///    quantiles of a sample of the minibatch's entries (so that ranges hold similar work); each
///    chunk's worker files its partial's columns by range. A worker then claims a range and sums
///    the chunks' parts of it, writing the result into `parameters.grad`. Ranges never change a
///    column's arithmetic, so they may depend on the data and the worker count.
/// 3. **A fixed order, folded.** Within a range the chunks' parts are added in chunk order,
///    ((p0 + p1) + p2) + …, into the worker's column-major accumulator (or, for a model too
///    wide for one per worker, a compact list found through a column map); a column's first part
///    is added to 0. So every column's sum is the same additions in the same order for any worker
///    count, no list is ever sorted, and each part is read once.
/// 4. **Sparse writes to the dense gradient.** The gradient stays a dense tensor (what every
///    optimizer reads, as torch's `nn.Linear` gives on sparse input), zero where no row touched a
///    column: each step zeroes the columns the previous step wrote, then writes the new ones, and
///    declares the weight's gradient sparse at them (`Parameters.sparseIndices`), for optimizers
///    that update only those (SparseAdam, Adagrad).
///
/// The cost of a step is then O(entries · width), never O(d), apart from
/// the first step, which zeroes the gradient once.
final class SparseGradientEngine<M: SparseModel, Scalar: TrainingScalar> {
    let model: M
    let pool: WorkerPool
    let chunkRows: Int
    let features: Int
    /// Rows of the first weight: values per touched column.
    let width: Int
    /// Parameters after the first weight (dense in every partial), and their slot stride.
    let denseCount: Int
    private let denseStride: Int
    private let denseSlots: SharedBuffer<Scalar>
    private let losses: SharedBuffer<Double>
    private let chunkCapacity: Int
    /// Ranges per minibatch at most: a few per worker, so that a late worker's share is small, and
    /// at least 16.
    private let rangeCapacity: Int
    /// Per worker: column → place in the list being built, −1 when absent (d each, reset after
    /// each use by walking the list).
    private let places: [SharedBuffer<Int32>]
    /// Per worker: each entry's place, for the kernel, and the chunk's columns in first-seen order.
    private var entrySlots: [SharedBuffer<Int32>]
    private var seen: [SharedBuffer<Int32>]
    private var seenValues: [SharedBuffer<Scalar>]
    private var entryCapacity = 0
    /// The chunks' partials, chunk c's at its rows' first entry (a chunk touches at most as many
    /// columns as it has entries), filed by range: range r's part of chunk c starts at
    /// `partStarts[c · rangeCapacity + r]` within the chunk's region, `partCounts[...]` long.
    private var partialColumns: SharedBuffer<Int32>
    private var partialValues: SharedBuffer<Scalar>
    private var partialCapacity = 0
    private let partStarts: SharedBuffer<Int>
    private let partCounts: SharedBuffer<Int>
    /// The columns the last gradient wrote: range r's (of `ranges`) at `touched[ranges[r].lowerBound...]`,
    /// `touchedCounts[r]` of them (a range has at most as many as it is wide).
    private let touched: SharedBuffer<Int32>
    private var ranges: [Range<Int>] = []
    private let touchedCounts: SharedBuffer<Int>
    /// Per worker, where d × width values take at most 32 MiB: a column-major accumulator (all
    /// zero between chunks) and a bit per column, which spare the kernel the map from column to
    /// place; the same additions in the same order as the compact lists.
    private let accumulators: [SharedBuffer<Scalar>]?
    private let marks: [SharedBuffer<UInt64>]
    private var gradientOwner: ObjectIdentifier?
    private let claims = Counter()
    private(set) var computeSeconds = 0.0
    private(set) var reduceSeconds = 0.0

    /// - Parameter directBytes: the most bytes of a per-worker accumulator (d × width values); a
    ///   wider model takes compact lists (the same sums).
    init(model: M, pool: WorkerPool, chunkRows: Int, maxRows: Int, directBytes: Int = 32 << 20) {
        self.model = model
        self.pool = pool
        self.chunkRows = chunkRows
        features = model.inputFeatures
        width = model.sparseWidth
        denseCount = model.parameterCount - width * features
        denseStride = (denseCount + 15) / 16 * 16
        chunkCapacity = (maxRows + chunkRows - 1) / chunkRows
        // Ranges keep each merge's column map small (a range of d/16 columns of 4-byte places
        // stays in a core's cache), besides sharing the merge among the workers.
        rangeCapacity = min(max(16, 4 * pool.workers), model.inputFeatures)
        denseSlots = .allocate(count: chunkCapacity * denseStride, repeating: 0)
        losses = .allocate(count: chunkCapacity, repeating: 0)
        places = (0..<pool.workers).map { _ in .allocate(count: model.inputFeatures, repeating: -1) }
        entrySlots = []; seen = []; seenValues = []
        partialColumns = .allocate(count: 0, repeating: 0)
        partialValues = .allocate(count: 0, repeating: 0)
        partStarts = .allocate(count: chunkCapacity * rangeCapacity, repeating: 0)
        partCounts = .allocate(count: chunkCapacity * rangeCapacity, repeating: 0)
        touched = .allocate(count: model.inputFeatures, repeating: 0)
        touchedCounts = .allocate(count: rangeCapacity, repeating: 0)
        let direct = model.inputFeatures * model.sparseWidth * MemoryLayout<Scalar>.stride <= directBytes
        accumulators = direct ? (0..<pool.workers).map { _ in .allocate(count: model.inputFeatures * model.sparseWidth, repeating: 0) } : nil
        marks = direct ? (0..<pool.workers).map { _ in .allocate(count: model.inputFeatures / 64 + 1, repeating: 0) } : []
    }

    deinit {
        denseSlots.deallocate(); losses.deallocate(); partialColumns.deallocate(); partialValues.deallocate()
        partStarts.deallocate(); partCounts.deallocate(); touched.deallocate(); touchedCounts.deallocate()
        for buffer in places + entrySlots + seen { buffer.deallocate() }
        for buffer in seenValues { buffer.deallocate() }
        for buffer in accumulators ?? [] { buffer.deallocate() }
        for buffer in marks { buffer.deallocate() }
    }

    /// Writes ∂(mean loss)/∂θ over `rows` of `data` into `parameters.grad` and returns the mean
    /// loss. `clearingAll` zeroes the whole gradient first (when something else, a penalty,
    /// writes to columns no row touched).
    func gradient(of parameters: Parameters<Scalar>, data: SparseDataset<Scalar>, rows: Range<Int>, clearingAll: Bool = false) -> Double {
        let plan = ShardPlan(rows: rows, chunkRows: chunkRows)
        let chunkCount = plan.chunkCount
        precondition(chunkCount <= chunkCapacity, "minibatch larger than the engine was sized for")
        let start = ContinuousClock.now
        // Room: each chunk's entries (its partial's bound), the largest chunk's for the per-worker lists.
        let first = data.entryStart(rows.lowerBound), entries = data.entryStart(rows.upperBound) - first
        var largest = 0
        for c in 0..<chunkCount { largest = max(largest, data.entryStart(plan.chunk(c).upperBound) - data.entryStart(plan.chunk(c).lowerBound)) }
        if largest > entryCapacity {
            for buffer in entrySlots + seen { buffer.deallocate() }
            for buffer in seenValues { buffer.deallocate() }
            entrySlots = (0..<pool.workers).map { _ in .allocate(count: largest, repeating: 0) }
            seen = (0..<pool.workers).map { _ in .allocate(count: largest, repeating: 0) }
            seenValues = (0..<pool.workers).map { _ in .allocate(count: largest * self.width, repeating: 0) }
            entryCapacity = largest
        }
        if entries > partialCapacity {
            partialColumns.deallocate(); partialValues.deallocate()
            partialColumns = .allocate(count: entries, repeating: 0)
            partialValues = .allocate(count: entries * width, repeating: 0)
            partialCapacity = entries
        }
        // This minibatch's ranges, before the kernels (which file their columns by them).
        let previousRanges = ranges
        ranges = columnRanges(data: data, entries: first..<(first + entries), chunks: chunkCount)
        let ranges = self.ranges, cuts = RangeTable(ranges: ranges, features: features)

        let model = self.model, width = self.width, claims = self.claims, stride = rangeCapacity
        let denseSlots = self.denseSlots, denseStride = self.denseStride, denseCount = self.denseCount, losses = self.losses
        let places = self.places, entrySlots = self.entrySlots, seen = self.seen, seenValues = self.seenValues
        let partialColumns = self.partialColumns, partialValues = self.partialValues
        let partStarts = self.partStarts, partCounts = self.partCounts
        let theta = SharedBuffer(parameters.values.withUnsafeMutableBufferPointer { $0.baseAddress! }, count: parameters.count)
        let rowsShared = SharedSparseRows(data), offsets = rowsShared.offsets, columns = rowsShared.columns
        claims.value.store(0, ordering: .relaxed)
        let accumulators = self.accumulators, marks = self.marks
        pool.run { w in
            let place = places[w], slots = entrySlots[w], list = seen[w], listValues = seenValues[w]
            while true {
                let c = claims.value.add(1, ordering: .relaxed).oldValue
                guard c < chunkCount else { break }
                let chunk = plan.chunk(c)
                let lower = Int(offsets[chunk.lowerBound]), upper = Int(offsets[chunk.upperBound])
                let dense = denseSlots.base + c * denseStride
                zero(dense, denseCount)
                var count = 0
                let parts = (starts: partStarts.base + c * stride, counts: partCounts.base + c * stride)
                let region = (partialColumns.base + (lower - first), partialValues.base + (lower - first) * width)
                if let accumulators {
                    // The worker's column-major accumulator: each entry's place is its column; a
                    // bit per column marks the distinct ones, in first-seen order (bits, not bytes:
                    // a million columns' marks stay in a core's cache).
                    let marked = marks[w]
                    for e in lower..<upper {
                        let column = Int(columns[e]), word = column >> 6, bit = UInt64(1) << UInt64(column & 63)
                        if marked[word] & bit == 0 {
                            marked[word] |= bit
                            list[count] = Int32(column)
                            count += 1
                        }
                    }
                    let block = rowsShared.block(chunk, slots: columns.base + lower)
                    losses[c] = model.accumulateGradient(parameters: theta.base, rows: block,
                                                         gradient: SparseGradient(columns: accumulators[w].base, dense: dense))
                    fileByRange(list.base, count: count, width: width, cuts: cuts, parts: parts, into: region, scratch: slots.base,
                                from: .accumulator(accumulators[w].base, marks: marked.base))
                } else {
                    // The distinct columns in first-seen order, and each entry's place among them.
                    for e in lower..<upper {
                        let column = Int(columns[e])
                        if place[column] < 0 {
                            place[column] = Int32(count)
                            list[count] = Int32(column)
                            count += 1
                        }
                        slots[e - lower] = place[column]
                    }
                    zero(listValues.base, count * width)
                    let block = rowsShared.block(chunk, slots: slots.base)
                    losses[c] = model.accumulateGradient(parameters: theta.base, rows: block,
                                                         gradient: SparseGradient(columns: listValues.base, dense: dense))
                    for s in 0..<count { place[Int(list[s])] = -1 }
                    fileByRange(list.base, count: count, width: width, cuts: cuts, parts: parts, into: region, scratch: slots.base,
                                from: .list(listValues.base))
                }
            }
        }
        var now = ContinuousClock.now
        computeSeconds += seconds(now - start)
        let reduceStart = now

        let elements = rows.count * model.lossElementsPerRow
        let factor = 1 / Scalar(elements)
        let weightCount = width * features
        parameters.grad.withUnsafeMutableBufferPointer { g in
            let grad = SharedBuffer(g.baseAddress!, count: g.count)
            if clearingAll || gradientOwner != ObjectIdentifier(parameters) {
                zero(grad.base, weightCount)
                gradientOwner = ObjectIdentifier(parameters)
            } else {
                clear(previousRanges, in: grad)
            }
            merge(plan: plan, first: first, data: data, into: grad, factor: factor)
            // The dense parameters: the dense engine's tree over their slots, then scaled.
            reduceTree(denseSlots, stride: denseStride, count: chunkCount, elements: 0..<denseCount)
            scale(denseSlots.base, by: factor, into: grad.base + weightCount, denseCount)
        }
        parameters.markAllGradientsDefined()
        // The weight's gradient is sparse unless something writes everywhere (a penalty): lazy
        // optimizers (SparseAdam, Adagrad) then update only the touched columns.
        if !clearingAll {
            var indices: [Int] = []
            indices.reserveCapacity(ranges.indices.reduce(0) { $0 + touchedCounts[$1] } * width)
            for row in 0..<width {
                for r in ranges.indices {
                    for i in 0..<touchedCounts[r] { indices.append(row * features + Int(touched[ranges[r].lowerBound + i])) }
                }
            }
            parameters.markSparseGradient(at: 0, indices: indices)
        }
        let lossSum = reduceTree(losses, count: chunkCount)
        now = ContinuousClock.now
        reduceSeconds += seconds(now - reduceStart)
        return lossSum / Double(elements)
    }

    /// Step 4's first half: the columns the previous gradient wrote (filed under its ranges) back to 0.
    private func clear(_ previous: [Range<Int>], in grad: SharedBuffer<Scalar>) {
        let touched = self.touched, counts = self.touchedCounts, claims = self.claims, width = self.width, d = features
        claims.value.store(0, ordering: .relaxed)
        let body: @Sendable (Int) -> Void = { _ in
            while true {
                let r = claims.value.add(1, ordering: .relaxed).oldValue
                guard r < previous.count else { break }
                zeroColumns(grad.base, touched.base + previous[r].lowerBound, count: counts[r], width: width, features: d)
            }
        }
        if previous.count > 1 { pool.run(body) } else { body(0) }
    }

    /// Steps 2 and 3: each range's parts merged through the chunk tree by one worker and written
    /// (scaled) into the gradient.
    private func merge(plan: ShardPlan, first: Int, data: SparseDataset<Scalar>, into grad: SharedBuffer<Scalar>, factor: Scalar) {
        let chunkCount = plan.chunkCount, width = self.width, d = features, stride = rangeCapacity
        var regions = [Int](repeating: 0, count: chunkCount)
        for c in 0..<chunkCount { regions[c] = data.entryStart(plan.chunk(c).lowerBound) - first }
        let regionStarts = regions, ranges = self.ranges, touched = self.touched, touchedCounts = self.touchedCounts
        let partialColumns = self.partialColumns, partialValues = self.partialValues, partStarts = self.partStarts, partCounts = self.partCounts
        let places = self.places, claims = self.claims, accumulators = self.accumulators, marks = self.marks
        claims.value.store(0, ordering: .relaxed)
        let body: @Sendable (Int) -> Void = { w in
            let direct = accumulators.map { ($0[w].base, marks[w].base) }
            while true {
                let r = claims.value.add(1, ordering: .relaxed).oldValue
                guard r < ranges.count else { break }
                touchedCounts[r] = foldRange(parts: (starts: UnsafePointer(partStarts.base + r), counts: UnsafePointer(partCounts.base + r)),
                                             stride: stride, regions: regionStarts,
                                             from: (UnsafePointer(partialColumns.base), UnsafePointer(partialValues.base)), width: width,
                                             direct: direct, place: places[w].base, factor: factor, into: grad.base, features: d,
                                             touched: touched.base + ranges[r].lowerBound)
            }
        }
        if ranges.count > 1 { pool.run(body) } else { body(0) }
    }

    /// Ranges of columns for a minibatch, cut at quantiles of an even sample of its entries (a
    /// column in many rows weighs more, as it costs more to merge). One range for one chunk.
    private func columnRanges(data: SparseDataset<Scalar>, entries: Range<Int>, chunks: Int) -> [Range<Int>] {
        let pieces = chunks > 1 ? rangeCapacity : 1
        guard pieces > 1, entries.count > 0 else { return [0..<features] }
        let samples = min(entries.count, 64 * pieces)
        var sample = (0..<samples).map { data.columns.base[entries.lowerBound + $0 * entries.count / samples] }
        sample.sort()
        var cuts = [0]
        for p in 1..<pieces {
            let cut = Int(sample[p * samples / pieces])
            if cut > cuts.last! { cuts.append(cut) }
        }
        cuts.append(features)
        return (0..<cuts.count - 1).map { cuts[$0]..<cuts[$0 + 1] }
    }
}

/// A sparse data set's arrays as the workers read them (``SharedBuffer``s: read-only in every
/// phase), and the kernel's view of a chunk of its rows.
struct SharedSparseRows<Scalar: TrainingScalar>: Sendable {
    let offsets: SharedBuffer<Int64>
    let columns: SharedBuffer<Int32>
    let values: SharedBuffer<Scalar>
    let y: SharedBuffer<Scalar>
    let yStride: Int
    let weights: SharedBuffer<Scalar>?

    init(_ data: SparseDataset<Scalar>) {
        offsets = SharedBuffer(data.offsets.base + data.offsetStart, count: data.rows + 1)
        columns = SharedBuffer(data.columns.base, count: data.columns.count)
        values = SharedBuffer(data.values.base, count: data.values.count)
        y = SharedBuffer(data.y.base, count: data.y.count)
        yStride = data.targetsPerRow
        weights = data.weights.map { SharedBuffer($0.base, count: $0.count) }
    }

    /// Rows `rows` for a kernel, each entry's place in `slots` (nil: none, for predictions).
    func block(_ rows: Range<Int>, slots: UnsafePointer<Int32>?) -> SparseRowBlock<Scalar> {
        SparseRowBlock(offsets: offsets.base + rows.lowerBound, columns: columns.base, values: values.base, slots: slots,
                       y: y.base + rows.lowerBound * yStride, yStride: yStride, count: rows.count,
                       weights: weights.map { UnsafePointer($0.base + rows.lowerBound) })
    }
}
