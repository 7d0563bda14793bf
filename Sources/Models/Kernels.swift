// Vector kernels over Scalar or Double rows. Explicit SIMD16 with `acc += a * b`: Swift does not
// reassociate floating-point sums, so a plain loop would not vectorize a dot product. The
// accumulation order is fixed by the code, never by the thread that runs it.

import CKernelSupport

@inline(__always) @usableFromInline
func load16<Scalar: TrainingScalar>(_ p: UnsafePointer<Scalar>) -> SIMD16<Scalar> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Scalar>.self)
}

@inline(__always) @usableFromInline
func store16<Scalar: TrainingScalar>(_ v: SIMD16<Scalar>, _ p: UnsafeMutablePointer<Scalar>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Scalar>.self)
}

/// Σ a[i]·b[i] over n elements, in a fixed order: two 16-lane accumulators, then the tail.
@inline(__always) @usableFromInline
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
func dot<Scalar: TrainingScalar>(_ a: UnsafePointer<Scalar>, _ b: UnsafePointer<Scalar>, _ n: Int) -> Scalar {
    var acc0 = SIMD16<Scalar>(), acc1 = SIMD16<Scalar>()
    var i = 0
    while i + 32 <= n {
        acc0 += load16(a + i) * load16(b + i)
        acc1 += load16(a + i + 16) * load16(b + i + 16)
        i += 32
    }
    if i + 16 <= n {
        acc0 += load16(a + i) * load16(b + i)
        i += 16
    }
    var sum = horizontalSum(acc0 + acc1)
    while i < n {
        sum += a[i] * b[i]
        i += 1
    }
    return sum
}

/// The sum of the 16 lanes, by halving: (lanes 0-7 + lanes 8-15), then 4, 2, 1. A fixed order,
/// and a few vector adds instead of sixteen scalar ones.
@inline(__always) @usableFromInline
func horizontalSum<Scalar: TrainingScalar>(_ v: SIMD16<Scalar>) -> Scalar {
    let eight = v.lowHalf + v.highHalf
    let four = eight.lowHalf + eight.highHalf
    let two = four.lowHalf + four.highHalf
    return two.x + two.y
}

/// y[i] += alpha·x[i] over n elements.
@inline(__always) @usableFromInline
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
func axpy<Scalar: TrainingScalar>(_ alpha: Scalar, _ x: UnsafePointer<Scalar>, _ y: UnsafeMutablePointer<Scalar>, _ n: Int) {
    let a = SIMD16<Scalar>(repeating: alpha)
    var i = 0
    while i + 16 <= n {
        store16(load16(y + i) + a * load16(x + i), y + i)
        i += 16
    }
    while i < n {
        y[i] += alpha * x[i]
        i += 1
    }
}

@inline(__always) @usableFromInline
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
func load8<Scalar: TrainingScalar>(_ p: UnsafePointer<Scalar>) -> SIMD8<Scalar> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Scalar>.self)
}

@inline(__always) @usableFromInline
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
func store8<Scalar: TrainingScalar>(_ v: SIMD8<Scalar>, _ p: UnsafeMutablePointer<Scalar>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Scalar>.self)
}

/// Lane r = the sum of a_r's eight lanes, by the same fixed tree for every r:
/// ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)). In C (``optim_lane_sums8``): written with
/// Swift's shuffles, LLVM splits the multiply-adds before it into 128-bit halves.
@inline(__always) @usableFromInline
func laneSums<Scalar: TrainingScalar>(_ a0: SIMD8<Scalar>, _ a1: SIMD8<Scalar>, _ a2: SIMD8<Scalar>, _ a3: SIMD8<Scalar>,
              _ a4: SIMD8<Scalar>, _ a5: SIMD8<Scalar>, _ a6: SIMD8<Scalar>, _ a7: SIMD8<Scalar>) -> SIMD8<Scalar> {
    Scalar.laneSums(a0, a1, a2, a3, a4, a5, a6, a7)
}

/// The lanes as Double (loss sums are kept in Double), always inlined: see ``optim_widen8``.
@inline(__always) @usableFromInline
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
func widened<Scalar: TrainingScalar>(_ v: SIMD8<Scalar>) -> SIMD8<Double> {
    Scalar.widened(v)
}

