import Models

// The steps of `SparseGradientEngine` that touch values, specialized for Float and Double (the
// engine itself runs generic under an opened existential model): filing a chunk's columns by
// range, folding a range over the chunks, moving columns out of an accumulator, zeroing them.

/// Which of a minibatch's column ranges holds a column, in a step or two: a table over blocks of
/// 2^shift columns gives the range of each block's first column, and a range that ends inside
/// the block is stepped past.
struct RangeTable: Sendable {
    let ends: [Int32]
    let shift: Int
    let first: [UInt16]

    init(ranges: [Range<Int>], features: Int) {
        ends = ranges.map { Int32(clamping: $0.upperBound) }
        var shift = 0
        while features >> shift > 4096 { shift += 1 }
        self.shift = shift
        var first = [UInt16](repeating: 0, count: (features >> shift) + 1)
        var r = 0
        for block in first.indices {
            while r < ranges.count - 1 && block << shift >= ranges[r].upperBound { r += 1 }
            first[block] = UInt16(r)
        }
        self.first = first
    }

    var count: Int { ends.count }

    @inline(__always) func range(of column: Int32) -> Int {
        var r = Int(first[Int(column) >> shift])
        while column >= ends[r] { r += 1 }
        return r
    }
}

/// Where a chunk's column values are before they are filed: in a compact list, `width` per
/// column in list order, or in the worker's column-major accumulator (which is left zero, its
/// marks cleared).
enum ChunkValues<Scalar: TrainingScalar> {
    case list(UnsafePointer<Scalar>)
    case accumulator(UnsafeMutablePointer<Scalar>, marks: UnsafeMutablePointer<UInt64>)
}

/// Files a chunk's columns (`count` of them, `width` values each) by range into its region: range
/// r's part at `parts.starts[r]`, `parts.counts[r]` long, in first-seen order within a range.
/// `scratch` holds each column's range between the two passes.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
func fileByRange<Scalar: TrainingScalar>(_ list: UnsafePointer<Int32>, count: Int, width: Int, cuts: RangeTable,
                                         parts: (starts: UnsafeMutablePointer<Int>, counts: UnsafeMutablePointer<Int>),
                                         into region: (UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Scalar>),
                                         scratch: UnsafeMutablePointer<Int32>, from source: ChunkValues<Scalar>) {
    let ranges = cuts.count
    for r in 0..<ranges { parts.counts[r] = 0 }
    if ranges > 1 {
        for s in 0..<count {
            let r = cuts.range(of: list[s])
            scratch[s] = Int32(r)
            parts.counts[r] += 1
        }
    } else {
        for s in 0..<count { scratch[s] = 0 }
        parts.counts[0] = count
    }
    var at = 0
    for r in 0..<ranges {
        parts.starts[r] = at
        at += parts.counts[r]
        parts.counts[r] = 0
    }
    for s in 0..<count {
        let r = Int(scratch[s]), to = parts.starts[r] + parts.counts[r], column = Int(list[s])
        parts.counts[r] += 1
        region.0[to] = list[s]
        switch source {
        case .list(let values):
            for row in 0..<width { region.1[to * width + row] = values[s * width + row] }
        case .accumulator(let accumulator, let marks):
            for row in 0..<width {
                region.1[to * width + row] = accumulator[column * width + row]
                accumulator[column * width + row] = 0
            }
            marks[column >> 6] &= ~(UInt64(1) << UInt64(column & 63))
        }
    }
}

/// Columns `columns[0..<count]` of a [width, features] gradient set to 0.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
func zeroColumns<Scalar: TrainingScalar>(_ grad: UnsafeMutablePointer<Scalar>, _ columns: UnsafePointer<Int32>, count: Int, width: Int,
                                         features d: Int) {
    for i in 0..<count {
        let column = Int(columns[i])
        for row in 0..<width { grad[row * d + column] = 0 }
    }
}

/// One range's sum over the chunks (steps 2 and 3 of `SparseGradientEngine`): the chunks' parts
/// of it added in chunk order, ((p0 + p1) + p2) + ..., into the worker's column-major accumulator
/// (`direct`) or a compact list found through `place`, then written times `factor` into the
/// [width, features] gradient, the columns into `touched`. Returns how many columns. Both ways
/// make the same additions: a column's first part is added to 0.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
func foldRange<Scalar: TrainingScalar>(parts: (starts: UnsafePointer<Int>, counts: UnsafePointer<Int>), stride: Int, regions: [Int],
                                       from partials: (UnsafePointer<Int32>, UnsafePointer<Scalar>), width: Int,
                                       direct: (UnsafeMutablePointer<Scalar>, UnsafeMutablePointer<UInt64>)?, place: UnsafeMutablePointer<Int32>,
                                       factor: Scalar, into grad: UnsafeMutablePointer<Scalar>, features d: Int,
                                       touched: UnsafeMutablePointer<Int32>) -> Int {
    let (columns, values) = partials
    var count = 0
    if let (accumulator, marks) = direct {
        for (c, region) in regions.enumerated() {
            let start = region + parts.starts[c * stride]
            for i in start..<(start + parts.counts[c * stride]) {
                let column = Int(columns[i]), word = column >> 6, bit = UInt64(1) << UInt64(column & 63)
                if marks[word] & bit == 0 {
                    marks[word] |= bit
                    touched[count] = Int32(column)
                    count += 1
                }
                for row in 0..<width { accumulator[column * width + row] += values[i * width + row] }
            }
        }
        for s in 0..<count {
            let column = Int(touched[s])
            for row in 0..<width {
                grad[row * d + column] = accumulator[column * width + row] * factor
                accumulator[column * width + row] = 0
            }
            marks[column >> 6] &= ~(UInt64(1) << UInt64(column & 63))
        }
        return count
    }
    var total = 0
    for c in regions.indices { total += parts.counts[c * stride] }
    let sums = UnsafeMutablePointer<Scalar>.allocate(capacity: max(total * width, 1))
    defer { sums.deallocate() }
    for (c, region) in regions.enumerated() {
        let start = region + parts.starts[c * stride]
        for i in start..<(start + parts.counts[c * stride]) {
            let column = Int(columns[i])
            var at = Int(place[column])
            if at < 0 {
                at = count
                place[column] = Int32(count)
                touched[count] = Int32(column)
                for row in 0..<width { sums[count * width + row] = 0 }
                count += 1
            }
            for row in 0..<width { sums[at * width + row] += values[i * width + row] }
        }
    }
    for s in 0..<count {
        let column = Int(touched[s])
        for row in 0..<width { grad[row * d + column] = sums[s * width + row] * factor }
        place[column] = -1
    }
    return count
}
