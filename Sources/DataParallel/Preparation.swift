import Models
import Optim
import Datasets
import VectorMath

extension Standardization {
    /// The means and scales of `data`'s features over `rows` (default: every row), computed
    /// data-parallel: Double sums over fixed 4096-row chunks of `rows`, added in the fixed tree
    /// order over the chunk index, so the figures are the same for any worker count.
    public init<Scalar>(of data: Dataset<Scalar>, rows: [Int]? = nil, workers: Int? = nil, bind: Bool = true) {
        let pool = WorkerPool(workers: workers ?? defaultWorkerCount(), bind: bind)
        defer { pool.release() }
        self.init(of: data, rows: rows ?? Array(0..<data.rows), pool: pool)
    }

    /// The same over `rows` (sorted) of data spread over a cluster's ranks: rank r sums its run
    /// of the chunks (their rows fetched from the ranks holding them) and the chunk sums are
    /// gathered, so every rank adds the very partials of one process in the same tree: the same
    /// bits. Every rank calls it alike.
    public init<Scalar: TrainingScalar>(of data: ScatteredRows<Scalar>, rows selected: [Int], workers: Int? = nil, bind: Bool = true) {
        let pool = WorkerPool(workers: workers ?? defaultWorkerCount(), bind: bind)
        defer { pool.release() }
        let cluster = data.cluster, plan = ShardPlan(rows: 0..<selected.count, chunkRows: Standardization.chunkRows)
        let local = TreeSplit.chunks(rank: cluster.rank, of: cluster.size, chunkCount: plan.chunkCount)
        let first = local.isEmpty ? 0 : plan.chunk(local.lowerBound).lowerBound
        let last = local.isEmpty ? 0 : plan.chunk(local.upperBound - 1).upperBound
        let fetched = data.fetch(Array(selected[first..<last]))
        let rows = fetched.shared
        let counts = (0..<cluster.size).map { TreeSplit.chunks(rank: $0, of: cluster.size, chunkCount: plan.chunkCount).count }
        self.init(rows: selected.count, features: data.dataset.features, computing: local, pool: pool,
                  row: { rows.row($0 - first) }) { partials, stride in
            withExtendedLifetime(fetched) {}
            return cluster.gather(partials, counts: counts.map { $0 * stride })
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    init<Scalar: VectorScalar>(of data: Dataset<Scalar>, rows selected: [Int], pool: WorkerPool) {
        let order = SharedBuffer<Int>.allocate(count: selected.count, repeating: 0)
        defer { order.deallocate() }
        for (i, row) in selected.enumerated() { order[i] = row }
        let x = SharedBuffer(data.x.base, count: data.x.count), xStride = data.rowStride
        let chunks = ShardPlan(rows: 0..<selected.count, chunkRows: Standardization.chunkRows).chunkCount
        self.init(rows: selected.count, features: data.features, computing: 0..<chunks, pool: pool,
                  row: { x.base + order[$0] * xStride }) { partials, _ in partials }
    }

    /// Rows per chunk of the sums.
    static let chunkRows = 4096

    /// The figures of `count` rows, row i's features at `row(i)`: the chunks `computing` summed
    /// here, `combine` giving every chunk's sums from those (`stride` values per chunk; the
    /// identity when this process computes them all).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    init<Scalar: VectorScalar>(rows count: Int, features d: Int, computing: Range<Int>, pool: WorkerPool,
                               row: @escaping @Sendable (Int) -> UnsafeMutablePointer<Scalar>,
                               combine: ([Double], Int) -> [Double]) {
        let plan = ShardPlan(rows: 0..<count, chunkRows: Standardization.chunkRows)
        let chunks = plan.chunkCount, stride = (d + 7) / 8 * 8
        let partials = SharedBuffer<Double>.allocate(count: max(computing.count, 1) * stride, repeating: 0)
        defer { partials.deallocate() }
        let column = SharedBuffer<Double>.allocate(count: chunks, repeating: 0)
        defer { column.deallocate() }
        let workers = pool.workers, n = Double(count), firstChunk = computing.lowerBound
        /// Every chunk's sums, in chunk order.
        func gathered() -> [Double] { combine(Array(UnsafeBufferPointer(start: partials.base, count: computing.count * stride)), stride) }
        /// Σ over the chunks of all[c][j], in the fixed tree order.
        func total(_ all: [Double], _ j: Int) -> Double {
            for c in 0..<chunks { column[c] = all[c * stride + j] }
            return reduceTree(column, count: chunks)
        }
        // Two passes (means, then squared deviations from them): exact where Σx² − n·mean² cancels.
        pool.run { w in
            for c in plan.chunks(worker: w, of: workers, within: computing) {
                let sums = partials.base + (c - firstChunk) * stride
                for i in plan.chunk(c) {
                    let features = row(i)
                    for j in 0..<d { sums[j] += Double(features[j]) }
                }
            }
        }
        let sums = gathered()
        let means = (0..<d).map { total(sums, $0) / n }
        for i in 0..<computing.count * stride { partials[i] = 0 }
        let meanBuffer = SharedBuffer<Double>.allocate(count: d, repeating: 0)
        defer { meanBuffer.deallocate() }
        for j in 0..<d { meanBuffer[j] = means[j] }
        pool.run { w in
            for c in plan.chunks(worker: w, of: workers, within: computing) {
                let sums = partials.base + (c - firstChunk) * stride
                for i in plan.chunk(c) {
                    let features = row(i)
                    for j in 0..<d {
                        let deviation = Double(features[j]) - meanBuffer[j]
                        sums[j] += deviation * deviation
                    }
                }
            }
        }
        let deviations = gathered()
        let scales = (0..<d).map { j -> Float in
            let deviation = (total(deviations, j) / n).squareRoot()
            // scikit-learn's rule: a scale too small to divide by (a constant column) stays 1.
            return deviation > 10 * Double(Float.ulpOfOne) * max(abs(means[j]), 1) ? Float(deviation) : 1
        }
        self.init(means: means.map { Float($0) }, scales: scales)
    }

    /// Folds the standardization into the first layer of `parameters` (tensor `weight` or
    /// `0.weight` [outputs, features] and its bias), so that the model predicts on raw
    /// features: W' = W / scale column by column, b' = b − W' · mean (in Double). The inverse
    /// of training on standardized rows, to float32 rounding.
    public func fold<Scalar: TrainingScalar>(into parameters: Parameters<Scalar>) {
        guard let weightIndex = parameters.tensors.firstIndex(where: { $0.name == "weight" || $0.name == "0.weight" }),
              let biasIndex = parameters.tensors.firstIndex(where: { $0.name == "bias" || $0.name == "0.bias" }) else { return }
        let weight = parameters.tensors[weightIndex], bias = parameters.tensors[biasIndex]
        let d = means.count, outputs = weight.count / max(d, 1)
        guard weight.count == outputs * d, bias.count == outputs else { return }
        var values = parameters.values.array
        for o in 0..<outputs {
            var shift = 0.0
            for j in 0..<d {
                let w = values[weight.offset + o * d + j] / Scalar(scales[j])
                values[weight.offset + o * d + j] = w
                shift += Double(w) * Double(means[j])
            }
            values[bias.offset + o] = Scalar(Double(values[bias.offset + o]) - shift)
        }
        parameters.values.assign(values)
    }
}

/// Which rows train and which are held out.
public struct RowSplit: Sendable, Equatable {
    /// Training rows, in the (seeded, shuffled) order they are trained in.
    public var training: [Int]
    /// Held-out rows, ascending.
    public var validation: [Int]

