import RealModule

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

    /// Four standard normal deviates for (stream, row, block), by Box-Muller on the block's words.
    @inline(__always)
    public func normals(stream: UInt32, row: Int, block index: Int) -> (Float, Float, Float, Float) {
        let words = block((UInt32(truncatingIfNeeded: row), UInt32(truncatingIfNeeded: row >> 32), UInt32(index), stream))
        let (a, b) = Self.boxMuller(words.0, words.1)
        let (c, d) = Self.boxMuller(words.2, words.3)
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

    @inline(__always)
    static func boxMuller(_ u: UInt32, _ v: UInt32) -> (Float, Float) {
        let radius = (-2 * Double.log(unit(u, v))).squareRoot()
        let angle = 2 * Double.pi * (Double(v) + 0.5) * 0x1p-32
        return (Float(radius * Double.cos(angle)), Float(radius * Double.sin(angle)))
    }
}
