/// The p-norm torch's `vector_norm` computes: (Σ|x|ᵖ)^(1/p); ∞ → max|x|; −∞ → min|x|;
/// 0 → the number of non-zero elements. Accumulated in `Double`.
func vectorNorm(_ values: UnsafeBufferPointer<Double>, _ p: Double) -> Double {
    if p == .infinity { return values.reduce(0) { max($0, abs($1)) } }
    if p == -.infinity { return values.reduce(.infinity) { min($0, abs($1)) } }
    if p == 0 { return Double(values.filter { $0 != 0 }.count) }
    if p == 2 { return values.reduce(0) { $0.addingProduct($1, $1) }.squareRoot() }
    if p == 1 { return values.reduce(0) { $0 + abs($1) } }
    return PyMath.pow(values.reduce(0) { $0 + PyMath.pow(abs($1), p) }, 1 / p)
}

/// Rescales all defined gradients so that their total norm is at most `maxNorm`
/// (torch: `torch.nn.utils.clip_grad_norm_`). Returns the total norm *before* clipping.
///
/// The total norm is the norm of the per-tensor norms, as torch computes it; every gradient is
/// then multiplied by min(1, maxNorm / (total + 1e-6)), in the gradients' precision.
///
/// - Parameters:
///   - params: the parameter buffers whose gradients are clipped together (torch: `parameters`).
///   - maxNorm: the largest allowed norm (torch: `max_norm`).
///   - normType: p, any positive number, `.infinity`, or 0 (torch: `norm_type`, default 2).
///   - errorIfNonfinite: throw, leaving the gradients unchanged, when the total norm is NaN or
///     infinite (torch: `error_if_nonfinite`, default false).
@discardableResult
public func clipGradNorm<Scalar: OptimScalar>(
    _ params: [Parameters<Scalar>], maxNorm: Double, normType: Double = 2, errorIfNonfinite: Bool = false
) throws -> Double {
    var norms: [Double] = []
    for p in params {
        for (i, tensor) in p.tensors.enumerated() where p.hasGrad[i] {
            let values = p.grad.withUnsafeBufferPointer { $0[tensor.range].map(\.doubleValue) }
            // Each per-tensor norm is a tensor in the gradient's dtype in torch.
            norms.append(Scalar(values.withUnsafeBufferPointer { vectorNorm($0, normType) }).doubleValue)
        }
    }
    guard !norms.isEmpty else { return 0 }
    let total = Scalar(norms.withUnsafeBufferPointer { vectorNorm($0, normType) })
    if errorIfNonfinite && !total.isFinite {
        throw OptimError(.runtimeError, "The total norm of order \(pythonRepr(normType)) for gradients from `parameters` is non-finite, so it cannot be clipped. To disable this error and scale the gradients by the non-finite norm anyway, set `error_if_nonfinite=False`")
    }
    // torch: clip_coef = max_norm / (total_norm + 1e-6), a `scalar / tensor`, i.e. reciprocal * scalar.
    let coefficient = 1 / (total + Scalar(1e-6)) * Scalar(maxNorm)
    let clamped = coefficient.isNaN ? coefficient : min(coefficient, 1)
    for p in params {
        for (i, tensor) in p.tensors.enumerated() where p.hasGrad[i] {
            p.grad.withUnsafeMutableBufferPointer { g in
                for k in tensor.range { g[k] = g[k] * clamped }
            }
        }
    }
    return total.doubleValue
}

/// Clamps every defined gradient element to [−clipValue, clipValue]
/// (torch: `torch.nn.utils.clip_grad_value_`).
public func clipGradValue<Scalar: OptimScalar>(_ params: [Parameters<Scalar>], clipValue: Double) {
    let bound = Scalar(clipValue)
    for p in params {
        for (i, tensor) in p.tensors.enumerated() where p.hasGrad[i] {
            p.grad.withUnsafeMutableBufferPointer { g in
                for k in tensor.range where !g[k].isNaN { g[k] = min(max(g[k], -bound), bound) }
            }
        }
    }
}
