import Foundation
import Testing
import VectorMath

@Suite("Vector math")
struct VectorMathTests {
    /// The largest error of `f` against `reference` over `values`, relative to max(1, |reference|).
    func worstError(_ values: [Float], _ f: (SIMD8<Float>) -> SIMD8<Float>, _ reference: (Double) -> Double) -> Double {
        var worst = 0.0
        for start in stride(from: 0, to: values.count, by: 8) {
            var x = SIMD8<Float>(repeating: values[start])
            for j in 0..<min(8, values.count - start) { x[j] = values[start + j] }
            let y = f(x)
            for j in 0..<8 {
                let exact = reference(Double(x[j]))
                worst = max(worst, abs(Double(y[j]) - exact) / max(1, abs(exact)))
            }
        }
        return worst
    }

    @Test("ln matches libm to Float precision, from the smallest normal float to the largest")
    func logarithmAccuracy() {
        var values: [Float] = [.leastNormalMagnitude, 0x1p-54, 0.5, 1, 1.000_000_1, 1.414_213_5, 1.414_213_6, 2, 3, .greatestFiniteMagnitude]
        var state: UInt32 = 7
        for _ in 0..<100_000 {
            state = state &* 1_664_525 &+ 1_013_904_223
            values.append(Float(bitPattern: 0x0080_0000 + state % 0x7F00_0000))  // positive normal floats
        }
        let worst = worstError(values, logarithm, Foundation.log)
        #expect(worst < 3e-7, "largest error \(worst)")
    }

    @Test("exp matches libm to Float precision on [−87, 88], and stays finite and positive below")
    func exponentialAccuracy() {
        var values: [Float] = [-87, -20, -1, -0.5, 0, 0.346_573_6, 0.5, 1, 20, 88]
        for i in 0..<100_000 { values.append(-87 + 175 * Float(i) / 100_000) }
        let worst = worstError(values, exponential, Foundation.exp)
        // Relative to the value itself (the reference helper scales by max(1, |value|), too loose
        // for tiny results): e^x for x ≤ 0 spans 1e-38...1.
        var worstRelative = 0.0
        for x in stride(from: Float(-87), through: 0, by: 0.01) {
            let y = exponential(SIMD8(repeating: x))[0]
            worstRelative = max(worstRelative, abs(Double(y) / Foundation.exp(Double(x)) - 1))
        }
        #expect(worst < 3e-7 && worstRelative < 3e-7, "largest errors \(worst), \(worstRelative)")
        let below = exponential(SIMD8(repeating: -200))
        #expect(below[0] > 0 && below[0] < 1e-37)
    }

    @Test("tanh matches libm to about 1e-7 everywhere, is odd, and is exactly ±1 far out")
    func hyperbolicTangentAccuracy() {
        var values: [Float] = [0, 1e-6, -1e-6, 1e-3, 0.5, -0.5, 1, -1, 9, -9, 44, -44, 45, -45, 1e30, -1e30]
        for i in 0..<100_000 { values.append(-12 + 24 * Float(i) / 100_000) }
        let worst = worstError(values, hyperbolicTangent, Foundation.tanh)
        #expect(worst < 2e-7, "largest error \(worst)")
        let x = SIMD8<Float>(0.1, 0.7, 1.3, 2.9, 5, 11, 30, 1e20)
        #expect(hyperbolicTangent(-x) == -hyperbolicTangent(x))
        #expect(hyperbolicTangent(SIMD8(repeating: 50)) == SIMD8(repeating: 1))
    }
}
