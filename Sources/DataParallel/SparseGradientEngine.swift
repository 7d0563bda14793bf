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
///    sorted (a per-worker map from column to place, reset after use, so no pass over d), and the
///    kernel adds the weight's gradient into those places only: the chunk's partial is (sorted
///    columns, `width` values per column) plus the dense parameters (the biases). The rows are
///    summed in row order, whichever worker has the chunk.
/// 2. **The same tree, merged.** Partials are summed in the dense engine's pairwise tree over the
///    chunk index, ((p0 + p1) + (p2 + p3)) + …, as sorted merges: a column in both lists is
///    added, a column in one is carried (the dense tree would add 0). So every column's sum is
///    formed by the same additions in the same order for any worker count.
/// 3. **Feature-range ownership for the merge.** The columns are cut into ranges (at quantiles of
///    the minibatch's touched columns, so that ranges hold similar work); a worker claims a range
///    and runs the whole tree for the columns in it (a binary search gives each chunk's part), then
///    writes the result into `parameters.grad`. Ranges never change a column's arithmetic, so
///    they may depend on the worker count and the data.
/// 4. **Sparse writes to the dense gradient.** The gradient stays a dense tensor (what every
///    optimizer reads, as torch's `nn.Linear` gives on sparse input), zero where no row touched a
///    column: each step zeroes the columns the previous step wrote, then writes the new ones. The
///    touched columns are kept (``touchedColumns``), for optimizers that update only them.
///
/// The cost of a step is then O(entries · width + touched · log(chunks)), never O(d), apart from
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
    private var denseSlots: SharedBuffer<Scalar>
    private var losses: SharedBuffer<Double>
    private var chunkCapacity: Int
    /// Per worker: column → place in the current chunk's list, −1 when absent (d each, reset after
    /// each chunk by walking the list).
    private let places: [SharedBuffer<Int32>]
    /// Per worker: each entry's place, for the kernel (grown to the largest chunk).
    private var entrySlots: [SharedBuffer<Int32>]
    /// Per worker: the chunk's distinct columns before sorting.
    private var seen: [SharedBuffer<Int32>]
    private var entryCapacity = 0
    /// The chunks' partials, chunk c's at its rows' first entry (a chunk touches at most as many
    /// columns as it has entries).
    private var partialColumns: SharedBuffer<Int32>
    private var partialValues: SharedBuffer<Scalar>
    private var partialCapacity = 0
    private var partialCounts: SharedBuffer<Int>
    /// The columns the last gradient wrote, ascending: range r's at `touched[rangeStarts[r]...]`,
    /// `touchedCounts[r]` of them.
    private var touched: SharedBuffer<Int32>
    private var ranges: [Range<Int>] = []
    private var touchedCounts: SharedBuffer<Int>
    private var gradientOwner: ObjectIdentifier?
    private let claims = Counter()
    private(set) var computeSeconds = 0.0
    private(set) var reduceSeconds = 0.0

    init(model: M, pool: WorkerPool, chunkRows: Int, maxRows: Int) {
        self.model = model
        self.pool = pool
        self.chunkRows = chunkRows
        features = model.inputFeatures
        width = model.sparseWidth
        denseCount = model.parameterCount - width * features
        denseStride = (denseCount + 15) / 16 * 16
        chunkCapacity = (maxRows + chunkRows - 1) / chunkRows
        denseSlots = .allocate(count: chunkCapacity * denseStride, repeating: 0)
        losses = .allocate(count: chunkCapacity, repeating: 0)
        places = (0..<pool.workers).map { _ in .allocate(count: model.inputFeatures, repeating: -1) }
        entrySlots = (0..<pool.workers).map { _ in .allocate(count: 0, repeating: 0) }
        seen = (0..<pool.workers).map { _ in .allocate(count: 0, repeating: 0) }
        partialColumns = .allocate(count: 0, repeating: 0)
        partialValues = .allocate(count: 0, repeating: 0)
        partialCounts = .allocate(count: chunkCapacity, repeating: 0)
        touched = .allocate(count: model.inputFeatures, repeating: 0)
        touchedCounts = .allocate(count: 0, repeating: 0)
    }

    deinit {
        denseSlots.deallocate(); losses.deallocate(); partialColumns.deallocate(); partialValues.deallocate()
        partialCounts.deallocate(); touched.deallocate(); touchedCounts.deallocate()
        for buffer in places + entrySlots + seen { buffer.deallocate() }
    }

    /// The columns the last ``gradient(of:data:rows:clearingAll:)`` wrote, ascending.
    var touchedColumns: [Int32] {
        ranges.indices.flatMap { r in (0..<touchedCounts[r]).map { touched[ranges[r].lowerBound + $0] } }
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
            entrySlots = (0..<pool.workers).map { _ in .allocate(count: largest, repeating: 0) }
            seen = (0..<pool.workers).map { _ in .allocate(count: largest, repeating: 0) }
            entryCapacity = largest
        }
        if entries > partialCapacity {
            partialColumns.deallocate(); partialValues.deallocate()
            partialColumns = .allocate(count: entries, repeating: 0)
            partialValues = .allocate(count: entries * width, repeating: 0)
            partialCapacity = entries
        }

        let model = self.model, width = self.width, workers = pool.workers, claims = self.claims
        let denseSlots = self.denseSlots, denseStride = self.denseStride, denseCount = self.denseCount, losses = self.losses
        let places = self.places, entrySlots = self.entrySlots, seen = self.seen
        let partialColumns = self.partialColumns, partialValues = self.partialValues, partialCounts = self.partialCounts
        let theta = SharedBuffer(parameters.values.withUnsafeMutableBufferPointer { $0.baseAddress! }, count: parameters.count)
        let offsets = SharedBuffer(data.offsets.base + data.offsetStart, count: data.rows + 1)
        let columns = SharedBuffer(data.columns.base, count: data.columns.count)
        let values = SharedBuffer(data.values.base, count: data.values.count)
        let y = SharedBuffer(data.y.base, count: data.y.count), yStride = data.targetsPerRow
        let weights = data.weights.map { SharedBuffer($0.base, count: $0.count) }
        claims.value.store(0, ordering: .relaxed)
        pool.run { w in
            let place = places[w], slots = entrySlots[w], list = seen[w]
            while true {
                let c = claims.value.add(1, ordering: .relaxed).oldValue
                guard c < chunkCount else { break }
                let chunk = plan.chunk(c)
                let lower = Int(offsets[chunk.lowerBound]), upper = Int(offsets[chunk.upperBound])
                // The distinct columns, sorted, and each one's place.
                var distinct = 0
                for e in lower..<upper where place[Int(columns[e])] < 0 {
                    place[Int(columns[e])] = 0
                    list[distinct] = columns[e]
                    distinct += 1
                }
                var sorting = UnsafeMutableBufferPointer(start: list.base, count: distinct)
                sorting.sort()
                for s in 0..<distinct { place[Int(list[s])] = Int32(s) }
                for e in lower..<upper { slots[e - lower] = place[Int(columns[e])] }
                let region = lower - first
                let out = partialColumns.base + region, outValues = partialValues.base + region * width
                out.update(from: list.base, count: distinct)
                outValues.update(repeating: 0, count: distinct * width)
                let dense = denseSlots.base + c * denseStride
                dense.update(repeating: 0, count: denseCount)
                let block = SparseRowBlock(offsets: offsets.base + chunk.lowerBound, columns: columns.base,
                                           values: values.base, slots: slots.base, y: y.base + chunk.lowerBound * yStride, yStride: yStride,
                                           count: chunk.count, weights: weights.map { UnsafePointer($0.base + chunk.lowerBound) })
                losses[c] = model.accumulateGradient(parameters: theta.base, rows: block,
                                                     gradient: SparseGradient(columns: outValues, dense: dense))
                partialCounts[c] = distinct
                for s in 0..<distinct { place[Int(list[s])] = -1 }
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
                for r in ranges.indices { touchedCounts[r] = 0 }
                gradientOwner = ObjectIdentifier(parameters)
            }
            merge(plan: plan, first: first, data: data, into: grad, factor: factor)
            // The dense parameters: the dense engine's tree over their slots, then scaled.
            reduceTree(denseSlots, stride: denseStride, count: chunkCount, elements: 0..<denseCount)
            scale(denseSlots.base, by: factor, into: grad.base + weightCount, denseCount)
        }
        parameters.markAllGradientsDefined()
        let lossSum = reduceTree(losses, count: chunkCount)
        now = ContinuousClock.now
        reduceSeconds += seconds(now - reduceStart)
        return lossSum / Double(elements)
    }

    /// Steps 3 and 4 of the design: the previous gradient's columns zeroed, then ranges of columns,
    /// each merged through the chunk tree by one worker and written (scaled) into the gradient.
    private func merge(plan: ShardPlan, first: Int, data: SparseDataset<Scalar>, into grad: SharedBuffer<Scalar>, factor: Scalar) {
        let chunkCount = plan.chunkCount, width = self.width, d = features
        // Each chunk's partial: its region's start and its column count.
        var starts = [Int](repeating: 0, count: chunkCount)
        for c in 0..<chunkCount { starts[c] = data.entryStart(plan.chunk(c).lowerBound) - first }
        let newRanges = columnRanges(starts: starts)
        // Phase 1: the previous gradient's columns back to 0, range by range (its own ranges).
        let previous = ranges, previousCounts = touchedCounts, touched = self.touched, claims = self.claims
        claims.value.store(0, ordering: .relaxed)
        let clear: @Sendable (Int) -> Void = { _ in
            while true {
                let r = claims.value.add(1, ordering: .relaxed).oldValue
                guard r < previous.count else { break }
                for i in 0..<previousCounts[r] {
                    let column = Int(touched[previous[r].lowerBound + i])
                    for row in 0..<width { grad[row * d + column] = 0 }
                }
            }
        }
        if previous.count > 1 { pool.run(clear) } else { clear(0) }
        if newRanges.count != previous.count {
            touchedCounts.deallocate()
            touchedCounts = .allocate(count: newRanges.count, repeating: 0)
        }
        ranges = newRanges
        let ranges = self.ranges, touchedCounts = self.touchedCounts
        let partialColumns = self.partialColumns, partialValues = self.partialValues, partialCounts = self.partialCounts
        let regionStarts = starts
        claims.value.store(0, ordering: .relaxed)
        let run: @Sendable (Int) -> Void = { _ in
            while true {
                let r = claims.value.add(1, ordering: .relaxed).oldValue
                guard r < ranges.count else { break }
                let range = ranges[r]
                // Each chunk's columns in the range, copied side by side (lists[c] = its place and count).
                var parts = [(start: Int, count: Int)](repeating: (0, 0), count: chunkCount)
                var total = 0
                for c in 0..<chunkCount {
                    let list = UnsafeBufferPointer(start: partialColumns.base + regionStarts[c], count: partialCounts[c])
                    let low = lowerBound(list, Int32(range.lowerBound)), high = lowerBound(list, Int32(clamping: range.upperBound))
                    parts[c] = (low, high - low)
                    total += high - low
                }
                var columnsA = [Int32](repeating: 0, count: total), columnsB = columnsA
                var valuesA = [Scalar](repeating: 0, count: total * width), valuesB = valuesA
                var lists = [(start: Int, count: Int)](repeating: (0, 0), count: chunkCount)
                var at = 0
                for c in 0..<chunkCount {
                    let (low, count) = parts[c], source = regionStarts[c] + low
                    for i in 0..<count { columnsA[at + i] = partialColumns[source + i] }
                    for i in 0..<count * width { valuesA[at * width + i] = partialValues[source * width + i] }
                    lists[c] = (at, count)
                    at += count
                }
                // The tree: node i takes node i + step at each level, merged into the other buffer.
                var inA = true, step = 1
                while step < chunkCount {
                    columnsA.withUnsafeMutableBufferPointer { ca in columnsB.withUnsafeMutableBufferPointer { cb in
                        valuesA.withUnsafeMutableBufferPointer { va in valuesB.withUnsafeMutableBufferPointer { vb in
                            let (fromC, toC, fromV, toV) = inA ? (ca, cb, va, vb) : (cb, ca, vb, va)
                            var i = 0
                            while i < chunkCount {
                                let a = lists[i]
                                if i + step < chunkCount {
                                    let b = lists[i + step]
                                    lists[i].count = mergeSorted(fromC, fromV, a, b, into: toC, toV, at: a.start, width: width)
                                } else {
                                    for j in 0..<a.count { toC[a.start + j] = fromC[a.start + j] }
                                    for j in 0..<a.count * width { toV[a.start * width + j] = fromV[a.start * width + j] }
                                }
                                i += 2 * step
                            }
                        } }
                    } }
                    inA.toggle()
                    step *= 2
                }
                let result = lists[0]
                let (resultColumns, resultValues) = inA ? (columnsA, valuesA) : (columnsB, valuesB)
                for i in 0..<result.count {
                    let column = Int(resultColumns[result.start + i])
                    touched[range.lowerBound + i] = Int32(column)
                    for row in 0..<width { grad[row * d + column] = resultValues[(result.start + i) * width + row] * factor }
                }
                touchedCounts[r] = result.count
            }
        }
        if ranges.count > 1 { pool.run(run) } else { run(0) }
    }

    /// Ranges of columns for the merge, cut at quantiles of a sample of the chunks' columns (each
    /// chunk's list sampled evenly: columns in many chunks weigh more, as they cost more to merge).
    /// One range with one worker or one chunk.
    private func columnRanges(starts: [Int]) -> [Range<Int>] {
        let pieces = pool.workers > 1 && starts.count > 1 ? min(4 * pool.workers, features) : 1
        guard pieces > 1 else { return [0..<features] }
        var sample: [Int32] = []
        let perChunk = max(1, 64 * pieces / starts.count)
        for c in starts.indices {
            let count = partialCounts[c]
            guard count > 0 else { continue }
            for i in 0..<min(perChunk, count) { sample.append(partialColumns[starts[c] + i * count / min(perChunk, count)]) }
        }
        sample.sort()
        guard !sample.isEmpty else { return [0..<features] }
        var cuts = [0]
        for p in 1..<pieces {
            let cut = Int(sample[p * sample.count / pieces])
            if cut > cuts.last! { cuts.append(cut) }
        }
        cuts.append(features)
        return (0..<cuts.count - 1).map { cuts[$0]..<cuts[$0 + 1] }
    }
}

