import Datasets
import Models

extension FitConfiguration {
    /// The rows that this rank of ``cluster`` reads in a fit of `model`: of the training rows,
    /// its run of the chunks of every minibatch (and, without validation data and with
    /// ``scoreTrainingData``, its run of the final scoring's chunks); of the validation rows, its
    /// run of their chunks. Sorted, disjoint ranges. One process reads every row.
    ///
    /// A rank needs the features of these rows only: the others may stay unwritten (see
    /// ``PendingFeatures``), so that R ranks together hold the data once, not R times.
    public func rowsRead<M: Model>(model: M, trainingRows: Int, validationRows: Int?,
                                   scalarBytes: Int = 4) -> (training: [Range<Int>], validation: [Range<Int>]) {
        guard cluster.size > 1 else { return ([0..<trainingRows], validationRows.map { [0..<$0] } ?? []) }
        let batch = max(1, min(batchSize, trainingRows))
        let chunkRows = self.chunkRows(for: model, batchRows: batch, scalarBytes: scalarBytes)
        let rank = cluster.rank, ranks = cluster.size
        func runOfChunks(_ rows: Range<Int>) -> Range<Int>? {
            let plan = ShardPlan(rows: rows, chunkRows: chunkRows)
            let local = TreeSplit.chunks(rank: rank, of: ranks, chunkCount: plan.chunkCount)
            guard !local.isEmpty else { return nil }
            return plan.chunk(local.lowerBound).lowerBound..<plan.chunk(local.upperBound - 1).upperBound
        }
        var training = stride(from: 0, to: trainingRows, by: batch).compactMap { runOfChunks($0..<min($0 + batch, trainingRows)) }
        if validationRows == nil && scoreTrainingData, let scored = runOfChunks(0..<trainingRows) { training.append(scored) }
        let validation = validationRows.flatMap { runOfChunks(0..<$0) }.map { [$0] } ?? []
        return (merged(training), validation)
    }
}

/// `ranges` sorted, with overlapping and adjacent ones joined.
func merged(_ ranges: [Range<Int>]) -> [Range<Int>] {
    var result: [Range<Int>] = []
    for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) where !range.isEmpty {
        if let last = result.last, range.lowerBound <= last.upperBound {
            result[result.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
        } else {
            result.append(range)
        }
    }
    return result
}

/// A data set whose targets (and row weights) are in place and whose features are written on
/// demand, for given rows only: what a rank of a cluster holds, the rows it reads
/// (``FitConfiguration/rowsRead(model:trainingRows:validationRows:scalarBytes:)``) written and
/// the rest left as untouched pages. The features written are those the whole data set would
/// have, so the fit's results do not change.
public struct PendingFeatures<Scalar: TrainingScalar> {
    /// The data set: targets everywhere, features where ``fill(rows:)`` wrote them (zero elsewhere).
    public let dataset: Dataset<Scalar>
    private let write: ([Range<Int>]) -> Void

    init(dataset: Dataset<Scalar>, write: @escaping ([Range<Int>]) -> Void) {
        self.dataset = dataset
        self.write = write
    }

    /// Writes the features of `rows` (sorted, disjoint ranges of the data set's rows).
    public func fill(rows: [Range<Int>]) { write(rows) }

    /// Writes every row's features.
    public func fillAll() { write([0..<dataset.rows]) }
}

extension SyntheticRegression {
    /// The data set with its targets generated and its features written later, by
    /// ``PendingFeatures/fill(rows:)``, for the rows a rank reads: the values are those of
    /// ``generate(workers:bind:chunkRows:)`` wherever they are written. (The targets need each
    /// row's features, which are generated into a small scratch buffer and dropped.)
    public func generatePending(workers: Int? = nil, bind: Bool = true, chunkRows: Int = 4096) throws -> PendingFeatures<Float> {
        guard MemoryBudget.floats(rows: rows, columns: targetsPerRow) != nil else {
            throw DatasetError.shape("synthetic targets of \(rows) rows " + MemoryBudget.refusal(rows * targetsPerRow * 4))
        }
        let x = FloatStorage(count: rows * features, hugePages: false), y = FloatStorage(count: rows * targetsPerRow)
        let weights = trueWeights, spec = self, d = features
        let ys = SharedBuffer(y.base, count: y.count)
        let plan = ShardPlan(rows: 0..<rows, chunkRows: chunkRows)
        let pool = WorkerPool(workers: workers ?? defaultWorkerCount(), bind: bind)
        let count = pool.workers
        pool.run { w in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: chunkRows * d)
            defer { scratch.deallocate() }
            for c in plan.chunks(worker: w, of: count) {
                let chunk = plan.chunk(c)
                // fill() addresses rows by their global index: the scratch shifted back to row 0.
                spec.fill(rows: chunk, x: scratch - chunk.lowerBound * d, y: ys.base, weights: weights)
            }
        }
        pool.release()
        let dataset = try self.dataset(x: x, y: y, weights: weights)
        let xs = SharedBuffer(x.base, count: x.count), k = targetsPerRow
        return PendingFeatures(dataset: dataset) { ranges in
            // The rows in chunks, shared by the workers; each chunk's targets again, into scratch
            // (they are in place), its features into the data set.
            let pieces = ranges.flatMap { range in
                stride(from: range.lowerBound, to: range.upperBound, by: chunkRows).map { $0..<min($0 + chunkRows, range.upperBound) }
            }
            let pool = WorkerPool(workers: workers ?? defaultWorkerCount(), bind: bind)
            defer { pool.release() }
            let count = pool.workers
            pool.run { w in
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: chunkRows * k)
                defer { scratch.deallocate() }
                for i in (w * pieces.count / count)..<((w + 1) * pieces.count / count) {
                    let rows = pieces[i]
                    spec.fill(rows: rows, x: xs.base, y: scratch - rows.lowerBound * k, weights: weights)
                }
            }
        }
    }
}