/// The partial dot product of a row with w over the first `n8` (a multiple of 8) elements, in
/// four 8-lane accumulators (consecutive blocks of 8 columns in turn, so that a long row is four
/// chains of dependent FMAs, not two: measured 1.3× faster at d = 256), summed
/// (a0 + a1) + (a2 + a3). The row is read front to back, the order the hardware prefetcher
/// streams best: interleaving eight rows' columns measured 2× slower from memory.
@inline(__always) @usableFromInline
func rowPartial<Scalar: TrainingScalar>(_ x: UnsafePointer<Scalar>, _ w: UnsafePointer<Scalar>, _ n8: Int) -> SIMD8<Scalar> {
    var a0 = SIMD8<Scalar>(), a1 = SIMD8<Scalar>(), a2 = SIMD8<Scalar>(), a3 = SIMD8<Scalar>()
    var j = 0
    while j &+ 32 <= n8 {
        a0 = a0.addingProduct(load8(x + j), load8(w + j))
        a1 = a1.addingProduct(load8(x + j + 8), load8(w + j + 8))
        a2 = a2.addingProduct(load8(x + j + 16), load8(w + j + 16))
        a3 = a3.addingProduct(load8(x + j + 24), load8(w + j + 24))
        j &+= 32
    }
    if j &+ 8 <= n8 { a0 = a0.addingProduct(load8(x + j), load8(w + j)) }
    if j &+ 16 <= n8 { a1 = a1.addingProduct(load8(x + j + 8), load8(w + j + 8)) }
    if j &+ 24 <= n8 { a2 = a2.addingProduct(load8(x + j + 16), load8(w + j + 16)) }
    return (a0 + a1) + (a2 + a3)
}

/// A block's layout as a kernel sees it: read from the block, or, for the narrow contiguous
/// layouts that kernels are specialized for, constants (d columns a multiple of 8, rows d floats
/// apart). With constants LLVM unrolls the loops over
/// the columns and addresses the eight rows at fixed offsets from one pointer, which measured
/// 1.5× faster at d = 32 than loops of one or two iterations and eight row pointers.
@usableFromInline protocol RowLayout {
    /// The number of columns: `d`, or the layout's constant.
    static func features(d: Int) -> Int
    /// `block` with its strides replaced by the layout's constants.
    static func view<Scalar: TrainingScalar>(_ block: RowBlock<Scalar>) -> RowBlock<Scalar>
}

@usableFromInline enum AnyLayout: RowLayout {
    @inline(__always) @usableFromInline static func features(d: Int) -> Int { d }
    @inline(__always) @usableFromInline static func view<Scalar: TrainingScalar>(_ block: RowBlock<Scalar>) -> RowBlock<Scalar> { block }
}

/// A kernel over a block of rows, to be run specialized for the block's layout.
protocol LayoutSpecialized {
    associatedtype Result
    func callAsFunction<Layout: RowLayout>(_ layout: Layout.Type) -> Result
}

// `run(features:rowStride:)`, the dispatch over layouts, is defined in each file that runs
// kernels: in a debug build each file is compiled alone, and a generic function
// of another file is called unspecialized, with every SIMD operation a call (measured 40× slower).

/// Contiguous rows of `width` columns (a multiple of 8); the targets as the block has them.
@usableFromInline protocol ContiguousLayout: RowLayout { static var width: Int { get } }

extension ContiguousLayout {
    @inline(__always) @usableFromInline static func features(d: Int) -> Int { width }
    @inline(__always) @usableFromInline static func view<Scalar: TrainingScalar>(_ block: RowBlock<Scalar>) -> RowBlock<Scalar> {
        RowBlock(x: block.x, xStride: width, y: block.y, yStride: block.yStride, count: block.count, weights: block.weights)
    }
}

@usableFromInline enum Contiguous8: ContiguousLayout { @usableFromInline static var width: Int { 8 } }
@usableFromInline enum Contiguous16: ContiguousLayout { @usableFromInline static var width: Int { 16 } }
@usableFromInline enum Contiguous24: ContiguousLayout { @usableFromInline static var width: Int { 24 } }
@usableFromInline enum Contiguous32: ContiguousLayout { @usableFromInline static var width: Int { 32 } }
@usableFromInline enum Contiguous48: ContiguousLayout { @usableFromInline static var width: Int { 48 } }
@usableFromInline enum Contiguous64: ContiguousLayout { @usableFromInline static var width: Int { 64 } }

/// Eight consecutive rows of a block, for kernels that take rows eight at a time: their dot
/// products with a weight row, and their contributions to a gradient row. Every sum has an
/// order fixed by the code, never by the thread running it.
@usableFromInline
struct EightRows<Scalar: TrainingScalar> {
    let x0, x1, x2, x3, x4, x5, x6, x7: UnsafePointer<Scalar>
    /// Columns, and the columns in whole 8-lane vectors.
    let d: Int, d8: Int

    /// Rows `row`..<`row + 8` of `block`.
    @inline(__always)
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    init(_ block: RowBlock<Scalar>, from row: Int, features d: Int) {
        let stride = block.xStride
        x0 = block.features(row); x1 = x0 + stride; x2 = x1 + stride; x3 = x2 + stride
        x4 = x3 + stride; x5 = x4 + stride; x6 = x5 + stride; x7 = x6 + stride
        self.d = d
        d8 = d & ~7
    }

