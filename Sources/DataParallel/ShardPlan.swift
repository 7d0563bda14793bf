import Models
/// How a minibatch is cut for the workers: into chunks of a fixed number of rows that depends on
/// the minibatch, never on the worker count; worker w computes a contiguous run of chunks.
///
/// Each chunk's partial gradient is computed by one kernel call, in row order, and the partials
/// are summed by a fixed pairwise tree over the chunk index (``reduceTree``). So the gradient, and
/// the weights after any number of steps, are bitwise the same for any number of workers.
struct ShardPlan {
    let rows: Range<Int>
    let chunkRows: Int

    var chunkCount: Int { (rows.count + chunkRows - 1) / chunkRows }

    /// The rows of chunk c.
    func chunk(_ c: Int) -> Range<Int> {
        let start = rows.lowerBound + c * chunkRows
        return start..<min(start + chunkRows, rows.upperBound)
    }

    /// The chunks worker w of `workers` computes.
    func chunks(worker w: Int, of workers: Int) -> Range<Int> {
        chunks(worker: w, of: workers, within: 0..<chunkCount)
    }

    /// The chunks of `range` (a rank's run of chunks) worker w of `workers` computes.
    func chunks(worker w: Int, of workers: Int, within range: Range<Int>) -> Range<Int> {
        let m = range.count
        return (range.lowerBound + w * m / workers)..<(range.lowerBound + (w + 1) * m / workers)
    }
}

extension ShardPlan {
    /// The chunk size a fit or an evaluator uses unless told otherwise: a function of the model's
    /// size and the minibatch's rows only (never of the workers), so results stay the same for
    /// any worker count. The largest power of two that
    /// - gives a minibatch at least 64 chunks (so that up to 64 workers, and the work stealing
    ///   that evens out late or slow ones, have chunks to share),
    /// - keeps a chunk near 2²⁰ multiply-adds (about one per parameter and row: a few tens of
    ///   microseconds of kernel, whatever the model),
    /// - within 128...4096 rows,
    /// but at least as many rows as keep the partial gradients' slots within 64 MiB (large
    /// models). Linear regression at d = 64 and batch 65,536 gets 1024 rows; batch 4096 gets 128;
    /// an MLP 256 → 32 → 1 gets 128.
    /// `requested`, or the automatic choice, at most the minibatch: what fits and evaluators use.
    static func chunkRows(requested: Int?, parameterCount: Int, batchRows: Int, scalarBytes: Int = 4) -> Int {
        max(1, min(requested ?? automaticChunkRows(parameterCount: parameterCount, batchRows: batchRows, scalarBytes: scalarBytes), batchRows))
    }

    static func automaticChunkRows(parameterCount: Int, batchRows: Int, scalarBytes: Int = 4) -> Int {
        func powerOfTwo(atMost n: Int) -> Int { n < 1 ? 1 : 1 << (Int.bitWidth - 1 - n.leadingZeroBitCount) }
        let byBatch = powerOfTwo(atMost: max(1, batchRows / 64))
        let byWork = powerOfTwo(atMost: max(1, (1 << 20) / max(1, parameterCount)))
        var rows = min(4096, max(128, min(byBatch, byWork)))
        let slotBytes = ((parameterCount + 15) / 16 * 16) * scalarBytes
        while rows < batchRows && (batchRows + rows - 1) / rows * slotBytes > 64 << 20 { rows *= 2 }
        return rows
    }
}

/// Sums `count` slots of `stride` elements into slot 0, over elements `elements` only, in a fixed
/// pairwise tree over the slot index: ((s0 + s1) + (s2 + s3)) + ... The order depends only on
/// `count`, so any thread may reduce any slice and the bits are the same.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
func reduceTree<Scalar: TrainingScalar>(_ slots: SharedBuffer<Scalar>, stride: Int, count: Int, elements: Range<Int>) {
    var step = 1
    while step < count {
        var i = 0
        while i + step < count {
            let destination = slots.base + i * stride, source = slots.base + (i + step) * stride
            for j in elements { destination[j] += source[j] }
            i += 2 * step
        }
        step *= 2
    }
}

/// The same tree over `Double` loss partials.
func reduceTree(_ values: SharedBuffer<Double>, count: Int) -> Double {
    var step = 1
    while step < count {
        var i = 0
        while i + step < count {
            values[i] += values[i + step]
            i += 2 * step
        }
        step *= 2
    }
    return count > 0 ? values[0] : 0
}
