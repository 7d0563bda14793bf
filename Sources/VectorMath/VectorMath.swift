/// Elementary functions on eight Float lanes, by fixed polynomials with fused multiply-adds:
/// a few vector instructions where libm is a call per value, and the same bits on every machine.
/// Accurate to a few units in the last place over the ranges documented on each function; the
/// tests compare them with libm.

/// Σ c[i]·x^i by Horner's rule (the loop unrolls: the coefficients are literals at the call).
@inlinable @inline(__always)
public func polynomial(_ x: SIMD8<Float>, _ c: [Float]) -> SIMD8<Float> {
    var p = SIMD8<Float>(repeating: c[c.count - 1])
    for i in stride(from: c.count - 2, through: 0, by: -1) {
        p = SIMD8(repeating: c[i]).addingProduct(p, x)
    }
    return p
}

/// ln x for positive, normal x: x = m·2^e with m in [√½, √2), ln m = 2 atanh(s) with
/// s = (m − 1)/(m + 1), |s| ≤ 0.172, five odd terms (truncation error below 1e-9).
@inlinable @inline(__always)
public func logarithm(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let bits = unsafeBitCast(x, to: SIMD8<UInt32>.self)
    var exponent = SIMD8<Int32>(truncatingIfNeeded: bits &>> 23) &- 127
    var m = unsafeBitCast((bits & 0x7F_FFFF) | 0x3F80_0000, to: SIMD8<Float>.self)
    let large = m .> 1.414_213_56
    m.replace(with: m * 0.5, where: large)
    exponent.replace(with: exponent &+ 1, where: large)
    let s = (m - 1) / (m + 1), s2 = s * s
    let atanh = s * polynomial(s2, [1, 1 / 3, 1 / 5, 1 / 7, 1 / 9])
    return SIMD8<Float>(exponent) * Float(0.693_147_18) + 2 * atanh
}

/// e^x for x in [−87, 88] (below, the result is e^−87 ≈ 1.6e-38; pass only x ≤ 88): x = n·ln 2 + r
/// with |r| ≤ ln 2 / 2 (ln 2 split in two for an exact reduction), e^r by a degree-7 polynomial.
@inlinable @inline(__always)
public func exponential(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let clamped = x.replacing(with: -87, where: x .< -87)
    // n = round(x / ln 2) by adding 1.5·2^23: the sum's low mantissa bits are n, so both n as a
    // Float and n as an integer come without a conversion instruction (SIMD conversions from
    // Float to Int are a call per lane in Swift).
    let shifted = clamped * 1.442_695_04 + 0x1.8p23
    let n = shifted - 0x1.8p23
    let r = (clamped - n * 0.693_145_75) - n * 1.428_606_8e-6
    let p = polynomial(r, [1, 1, 1 / 2, 1 / 6, 1 / 24, 1 / 120, 1 / 720, 1 / 5040])
    let integer = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000
    let scale = unsafeBitCast((integer &+ 127) &<< 23, to: SIMD8<Float>.self)
    return p * scale
}

/// tanh on eight lanes: sign(z)·(1 − 2/(e^(2|z|) + 1)), with 2|z| capped at 88 (tanh is 1 in
/// Float long before). Absolute error about 1e-7 (relative error grows below |z| ≈ 1e-3, where
/// the difference is of that order too).
@inlinable @inline(__always)
public func hyperbolicTangent(_ z: SIMD8<Float>) -> SIMD8<Float> {
    let negative = z .< 0
    let twice = (2 * z.replacing(with: -z, where: negative)).replacing(with: 88, where: z .> 44 .| z .< -44)
    let magnitude = 1 - 2 / (exponential(twice) + 1)
    return magnitude.replacing(with: -magnitude, where: negative)
}
