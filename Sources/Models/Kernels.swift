// Vector kernels over Float rows. Explicit SIMD16 with `acc += a * b`: Swift does not
// reassociate floating-point sums, so a plain loop would not vectorize a dot product. The
// accumulation order is fixed by the code, never by the thread that runs it.

@inline(__always) @usableFromInline
func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always) @usableFromInline
func store16(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}

/// Σ a[i]·b[i] over n elements, in a fixed order: two 16-lane accumulators, then the tail.
@inline(__always) @usableFromInline
func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
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
func horizontalSum(_ v: SIMD16<Float>) -> Float {
    let eight = v.lowHalf + v.highHalf
    let four = eight.lowHalf + eight.highHalf
    let two = four.lowHalf + four.highHalf
    return two.x + two.y
}

/// y[i] += alpha·x[i] over n elements.
@inline(__always) @usableFromInline
func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    let a = SIMD16<Float>(repeating: alpha)
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
func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always) @usableFromInline
func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}

/// Pairwise sums within a and within b: (a0+a1, a2+a3, b0+b1, b2+b3).
@inline(__always) @usableFromInline
func pairSums(_ a: SIMD4<Float>, _ b: SIMD4<Float>) -> SIMD4<Float> {
    let ab = SIMD8(lowHalf: a, highHalf: b)
    return ab.evenHalf + ab.oddHalf
}

/// Lane r = the sum of a_r's eight lanes, by the same fixed tree for every r: the two halves,
/// then adjacent pairs, then pairs of pairs.
@inline(__always) @usableFromInline
func laneSums(_ a0: SIMD8<Float>, _ a1: SIMD8<Float>, _ a2: SIMD8<Float>, _ a3: SIMD8<Float>,
              _ a4: SIMD8<Float>, _ a5: SIMD8<Float>, _ a6: SIMD8<Float>, _ a7: SIMD8<Float>) -> SIMD8<Float> {
    let s0 = a0.lowHalf + a0.highHalf, s1 = a1.lowHalf + a1.highHalf
    let s2 = a2.lowHalf + a2.highHalf, s3 = a3.lowHalf + a3.highHalf
    let s4 = a4.lowHalf + a4.highHalf, s5 = a5.lowHalf + a5.highHalf
    let s6 = a6.lowHalf + a6.highHalf, s7 = a7.lowHalf + a7.highHalf
    return SIMD8(lowHalf: pairSums(pairSums(s0, s1), pairSums(s2, s3)),
                 highHalf: pairSums(pairSums(s4, s5), pairSums(s6, s7)))
}

/// The partial dot product of a row with w over the first `n8` (a multiple of 8) elements, in
/// two 8-lane accumulators (alternate blocks of 8, so that long rows are not one chain of
/// dependent FMAs). The row is read front to back, the order the hardware prefetcher streams
/// best: interleaving eight rows' columns measured 2× slower from memory.
@inline(__always) @usableFromInline
func rowPartial(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ n8: Int) -> SIMD8<Float> {
    var even = SIMD8<Float>(), odd = SIMD8<Float>()
    var j = 0
    while j &+ 16 <= n8 {
        even = even.addingProduct(load8(x + j), load8(w + j))
        odd = odd.addingProduct(load8(x + j + 8), load8(w + j + 8))
        j &+= 16
    }
    if j < n8 { even = even.addingProduct(load8(x + j), load8(w + j)) }
    return even + odd
}
