/// Elementary functions on eight Float or Double lanes, by fixed polynomials with fused
/// multiply-adds: a few vector instructions where libm is a call per value, and the same bits on
/// every machine. Accurate to a few units in the last place over the ranges documented on each
/// function; the tests compare them with libm.

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

// MARK: - Double

/// Σ c[i]·x^i by Horner's rule, on eight Double lanes.
@inlinable @inline(__always)
public func polynomial(_ x: SIMD8<Double>, _ c: [Double]) -> SIMD8<Double> {
    var p = SIMD8<Double>(repeating: c[c.count - 1])
    for i in stride(from: c.count - 2, through: 0, by: -1) {
        p = SIMD8(repeating: c[i]).addingProduct(p, x)
    }
    return p
}

/// Small integers (|e| < 2^51) as Doubles without a conversion instruction: e added to the bits
/// of 1.5·2^52, whose low mantissa bits then read e, minus 1.5·2^52.
@inlinable @inline(__always)
func doubles(_ e: SIMD8<Int64>) -> SIMD8<Double> {
    unsafeBitCast(e &+ 0x4338_0000_0000_0000, to: SIMD8<Double>.self) - 0x1.8p52
}

/// ln x for positive, normal x, to Double precision: x = m·2^e with m in [√½, √2), ln m =
/// 2 atanh(s) with s = (m − 1)/(m + 1), |s| ≤ 0.172, ten odd terms (truncation below 1e-17),
/// e·ln 2 in two parts.
@inlinable @inline(__always)
public func logarithm(_ x: SIMD8<Double>) -> SIMD8<Double> {
    let bits = unsafeBitCast(x, to: SIMD8<UInt64>.self)
    var exponent = SIMD8<Int64>(truncatingIfNeeded: bits &>> 52) &- 1023
    var m = unsafeBitCast((bits & 0xF_FFFF_FFFF_FFFF) | 0x3FF0_0000_0000_0000, to: SIMD8<Double>.self)
    let large = m .> 1.414_213_562_373_095_1
    m.replace(with: m * 0.5, where: large)
    exponent.replace(with: exponent &+ 1, where: large)
    let s = (m - 1) / (m + 1), s2 = s * s
    let atanh = s * polynomial(s2, [1, 1 / 3, 1 / 5, 1 / 7, 1 / 9, 1 / 11, 1 / 13, 1 / 15, 1 / 17, 1 / 19])
    let e = doubles(exponent)
    return e * 6.931_471_803_691_238_164_9e-1 + (e * 1.908_214_929_270_587_700_02e-10 + 2 * atanh)
}

/// e^x to Double precision for x in [−708, 709] (below, the result is e^−708 ≈ 3.3e-308; pass
/// only x ≤ 709): x = n·ln 2 + r with |r| ≤ ln 2 / 2 (ln 2 in two parts, the first with trailing
/// zeros so that n times it is exact), e^r by its Taylor polynomial of degree 13.
@inlinable @inline(__always)
public func exponential(_ x: SIMD8<Double>) -> SIMD8<Double> {
    let clamped = x.replacing(with: -708, where: x .< -708)
    let shifted = clamped * 1.442_695_040_888_963_4 + 0x1.8p52
    let n = shifted - 0x1.8p52
    let r = (clamped - n * 6.931_471_803_691_238_164_9e-1) - n * 1.908_214_929_270_587_700_02e-10
    let p = polynomial(r, [1, 1, 1 / 2, 1 / 6, 1 / 24, 1 / 120, 1 / 720, 1 / 5040, 1 / 40320, 1 / 362_880,
                           1 / 3_628_800, 1 / 39_916_800, 1 / 479_001_600, 1 / 6_227_020_800])
    let integer = unsafeBitCast(shifted, to: SIMD8<Int64>.self) &- 0x4338_0000_0000_0000
    let scale = unsafeBitCast((integer &+ 1023) &<< 52, to: SIMD8<Double>.self)
    return p * scale
}

/// tanh on eight Double lanes: sign(z)·(1 − 2/(e^(2|z|) + 1)), with 2|z| capped at 709 (tanh is
/// 1 in Double long before). Absolute error about 1e-16.
@inlinable @inline(__always)
public func hyperbolicTangent(_ z: SIMD8<Double>) -> SIMD8<Double> {
    let negative = z .< 0
    let twice = (2 * z.replacing(with: -z, where: negative)).replacing(with: 709, where: z .> 354 .| z .< -354)
    let magnitude = 1 - 2 / (exponential(twice) + 1)
    return magnitude.replacing(with: -magnitude, where: negative)
}

// MARK: - Either

/// The scalars the vector functions take, `Float` and `Double`, so that code generic over the
/// precision calls them: `S.exponential(v)` is ``exponential(_:)-(SIMD8<Float>)`` for Float
/// lanes and the Double version for Double lanes.
public protocol VectorScalar: BinaryFloatingPoint, SIMDScalar, Sendable, Codable {
    /// e^x lane by lane (see the functions of each precision for the range).
    static func exponential(_ x: SIMD8<Self>) -> SIMD8<Self>
    /// ln x lane by lane, for positive normal x.
    static func logarithm(_ x: SIMD8<Self>) -> SIMD8<Self>
    /// tanh x lane by lane.
    static func hyperbolicTangent(_ x: SIMD8<Self>) -> SIMD8<Self>
}

extension Float: VectorScalar {
    @inlinable @inline(__always) public static func exponential(_ x: SIMD8<Float>) -> SIMD8<Float> { VectorMath.exponential(x) }
    @inlinable @inline(__always) public static func logarithm(_ x: SIMD8<Float>) -> SIMD8<Float> { VectorMath.logarithm(x) }
    @inlinable @inline(__always) public static func hyperbolicTangent(_ x: SIMD8<Float>) -> SIMD8<Float> {
        VectorMath.hyperbolicTangent(x)
    }
}

extension Double: VectorScalar {
    @inlinable @inline(__always) public static func exponential(_ x: SIMD8<Double>) -> SIMD8<Double> { VectorMath.exponential(x) }
    @inlinable @inline(__always) public static func logarithm(_ x: SIMD8<Double>) -> SIMD8<Double> { VectorMath.logarithm(x) }
    @inlinable @inline(__always) public static func hyperbolicTangent(_ x: SIMD8<Double>) -> SIMD8<Double> {
        VectorMath.hyperbolicTangent(x)
    }
}

/// e^x lane by lane, in the lanes' precision.
@inlinable @inline(__always)
public func exponential<S: VectorScalar>(_ x: SIMD8<S>) -> SIMD8<S> { S.exponential(x) }
/// ln x lane by lane, in the lanes' precision.
@inlinable @inline(__always)
public func logarithm<S: VectorScalar>(_ x: SIMD8<S>) -> SIMD8<S> { S.logarithm(x) }
/// tanh x lane by lane, in the lanes' precision.
@inlinable @inline(__always)
public func hyperbolicTangent<S: VectorScalar>(_ x: SIMD8<S>) -> SIMD8<S> { S.hyperbolicTangent(x) }