    public init(training: [Int], validation: [Int]) {
        self.training = training
        self.validation = validation
    }

    /// Holds out `fraction` of `count` rows at random (seeded: the same for any worker count and
    /// run), stratified by `classes` when given (each class holds out its share, rounded, so
    /// that every class with two or more rows is on both sides), and shuffles the training rows.
    /// With `shuffle` false the last rows are held out and the rest keep their order.
    public init(rows count: Int, validationFraction fraction: Double, seed: UInt64, classes: [Int]? = nil, shuffle: Bool = true) {
        guard shuffle else {
            let held = Int((Double(count) * fraction).rounded())
            self.training = Array(0..<(count - held))
            self.validation = Array((count - held)..<count)
            return
        }
        var random = SplitMix64(seed: seed ^ 0x5EED_5EED_0000_0001)
        var validation: [Int] = [], training: [Int] = []
        if let classes {
            var members: [Int: [Int]] = [:]
            for (row, label) in classes.enumerated() { members[label, default: []].append(row) }
            for label in members.keys.sorted() {
                var rows = members[label]!
                random.shuffle(&rows)
                var held = Int((Double(rows.count) * fraction).rounded())
                if fraction > 0 && rows.count >= 2 { held = min(max(held, 1), rows.count - 1) }
                validation += rows[..<held]
                training += rows[held...]
            }
        } else {
            var rows = Array(0..<count)
            random.shuffle(&rows)
            let held = Int((Double(count) * fraction).rounded())
            validation = Array(rows[..<held])
            training = Array(rows[held...])
        }
        training.sort()
        random.shuffle(&training)
        self.training = training
        self.validation = validation.sorted()
    }
}

/// SplitMix64: the seeded generator of row orders and splits.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Fisher–Yates, from the last element down.
    mutating func shuffle(_ values: inout [Int]) {
        guard values.count > 1 else { return }
        for i in stride(from: values.count - 1, to: 0, by: -1) { values.swapAt(i, Int(next() % UInt64(i + 1))) }
    }
}

