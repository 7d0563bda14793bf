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
    var sum = (acc0 + acc1).sum()
    while i < n {
        sum += a[i] * b[i]
        i += 1
    }
    return sum
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
