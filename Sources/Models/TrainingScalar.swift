import CKernelSupport
import Optim
import RealModule
import VectorMath

/// The precisions the trainer runs in: `Float` (the default, torch's float32) and `Double`
/// (scikit-learn's float64, for ill-conditioned fits). Models, kernels, data sets, `fit`, and
/// the files are generic over it; a model's kernels are compiled for both.
///
/// What a kernel needs beyond arithmetic on `SIMD8<Self>`: the fixed-order horizontal sums and the
/// optimizer barriers of `CKernelSupport`, in each precision.
public protocol TrainingScalar: OptimScalar, VectorScalar, Real {
    /// Lane r = the sum of a_r's eight lanes, ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)).
    static func laneSums(_ a0: SIMD8<Self>, _ a1: SIMD8<Self>, _ a2: SIMD8<Self>, _ a3: SIMD8<Self>,
                         _ a4: SIMD8<Self>, _ a5: SIMD8<Self>, _ a6: SIMD8<Self>, _ a7: SIMD8<Self>) -> SIMD8<Self>
    /// The lanes as Double (exactly).
    static func widened(_ v: SIMD8<Self>) -> SIMD8<Double>
    /// `p`, hidden from the optimizer (loads through it are not merged with earlier ones).
    static func opaque(_ p: UnsafePointer<Self>) -> UnsafePointer<Self>
    /// `v`, hidden from the optimizer (its lanes are then broadcast from one register).
    static func opaque(_ v: SIMD8<Self>) -> SIMD8<Self>
    /// The name of the precision in files and messages: "float32" or "float64".
    static var dtypeName: String { get }
}

extension Float: TrainingScalar {
    @_transparent public static func laneSums(_ a0: SIMD8<Float>, _ a1: SIMD8<Float>, _ a2: SIMD8<Float>, _ a3: SIMD8<Float>,
                                              _ a4: SIMD8<Float>, _ a5: SIMD8<Float>, _ a6: SIMD8<Float>, _ a7: SIMD8<Float>) -> SIMD8<Float> {
        optim_lane_sums8(a0, a1, a2, a3, a4, a5, a6, a7)
    }
    @_transparent public static func widened(_ v: SIMD8<Float>) -> SIMD8<Double> { optim_widen8(v) }
    @_transparent public static func opaque(_ p: UnsafePointer<Float>) -> UnsafePointer<Float> { optim_opaque(p) }
    @_transparent public static func opaque(_ v: SIMD8<Float>) -> SIMD8<Float> { optim_opaque_vector(v) }
    public static var dtypeName: String { "float32" }
}

extension Double: TrainingScalar {
    @_transparent public static func laneSums(_ a0: SIMD8<Double>, _ a1: SIMD8<Double>, _ a2: SIMD8<Double>, _ a3: SIMD8<Double>,
                                              _ a4: SIMD8<Double>, _ a5: SIMD8<Double>, _ a6: SIMD8<Double>,
                                              _ a7: SIMD8<Double>) -> SIMD8<Double> {
        optim_lane_sums8_double(a0, a1, a2, a3, a4, a5, a6, a7)
    }
    @_transparent public static func widened(_ v: SIMD8<Double>) -> SIMD8<Double> { v }
    @_transparent public static func opaque(_ p: UnsafePointer<Double>) -> UnsafePointer<Double> { optim_opaque_double(p) }
    @_transparent public static func opaque(_ v: SIMD8<Double>) -> SIMD8<Double> { optim_opaque_vector_double(v) }
    public static var dtypeName: String { "float64" }
}

/// Runs a kernel compiled for the precision of `Scalar`: `float` when it is Float, `double` when
/// Double (each closure calls the generic kernel with concrete types, so it is specialized and
/// inlined there), `generic` otherwise. A generic kernel called through a protocol from another
/// module would otherwise run unspecialized: measured 100× slower.
@inline(__always)
func inPrecision<Scalar: TrainingScalar, R>(_: Scalar.Type, float: () -> R, double: () -> R, generic: () -> R) -> R {
    if Scalar.self == Float.self { return float() }
    if Scalar.self == Double.self { return double() }
    return generic()
}

extension UnsafePointer {
    /// The same address as a pointer to `Other` (for ``inPrecision(_:float:double:generic:)``,
    /// where `Other` is `Pointee`).
    @inline(__always) func retyped<Other>(_: Other.Type) -> UnsafePointer<Other> {
        UnsafeRawPointer(self).assumingMemoryBound(to: Other.self)
    }
}

extension UnsafeMutablePointer {
    /// The same address as a pointer to `Other`.
    @inline(__always) func retyped<Other>(_: Other.Type) -> UnsafeMutablePointer<Other> {
        UnsafeMutableRawPointer(self).assumingMemoryBound(to: Other.self)
    }
}

extension RowBlock {
    /// The same rows typed as `Other` (where `Other` is `Scalar`).
    @inline(__always) func retyped<Other>(_: Other.Type) -> RowBlock<Other> {
        RowBlock<Other>(x: x.retyped(Other.self), xStride: xStride, y: y.retyped(Other.self), yStride: yStride, count: count,
                        weights: weights?.retyped(Other.self))
    }
}