extension Dataset where Scalar: TrainingScalar {
    /// The rows `rows` of this data set, in that order, copied into packed storage by the
    /// workers (each row copied once, so the result does not depend on the worker count):
    /// features standardized by `standardization` when given, and each target replaced by
    /// `targetIndex(target)` when given (class labels to class indices).
    public func gathered(rows: [Int], name: String, standardization: Standardization? = nil,
                         targetIndex: (@Sendable (Float) -> Float)? = nil, workers: Int? = nil, bind: Bool = true) throws -> Dataset<Scalar> {
        let pending = try pendingGather(rows: rows, name: name, standardization: standardization, targetIndex: targetIndex,
                                        workers: workers, bind: bind)
        pending.fillAll()
        return pending.dataset
    }

    /// ``gathered(rows:name:standardization:targetIndex:workers:bind:)`` with the targets (and
    /// row weights) copied now and the features later, for the positions given to
    /// ``PendingFeatures/fill(rows:)`` only: what a rank of a cluster copies of a shuffled data set.
    /// `scattered`: the features will be written in scattered runs (a rank's), so the copy is
    /// mapped in small pages.
    ///
    /// `source`: this data set is a cluster's ``ScatteredRows``, whose ranks hold different rows;
    /// then filling fetches the rows from the ranks that hold them, and every rank fills at the
    /// same point.
    public func pendingGather(rows: [Int], name: String, standardization: Standardization? = nil,
                              targetIndex: (@Sendable (Float) -> Float)? = nil, workers: Int? = nil,
                              bind: Bool = true, scattered: Bool = false, source spread: ScatteredRows<Scalar>? = nil) throws -> PendingFeatures<Scalar> {
        let d = features, k = targetsPerRow, n = rows.count
        let x = ScalarStorage<Scalar>(count: n * d, hugePages: !scattered), y = ScalarStorage<Scalar>(count: n * k)
        let weights = self.weights.map { source in ScalarStorage<Scalar>(rows.map { source[$0] }) }
        for (i, row) in rows.enumerated() {
            for o in 0..<k {
                let value = target(row, o)
                y.base[i * k + o] = targetIndex.map { Scalar($0(Float(value))) } ?? value
            }
        }
        let dataset = try Dataset(name: name, x: x, y: y, rows: n, features: d, targetsPerRow: k, trueWeights: trueWeights, labels: labels,
                                  weights: weights)
        let source = SharedBuffer(self.x.base, count: self.x.count), destination = SharedBuffer(x.base, count: x.count)
        let xStride = rowStride
        let means = standardization.map { $0.means.map { Scalar($0) } }, scales = standardization.map { $0.scales.map { Scalar($0) } } ?? []
        let owner = self
        return PendingFeatures(dataset: dataset) { positions in
            let pool = WorkerPool(workers: workers ?? defaultWorkerCount(), bind: bind)
            defer { pool.release() }
            let count = pool.workers, total = positions.reduce(0) { $0 + $1.count }
            if let spread {
                // The rows from wherever they are, then each worker its share of them, in order.
                let places = positions.flatMap { $0 }
                let fetched = spread.fetch(places.map { rows[$0] })
                let from = fetched.shared
                withExtendedLifetime(fetched) {
                    pool.run { w in
                        for k in (w * total / count)..<((w + 1) * total / count) {
                            copyRow(from: from.row(k), to: destination.base + places[k] * d, d, means, scales)
                        }
                    }
                }
                return
            }
            withExtendedLifetime(owner) {
                pool.run { w in
                    // Worker w copies its share of the positions, in order.
                    var skip = w * total / count, left = (w + 1) * total / count - skip
                    for range in positions where left > 0 {
                        guard skip < range.count else { skip -= range.count; continue }
                        let part = (range.lowerBound + skip)..<min(range.upperBound, range.lowerBound + skip + left)
                        skip = 0
                        left -= part.count
                        for i in part { copyRow(from: source.base + rows[i] * xStride, to: destination.base + i * d, d, means, scales) }
                    }
                }
            }
        }
    }
}

/// One row's features, standardized when `means` are given: (x − mean) / scale.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
private func copyRow<Scalar: TrainingScalar>(from: UnsafeMutablePointer<Scalar>, to: UnsafeMutablePointer<Scalar>, _ d: Int,
                                            _ means: [Scalar]?, _ scales: [Scalar]) {
    if let means {
        for j in 0..<d { to[j] = (from[j] - means[j]) / scales[j] }
    } else {
        to.update(from: from, count: d)
    }
}
