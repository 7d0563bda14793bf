import RealModule
import VectorMath

/// The training losses, under torch's names, each averaged over rows (and outputs) as torch's
/// default `reduction="mean"` does.
public enum Loss: String, Sendable, CaseIterable, Codable {
    /// Squared error (torch: `MSELoss`).
    case mse
    /// Absolute error (torch: `L1Loss`).
    case l1
    /// Huber loss with δ = 1 (torch: `HuberLoss`): quadratic within δ, linear beyond.
    case huber
    /// Binary cross-entropy on logits, targets 0 or 1 (torch: `BCEWithLogitsLoss`).
    case bceWithLogits = "bce_with_logits"
    /// Cross-entropy on logits, targets class indices (torch: `CrossEntropyLoss`).
    case crossEntropy = "cross_entropy"

    /// Whether the loss compares a prediction to a real-valued target.
    public var isRegression: Bool { self == .mse || self == .l1 || self == .huber }

    /// Loss and its derivative for a regression residual r = prediction − target.
    @inline(__always)
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func residual<Scalar: TrainingScalar>(_ r: Scalar) -> (loss: Scalar, derivative: Scalar) {
        switch self {
        case .mse: return (r * r, 2 * r)
        case .l1: return (abs(r), r > 0 ? 1 : r < 0 ? -1 : 0)
        case .huber:
            let a = abs(r)
            return a < 1 ? (0.5 * r * r, r) : (a - 0.5, r > 0 ? 1 : -1)
        case .bceWithLogits, .crossEntropy: preconditionFailure("not a regression loss")
        }
    }

    /// Binary cross-entropy on logit z with target t, and its derivative σ(z) − t.
    @inline(__always)
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    static func binaryCrossEntropy<Scalar: TrainingScalar>(logit z: Scalar, target t: Scalar) -> (loss: Double, derivative: Scalar) {
        let zd = Double(z)
        let loss = max(zd, 0) - zd * Double(t) + Double.log(onePlus: Double.exp(-abs(zd)))
        let sigmoid = 1 / (1 + Scalar.exp(-z))
        return (loss, sigmoid - t)
    }
}

/// A loss evaluated on eight rows at once by the single-output kernel (rows left over go through
/// it too, in lane 0, so every row's values are computed the same way). The regression losses
/// give exactly ``Loss/residual(_:)``'s values lane by lane; binary cross-entropy agrees with
/// ``Loss/binaryCrossEntropy(logit:target:)`` to the lanes' precision.
protocol EightRowLoss {
    static func evaluate<Scalar: TrainingScalar>(logits z: SIMD8<Scalar>, targets t: SIMD8<Scalar>)
        -> (loss: SIMD8<Double>, derivative: SIMD8<Scalar>)
}

enum SquaredErrorRows: EightRowLoss {
    @inline(__always)
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    static func evaluate<Scalar: TrainingScalar>(logits z: SIMD8<Scalar>, targets t: SIMD8<Scalar>) -> (loss: SIMD8<Double>, derivative: SIMD8<Scalar>) {
        let r = z - t
        return (widened(r * r), 2 * r)
    }
}

/// sign(r): 1, −1, or 0 at 0.
@inline(__always)
private func sign<Scalar: TrainingScalar>(_ r: SIMD8<Scalar>) -> SIMD8<Scalar> {
    SIMD8<Scalar>().replacing(with: 1, where: r .> 0).replacing(with: -1, where: r .< 0)
}

enum AbsoluteErrorRows: EightRowLoss {
    @inline(__always)
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    static func evaluate<Scalar: TrainingScalar>(logits z: SIMD8<Scalar>, targets t: SIMD8<Scalar>) -> (loss: SIMD8<Double>, derivative: SIMD8<Scalar>) {
        let r = z - t
        return (widened(r.replacing(with: -r, where: r .< 0)), sign(r))
    }
}

enum HuberRows: EightRowLoss {
    @inline(__always)
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    static func evaluate<Scalar: TrainingScalar>(logits z: SIMD8<Scalar>, targets t: SIMD8<Scalar>) -> (loss: SIMD8<Double>, derivative: SIMD8<Scalar>) {
        let r = z - t
        let a = r.replacing(with: -r, where: r .< 0)
        let inside = a .< 1
        let loss = (a - 0.5).replacing(with: 0.5 * r * r, where: inside)
        return (widened(loss), sign(r).replacing(with: r, where: inside))
    }
}

