// torch's CPU kernels, operation for operation (see torch-optim reference §0): which ops fuse a
// multiply-add and which do not decides bit parity. `Float.addingProduct` is IEEE fma.

/// `x.add_(y, alpha=a)`: `fma(y, a, x)`.
@inline(__always) @usableFromInline
func torchAdd<S: OptimScalar>(_ x: S, _ y: S, alpha a: S) -> S { x.addingProduct(y, a) }

/// `x.lerp_(y, w)`: `fma(w, y - x, x)` when `|w| < 0.5`, else `fma(w - 1, y - x, y)`.
/// `weightMinusOne` is `w - 1` rounded in the tensor's dtype, as ATen computes it.
@inline(__always) @usableFromInline
func torchLerp<S: OptimScalar>(_ x: S, _ y: S, weight w: S, weightMinusOne wm1: S, small: Bool) -> S {
    small ? x.addingProduct(w, y - x) : y.addingProduct(wm1, y - x)
}

/// `x.addcmul_(a, b, value=v)`: `fma(v * a, b, x)`.
@inline(__always) @usableFromInline
func torchAddcmul<S: OptimScalar>(_ x: S, _ a: S, _ b: S, value v: S) -> S { x.addingProduct(v * a, b) }

/// `x.addcdiv_(a, b, value=v)`: `x + (v * a) / b`, with no fused multiply-add.
@inline(__always) @usableFromInline
func torchAddcdiv<S: OptimScalar>(_ x: S, _ a: S, _ b: S, value v: S) -> S { x + (v * a) / b }

/// `torch.maximum`: NaN in either operand gives NaN.
@inline(__always) @usableFromInline
func torchMaximum<S: OptimScalar>(_ a: S, _ b: S) -> S {
    if a.isNaN || b.isNaN { return .nan }
    return a > b ? a : b
}

/// The lerp weight as ATen prepares it: the weight rounded to the dtype, `w - 1`, and the branch.
@usableFromInline
struct LerpWeight<S: OptimScalar> {
    @usableFromInline let w: S
    @usableFromInline let wm1: S
    @usableFromInline let small: Bool
    @inline(__always) @usableFromInline init(_ weight: Double) {
        w = S(weight)
        wm1 = w - 1
        small = abs(w) < 0.5
    }
}

/// The gradient as every for-loop optimizer first transforms it: negated under `maximize`, then
/// `grad.add(param, alpha=weight_decay)` when the decay is coupled (L2).
///
/// Written without branches (a multiplication by ±1 is exact, a select picks one exact value), so
/// that the loops that use it vectorize.
@usableFromInline
struct GradientTransform<S: OptimScalar> {
    @usableFromInline let sign: S
    @usableFromInline let decay: S
    @usableFromInline let decays: Bool
    @inline(__always) @usableFromInline init(maximize: Bool, weightDecay: Double) {
        sign = maximize ? -1 : 1
        decay = S(weightDecay)
        decays = weightDecay != 0
    }
    @inline(__always) @usableFromInline func callAsFunction(_ g: S, _ p: S) -> S {
        let signed = g * sign
        let decayed = torchAdd(signed, p, alpha: decay)
        return decays ? decayed : signed
    }
}

/// Decoupled weight decay θ ← θ(1 − γλ), as a select so that loops vectorize.
@usableFromInline
struct DecoupledDecay<S: OptimScalar> {
    @usableFromInline let factor: S
    @usableFromInline let decays: Bool
    @inline(__always) @usableFromInline init(enabled: Bool, lr: Double, weightDecay: Double) {
        factor = S(1 - lr * weightDecay)
        decays = enabled && weightDecay != 0
    }
    @inline(__always) @usableFromInline func callAsFunction(_ p: S) -> S {
        let decayed = p * factor
        return decays ? decayed : p
    }
}
