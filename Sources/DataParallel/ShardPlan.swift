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
        let m = chunkCount
        return (w * m / workers)..<((w + 1) * m / workers)
    }
}

/// Sums `count` slots of `stride` elements into slot 0, over elements `elements` only, in a fixed
/// pairwise tree over the slot index: ((s0 + s1) + (s2 + s3)) + ... The order depends only on
/// `count`, so any thread may reduce any slice and the bits are the same.
func reduceTree(_ slots: SharedBuffer<Float>, stride: Int, count: Int, elements: Range<Int>) {
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