    /// Rows `row`..<`row + count` of `block` (count ≤ 8); past the last, lanes repeat it, for
    /// kernels that then give those lanes no weight.
    @inline(__always)
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    init(_ block: RowBlock<Scalar>, from row: Int, count: Int, features d: Int) {
        @inline(__always) func at(_ r: Int) -> UnsafePointer<Scalar> { block.features(row &+ min(r, count &- 1)) }
        x0 = at(0); x1 = at(1); x2 = at(2); x3 = at(3); x4 = at(4); x5 = at(5); x6 = at(6); x7 = at(7)
        self.d = d
        d8 = d & ~7
    }

    /// Lane r = row r · w: each row read front to back into its own accumulator (the order the
    /// hardware prefetcher streams best: interleaving the rows' columns measured 2× slower from
    /// memory), the eight reduced together, then the columns past the last whole vector.
    /// `@_transparent`: with `@inline(__always)` the softmax kernel, which calls it once per class,
    /// kept it as a call, and without the layout's constants (measured 1.2× slower).
    @_transparent
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func dots(_ w: UnsafePointer<Scalar>) -> SIMD8<Scalar> {
        var z = laneSums(rowPartial(x0, w, d8), rowPartial(x1, w, d8), rowPartial(x2, w, d8), rowPartial(x3, w, d8),
                         rowPartial(x4, w, d8), rowPartial(x5, w, d8), rowPartial(x6, w, d8), rowPartial(x7, w, d8))
        var j = d8
        while j < d {
            z = z.addingProduct(SIMD8(x0[j], x1[j], x2[j], x3[j], x4[j], x5[j], x6[j], x7[j]), SIMD8(repeating: w[j]))
            j &+= 1
        }
        return z
    }

    /// g += Σ_r c[r]·row r, in one pass over the columns: g is loaded and stored once for the
    /// eight rows. The rows are read again (through ``optim_opaque``), not kept from ``dots(_:)``.
    @inline(__always)
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func addGradient(_ c: SIMD8<Scalar>, to g: UnsafeMutablePointer<Scalar>) {
        let x0 = Scalar.opaque(x0), x1 = Scalar.opaque(x1), x2 = Scalar.opaque(x2), x3 = Scalar.opaque(x3)
        let x4 = Scalar.opaque(x4), x5 = Scalar.opaque(x5), x6 = Scalar.opaque(x6), x7 = Scalar.opaque(x7)
        let c = Scalar.opaque(c)
        let c0 = SIMD8(repeating: c[0]), c1 = SIMD8(repeating: c[1]), c2 = SIMD8(repeating: c[2]), c3 = SIMD8(repeating: c[3])
        let c4 = SIMD8(repeating: c[4]), c5 = SIMD8(repeating: c[5]), c6 = SIMD8(repeating: c[6]), c7 = SIMD8(repeating: c[7])
        var j = 0
        while j < d8 {
            let low = (c0 * load8(x0 + j)).addingProduct(c1, load8(x1 + j)).addingProduct(c2, load8(x2 + j)).addingProduct(c3, load8(x3 + j))
            let high = (c4 * load8(x4 + j)).addingProduct(c5, load8(x5 + j)).addingProduct(c6, load8(x6 + j)).addingProduct(c7, load8(x7 + j))
            store8(load8(g + j) + (low + high), g + j)
            j &+= 8
        }
        while j < d {
            let low = ((c[0] * x0[j] + c[1] * x1[j]) + (c[2] * x2[j] + c[3] * x3[j]))
            let high = ((c[4] * x4[j] + c[5] * x5[j]) + (c[6] * x6[j] + c[7] * x7[j]))
            g[j] += low + high
            j &+= 1
        }
    }
}

/// The first target of rows `row`..<`row + 8`.
@inline(__always) @usableFromInline
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
func eightTargets<Scalar: TrainingScalar>(_ block: RowBlock<Scalar>, from row: Int) -> SIMD8<Scalar> {
    let y = block.targets(row), ys = block.yStride
    return ys == 1 ? load8(y) : SIMD8(y[0], y[ys], y[2 &* ys], y[3 &* ys], y[4 &* ys], y[5 &* ys], y[6 &* ys], y[7 &* ys])
}

/// Target `index` of rows `row`..<`row + count` (count ≤ 8); lanes past the last repeat it.
@inline(__always) @usableFromInline
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
func eightTargets<Scalar: TrainingScalar>(_ block: RowBlock<Scalar>, from row: Int, count: Int, index: Int) -> SIMD8<Scalar> {
    var t = SIMD8<Scalar>()
    for r in 0..<8 { t[r] = block.targets(row &+ min(r, count &- 1))[index] }
    return t
}
