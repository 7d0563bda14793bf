import RealModule
import VectorMath

/// Philox4x32-10, the counter-based generator of Salmon et al. (SC'11, "Parallel random numbers:
/// as easy as 1, 2, 3"): a keyed bijection of a 128-bit counter. The value at a counter depends on
/// nothing else, so row i of a synthetic data set is a pure function of (seed, i), the same on any
/// number of threads, in any order.
public struct Philox4x32: Sendable {
    public let key: (UInt32, UInt32)

    public init(seed: UInt64) {
        key = (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32))
    }

    /// The four 32-bit words at `counter`.
    @inline(__always)
    public func block(_ counter: (UInt32, UInt32, UInt32, UInt32)) -> (UInt32, UInt32, UInt32, UInt32) {
        var (c0, c1, c2, c3) = counter
        var (k0, k1) = key
        for _ in 0..<10 {
            let p0 = UInt64(0xD251_1F53) &* UInt64(c0)
            let p1 = UInt64(0xCD9E_8D57) &* UInt64(c2)
            (c0, c1, c2, c3) = (UInt32(truncatingIfNeeded: p1 >> 32) ^ c1 ^ k0, UInt32(truncatingIfNeeded: p1),
                                UInt32(truncatingIfNeeded: p0 >> 32) ^ c3 ^ k1, UInt32(truncatingIfNeeded: p0))
            k0 = k0 &+ 0x9E37_79B9
            k1 = k1 &+ 0xBB67_AE85
        }
        return (c0, c1, c2, c3)
    }

    /// Four standard normal deviates for (stream, row, block): lane 0 of ``normals8(stream:rows:blocks:)``.
    public func normals(stream: UInt32, row: Int, block index: Int) -> (Float, Float, Float, Float) {
        let n = normals8(stream: stream, rows: SIMD8(repeating: row), blocks: SIMD8(repeating: index))
        return (n.0[0], n.1[0], n.2[0], n.3[0])
    }

    /// `count` standard normal deviates of (stream, row), written to `out`: deviate i is element
    /// i % 4 of block i / 4, eight blocks at a time.
    public func normals(stream: UInt32, row: Int, count: Int, into out: UnsafeMutablePointer<Float>) {
        let lanes = SIMD8<Int>(0, 1, 2, 3, 4, 5, 6, 7)
        var first = 0
        while first * 4 < count {
            let n = normals8(stream: stream, rows: SIMD8(repeating: row), blocks: lanes &+ first)
            for j in 0..<8 {
                let base = (first + j) * 4
                if base + 4 <= count {
                    out[base] = n.0[j]; out[base + 1] = n.1[j]; out[base + 2] = n.2[j]; out[base + 3] = n.3[j]
                } else {
                    for k in 0..<max(0, count - base) { out[base + k] = deviate(n, k, lane: j) }
                    return
                }
            }
            first += 8
        }
    }

    /// Eight blocks at once, lane j being block `blocks[j]` of row `rows[j]`: Philox on 8-lane
    /// vectors, then Box-Muller on each block's two word pairs, `boxMuller(_:_:)`. Element k of
    /// the result is deviate k of each block.
    @inline(__always)
    public func normals8(stream: UInt32, rows: SIMD8<Int>, blocks: SIMD8<Int>)
        -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
        var c0 = SIMD8<UInt32>(truncatingIfNeeded: rows), c1 = SIMD8<UInt32>(truncatingIfNeeded: rows &>> 32)
        var c2 = SIMD8<UInt32>(truncatingIfNeeded: blocks), c3 = SIMD8<UInt32>(repeating: stream)
        var (k0, k1) = key
        for _ in 0..<10 {
            let p0 = SIMD8<UInt64>(truncatingIfNeeded: c0) &* 0xD251_1F53
            let p1 = SIMD8<UInt64>(truncatingIfNeeded: c2) &* 0xCD9E_8D57
            (c0, c1, c2, c3) = (SIMD8<UInt32>(truncatingIfNeeded: p1 &>> 32) ^ c1 ^ k0, SIMD8<UInt32>(truncatingIfNeeded: p1),
                                SIMD8<UInt32>(truncatingIfNeeded: p0 &>> 32) ^ c3 ^ k1, SIMD8<UInt32>(truncatingIfNeeded: p0))
            k0 = k0 &+ 0x9E37_79B9
            k1 = k1 &+ 0xBB67_AE85
        }
        let (a, b) = Self.boxMuller(c0, c1)
        let (c, d) = Self.boxMuller(c2, c3)
        return (a, b, c, d)
    }

    /// A uniform deviate in (0, 1) for (stream, row, index).
    @inline(__always)
    public func uniform(stream: UInt32, row: Int, index: Int) -> Double {
        let words = block((UInt32(truncatingIfNeeded: row), UInt32(truncatingIfNeeded: row >> 32), UInt32(index), stream))
        return Self.unit(words.0, words.1)
    }

    /// A double in (0, 1) from 53 random bits, never 0.
    @inline(__always)
    static func unit(_ high: UInt32, _ low: UInt32) -> Double {
        let bits = (UInt64(high) << 21) ^ UInt64(low >> 11)
        return (Double(bits & ((1 << 53) - 1)) + 0.5) * 0x1p-53
    }

    /// Box-Muller on eight word pairs (u, v): radius √(−2 ln U) with U from 53 bits of (u, v),
    /// angle 2π·V with V from v's top 24 bits. Float arithmetic with fixed polynomials instead
    /// of libm, so the values are the same on every machine and cost a few vector instructions.
    @inline(__always)
    static func boxMuller(_ u: SIMD8<UInt32>, _ v: SIMD8<UInt32>) -> (SIMD8<Float>, SIMD8<Float>) {
        // U in (0, 1): 53 random bits, never 0, exact in Double, then rounded to Float (its
        // exponent keeps the far tails: the smallest U gives 8.6 standard deviations).
        let high = SIMD8<Double>(u), low = SIMD8<Double>(v &>> 11)
        let unit = SIMD8<Float>((high * 0x1p21 + low + 0.5) * 0x1p-53)
        let radius = (-2 * logarithm(unit)).squareRoot()
        // The angle's quadrant is v's top two bits; within it, x in (−π/4, π/4) around the
        // quadrant's middle, from the next 22 bits (exact integer arithmetic, one multiply).
        let quadrant = v &>> 30
        let offset = SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: (v &>> 8) & 0x3F_FFFF) &- 0x20_0000) + 0.5
        let x = offset * (Float.pi / 2 * 0x1p-22)
        let x2 = x * x
        let sine = x * polynomial(x2, [1, -1 / 6, 1 / 120, -1 / 5040, 1 / 362_880])
        let cosine = polynomial(x2, [1, -1 / 2, 1 / 24, -1 / 720, 1 / 40320, -1 / 3_628_800])
        // The angle is q·π/2 + π/4 + x: rotate (cos x, sin x) by π/4, then by q quarter turns,
        // with bit operations (a mask from integer lanes applied to Float lanes would be a loop
        // over lanes): an odd q swaps (c, s) for (−s, c); q ≥ 2 negates both.
        let half: Float = 0.707_106_78
        let c = (cosine - sine) * half, s = (cosine + sine) * half
        let cBits = unsafeBitCast(c, to: SIMD8<UInt32>.self), sBits = unsafeBitCast(s, to: SIMD8<UInt32>.self)
        let odd = 0 &- (quadrant & 1), sign = (quadrant & 2) &<< 30
        let rotatedC = ((cBits & ~odd) | ((sBits ^ 0x8000_0000) & odd)) ^ sign
        let rotatedS = ((sBits & ~odd) | (cBits & odd)) ^ sign
        let (cosAngle, sinAngle) = (unsafeBitCast(rotatedC, to: SIMD8<Float>.self), unsafeBitCast(rotatedS, to: SIMD8<Float>.self))
        return (radius * cosAngle, radius * sinAngle)
    }
}