enum BinaryCrossEntropyRows: EightRowLoss {
    /// max(z, 0) − z·t + ln(1 + e^−|z|), and σ(z) − t, with e^−|z| computed once for both.
    @inline(__always)
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    static func evaluate<Scalar: TrainingScalar>(logits z: SIMD8<Scalar>, targets t: SIMD8<Scalar>) -> (loss: SIMD8<Double>, derivative: SIMD8<Scalar>) {
        let negative = z .< 0
        let e = exponential(z.replacing(with: -z, where: .!negative))  // e^−|z|, in (0, 1]
        let u = 1 + e
        // ln(1 + e) as ln(u)·e/(u − 1): exact to rounding even where 1 + e rounds to 1.
        let rounded = u - 1
        let log1p = (logarithm(u) * e / rounded).replacing(with: e, where: rounded .== 0)
        let loss = z.replacing(with: 0, where: negative) - z * t + log1p
        let sigmoid = (1 / u).replacing(with: e / u, where: negative)
        return (widened(loss), sigmoid - t)
    }
}

extension Loss {
    /// How many of `count` rows a classifier gets right, and the sum of their losses: `logits`
    /// holds `classes` logits per row, row after row (one logit: binary cross-entropy, targets 0
    /// or 1; several: cross-entropy, targets class indices), `targets` one target per row every
    /// `targetStride` floats. A row is right when its logit is positive exactly for target 1, or
    /// when its first largest logit is its class.
    ///
    /// Eight rows at a time with the training kernels' vector `exp` and `ln`, so the loss agrees
    /// with training's to the data's precision, and is the same on every machine; the sum is in
    /// Double, in row order.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func classificationStatistics<Scalar: TrainingScalar>(logits: UnsafePointer<Scalar>, classes k: Int, targets: UnsafePointer<Scalar>,
                                         targetStride: Int, count: Int) -> (correct: Int, lossSum: Double) {
        precondition(self == .bceWithLogits || self == .crossEntropy, "not a classification loss")
        var correct = 0, lossSum = 0.0
        // Rows i..<i+n (n ≤ 8; lanes past the last row are zeros: computed, never counted).
        @inline(__always) func rows(_ i: Int, _ n: Int) {
            var target = SIMD8<Scalar>()
            for r in 0..<n { target[r] = targets[(i &+ r) &* targetStride] }
            @inline(__always) func column(_ o: Int) -> SIMD8<Scalar> {
                var v = SIMD8<Scalar>()
                for r in 0..<n { v[r] = logits[(i &+ r) &* k &+ o] }
                return v
            }
            if k == 1 {
                let z = column(0)
                let loss = BinaryCrossEntropyRows.evaluate(logits: z, targets: target).loss
                let right = (z .> 0) .== (target .== 1)
                for r in 0..<n {
                    lossSum += loss[r]
                    if right[r] { correct += 1 }
                }
            } else {
                var peak = SIMD8<Scalar>(repeating: -.infinity), best = SIMD8<Scalar>()
                for o in 0..<k {
                    let z = column(o), larger = z .> peak
                    peak.replace(with: z, where: larger)
                    best.replace(with: Scalar(o), where: larger)
                }
                var sum = SIMD8<Scalar>(), targetLogit = SIMD8<Scalar>()
                for o in 0..<k {
                    let z = column(o)
                    sum += exponential(z - peak)
                    targetLogit.replace(with: z, where: target .== Scalar(o))
                }
                let margin = peak - targetLogit, logSum = logarithm(sum)
                for r in 0..<n {
                    lossSum += Double(margin[r]) + Double(logSum[r])
                    if best[r] == target[r] { correct += 1 }
                }
            }
        }
        var i = 0
        while i &+ 8 <= count {
            rows(i, 8)
            i &+= 8
        }
        if i < count { rows(i, count - i) }
        return (correct, lossSum)
    }
}
