// The strong-Wolfe line search of torch.optim.LBFGS (itself ported from torch7's `lswolfe` and
// `polyinterp`), step for step, so that the number of closure evaluations matches torch's.

/// The minimizer of the cubic interpolating (x1, f1, g1) and (x2, f2, g2), clamped to `bounds`
/// (default: the interval between x1 and x2); the bounds' midpoint when the cubic has no minimum.
func cubicInterpolate(
    _ x1: Double, _ f1: Double, _ g1: Double, _ x2: Double, _ f2: Double, _ g2: Double,
    bounds: (Double, Double)? = nil
) -> Double {
    let (lower, upper) = bounds ?? (x1 <= x2 ? (x1, x2) : (x2, x1))
    let d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    let d2Square = d1 * d1 - g1 * g2
    guard d2Square >= 0 else { return (lower + upper) / 2.0 }
    let d2 = d2Square.squareRoot()
    let minPos = x1 <= x2
        ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(minPos, lower), upper)
}

/// One point of the line search: step t, loss f, gradient g, directional derivative gtd.
struct LineSearchPoint<S: OptimScalar> {
    var t: Double
    var f: Double
    var g: [S]
    var gtd: Double
}

/// torch's `_strong_wolfe`: finds t along direction `d` satisfying the strong Wolfe conditions
/// (sufficient decrease c1, curvature c2), with at most `maxLineSearch` evaluations.
/// `evaluate(t)` returns the loss and flat gradient at x + t·d and leaves x unchanged.
/// Returns the accepted point and the number of evaluations.
@_specialize(where S == Float)
@_specialize(where S == Double)
func strongWolfe<S: OptimScalar>(
    evaluate: (Double) throws -> (Double, [S]),
    t initialT: Double, d: [S], f: Double, g: [S], gtd: Double,
    c1: Double = 1e-4, c2: Double = 0.9, toleranceChange: Double = 1e-9, maxLineSearch: Int = 25
) rethrows -> (point: LineSearchPoint<S>, evaluations: Int) {
    let dNorm = d.reduce(0.0) { max($0, abs($1.doubleValue)) }
    var t = initialT
    var (fNew, gNew) = try evaluate(t)
    var evaluations = 1
    var gtdNew = dot(gNew, d).doubleValue
    var previous = LineSearchPoint(t: 0, f: f, g: g, gtd: gtd)
    var done = false
    var iteration = 0
    var bracket: [LineSearchPoint<S>] = []

    // Bracketing phase.
    while iteration < maxLineSearch {
        let current = LineSearchPoint(t: t, f: fNew, g: gNew, gtd: gtdNew)
        if fNew > f + c1 * t * gtd || (iteration > 1 && fNew >= previous.f) {
            bracket = [previous, current]
            break
        }
        if abs(gtdNew) <= -c2 * gtd {
            bracket = [current]
            done = true
            break
        }
        if gtdNew >= 0 {
            bracket = [previous, current]
            break
        }
        let minStep = t + 0.01 * (t - previous.t)
        let maxStep = t * 10
        let next = cubicInterpolate(previous.t, previous.f, previous.gtd, t, fNew, gtdNew, bounds: (minStep, maxStep))
        previous = current
        t = next
        (fNew, gNew) = try evaluate(t)
        evaluations += 1
        gtdNew = dot(gNew, d).doubleValue
        iteration += 1
    }
    if iteration == maxLineSearch {
        bracket = [LineSearchPoint(t: 0, f: f, g: g, gtd: gtd), LineSearchPoint(t: t, f: fNew, g: gNew, gtd: gtdNew)]
    }

    // Zoom phase: shrink the bracket until a point satisfies the conditions.
    var insufficientProgress = false
    var (low, high) = bracket[0].f <= bracket[bracket.count - 1].f ? (0, 1) : (1, 0)
    while !done && iteration < maxLineSearch {
        if abs(bracket[1].t - bracket[0].t) * dNorm < toleranceChange { break }
        t = cubicInterpolate(bracket[0].t, bracket[0].f, bracket[0].gtd, bracket[1].t, bracket[1].f, bracket[1].gtd)
        let top = max(bracket[0].t, bracket[1].t), bottom = min(bracket[0].t, bracket[1].t)
        let eps = 0.1 * (top - bottom)
        if min(top - t, t - bottom) < eps {
            if insufficientProgress || t >= top || t <= bottom {
                t = abs(t - top) < abs(t - bottom) ? top - eps : bottom + eps
                insufficientProgress = false
            } else {
                insufficientProgress = true
            }
        } else {
            insufficientProgress = false
        }
        (fNew, gNew) = try evaluate(t)
        evaluations += 1
        gtdNew = dot(gNew, d).doubleValue
        iteration += 1
        let current = LineSearchPoint(t: t, f: fNew, g: gNew, gtd: gtdNew)
        if fNew > f + c1 * t * gtd || fNew >= bracket[low].f {
            bracket[high] = current
            (low, high) = bracket[0].f <= bracket[1].f ? (0, 1) : (1, 0)
        } else {
            if abs(gtdNew) <= -c2 * gtd {
                done = true
            } else if gtdNew * (bracket[high].t - bracket[low].t) >= 0 {
                bracket[high] = bracket[low]
            }
            bracket[low] = current
        }
    }
    return (bracket[low], evaluations)
}

/// The dot product in the vectors' precision, multiply then add in index order: what torch's
/// `dot` computes for short vectors. (For long ones BLAS reorders the sum; results then agree to
/// rounding, not bit for bit.)
@_specialize(where S == Float)
@_specialize(where S == Double)
@_specialize(where S == Float)
@_specialize(where S == Double)
func dot<S: OptimScalar>(_ a: [S], _ b: [S]) -> S {
    var sum: S = 0
    for i in a.indices { sum = sum + a[i] * b[i] }
    return sum
}
