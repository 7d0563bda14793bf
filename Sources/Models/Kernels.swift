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

/// y[i] += a0·x0[i] + a1·x1[i] + a2·x2[i] + a3·x3[i]: four rows' contributions in one pass, so
/// the gradient is loaded and stored once per four rows instead of once per row.
@inline(__always) @usableFromInline
func axpy4(_ a0: Float, _ x0: UnsafePointer<Float>, _ a1: Float, _ x1: UnsafePointer<Float>,
           _ a2: Float, _ x2: UnsafePointer<Float>, _ a3: Float, _ x3: UnsafePointer<Float>,
           _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    let v0 = SIMD16<Float>(repeating: a0), v1 = SIMD16<Float>(repeating: a1)
    let v2 = SIMD16<Float>(repeating: a2), v3 = SIMD16<Float>(repeating: a3)
    var i = 0
    while i + 16 <= n {
        let sum = (v0 * load16(x0 + i) + v1 * load16(x1 + i)) + (v2 * load16(x2 + i) + v3 * load16(x3 + i))
        store16(load16(y + i) + sum, y + i)
        i += 16
    }
    while i < n {
        y[i] += (a0 * x0[i] + a1 * x1[i]) + (a2 * x2[i] + a3 * x3[i])
        i += 1
    }
}
