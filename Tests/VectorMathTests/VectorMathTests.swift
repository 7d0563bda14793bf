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
        let below = exponential(SIMD8<Float>(repeating: -200))
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
        #expect(hyperbolicTangent(SIMD8<Float>(repeating: 50)) == SIMD8(repeating: 1))
    }

    /// `worstError` in Double lanes, relative to max(1, |reference|) or, with `relative`, to |reference|.
    func worstError(_ values: [Double], _ f: (SIMD8<Double>) -> SIMD8<Double>, _ reference: (Double) -> Double,
                    relative: Bool = false) -> Double {
        var worst = 0.0
        for start in stride(from: 0, to: values.count, by: 8) {
            var x = SIMD8<Double>(repeating: values[start])
            for j in 0..<min(8, values.count - start) { x[j] = values[start + j] }
            let y = f(x)
            for j in 0..<8 {
                let exact = reference(x[j])
                worst = max(worst, abs(y[j] - exact) / (relative ? abs(exact) : max(1, abs(exact))))
            }
        }
        return worst
    }

    @Test("Double ln matches libm to a few ulps, from the smallest normal double to the largest")
    func doubleLogarithmAccuracy() {
        var values: [Double] = [.leastNormalMagnitude, 0x1p-54, 0.5, 1, 1 + 0x1p-52, 1.414_213_562_373_095, 1.414_213_562_373_096,
                                2, 3, 1e10, .greatestFiniteMagnitude]
        var state: UInt64 = 7
        for _ in 0..<100_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            values.append(Double(bitPattern: 0x0010_0000_0000_0000 + state % 0x7FE0_0000_0000_0000))  // positive normals
        }
        for i in 0..<10_000 { values.append(0.5 + Double(i) / 10_000) }  // near 1, where ln is small
        let worst = worstError(values, logarithm, Foundation.log)
        #expect(worst < 1e-15, "largest error \(worst)")
    }

    @Test("Double exp matches libm to a few ulps on [−708, 709], relative to the value, and stays positive below")
    func doubleExponentialAccuracy() {
        var values: [Double] = [-708, -100, -1, -0.5, 0, 0.346_573_590_279_972_6, 0.5, 1, 100, 709]
        for i in 0..<100_000 { values.append(-708 + 1417 * Double(i) / 100_000) }
        let worst = worstError(values, exponential, Foundation.exp, relative: true)
        #expect(worst < 1e-15, "largest relative error \(worst)")
        let below = exponential(SIMD8<Double>(repeating: -2000))
        #expect(below[0] > 0 && below[0] < 1e-307)
    }

    @Test("Double tanh matches libm to about 1e-16, is odd, and is exactly ±1 far out")
    func doubleHyperbolicTangentAccuracy() {
        var values: [Double] = [0, 1e-9, -1e-9, 1e-3, 0.5, -0.5, 1, -1, 19, -19, 354, -354, 400, -400, 1e300, -1e300]
        for i in 0..<100_000 { values.append(-20 + 40 * Double(i) / 100_000) }
        let worst = worstError(values, hyperbolicTangent, Foundation.tanh)
        #expect(worst < 5e-16, "largest error \(worst)")
        let x = SIMD8<Double>(0.1, 0.7, 1.3, 2.9, 5, 11, 30, 1e200)
        #expect(hyperbolicTangent(-x) == -hyperbolicTangent(x))
        #expect(hyperbolicTangent(SIMD8<Double>(repeating: 50)) == SIMD8(repeating: 1))
    }
}