/// The first index of `list` (ascending) whose value is ≥ `value`.
@inline(__always)
func lowerBound(_ list: UnsafeBufferPointer<Int32>, _ value: Int32) -> Int {
    var low = 0, high = list.count
    while low < high {
        let mid = (low + high) / 2
        if list[mid] < value { low = mid + 1 } else { high = mid }
    }
    return low
}

/// Merges sorted lists `a` and `b` (places in `columns`, `width` values per column in `values`)
/// into `outColumns`/`outValues` from `at`; a column in both gets a + b. Returns the merged count.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
func mergeSorted<Scalar: TrainingScalar>(_ columns: UnsafeMutableBufferPointer<Int32>, _ values: UnsafeMutableBufferPointer<Scalar>,
                                         _ a: (start: Int, count: Int), _ b: (start: Int, count: Int),
                                         into outColumns: UnsafeMutableBufferPointer<Int32>, _ outValues: UnsafeMutableBufferPointer<Scalar>,
                                         at: Int, width: Int) -> Int {
    var i = a.start, j = b.start, o = at
    let aEnd = a.start + a.count, bEnd = b.start + b.count
    while i < aEnd || j < bEnd {
        if j == bEnd || (i < aEnd && columns[i] < columns[j]) {
            outColumns[o] = columns[i]
            for r in 0..<width { outValues[o * width + r] = values[i * width + r] }
            i += 1
        } else if i == aEnd || columns[j] < columns[i] {
            outColumns[o] = columns[j]
            for r in 0..<width { outValues[o * width + r] = values[j * width + r] }
            j += 1
        } else {
            outColumns[o] = columns[i]
            for r in 0..<width { outValues[o * width + r] = values[i * width + r] + values[j * width + r] }
            i += 1
            j += 1
        }
        o += 1
    }
    return o - at
}
