/// Hessian-vector products for a second-order optimizer: what the trainer gives beside the loss
/// and gradient closure. The curvature is that of the point where the closure last ran, kept by
/// ``holdCurvature()`` for the products that follow (a rejected trial point must not replace it).
public protocol HessianVectorProduct<Scalar>: AnyObject {
    associatedtype Scalar: OptimScalar
    /// Keeps the curvature at the point of the latest closure evaluation.
    func holdCurvature()
    /// H·v at the held point (the Hessian of the closure's objective), flat over the parameters
    /// in order.
    func product(_ v: [Double]) -> [Double]
    /// A positive diagonal preconditioner for the held point (nil: none).
    func preconditioner() -> [Double]?
}

/// An optimizer that takes Hessian-vector products from the trainer (`fit` installs them).
public protocol SecondOrderOptimizer<Scalar>: AnyObject {
    associatedtype Scalar: OptimScalar
    var hessian: (any HessianVectorProduct<Scalar>)? { get set }
}

/// Hyperparameters of ``NewtonCG``.
public struct NewtonCGOptions: Hyperparameters {
    /// Accepted Newton iterations per `step` (default 1: a step is one iteration).
    public var maxIter: Int
    /// Conjugate-gradient iterations per Newton iteration, at most (default 250).
    public var maxCG: Int
    /// The inner solve stops when the residual is below this fraction of the gradient's norm
    /// (default 0.1, LIBLINEAR's).
    public var cgTolerance: Double
    /// `step` returns early once the gradient's norm is at most this (default 1e-10).
    public var toleranceGrad: Double

    public init(maxIter: Int = 1, maxCG: Int = 250, cgTolerance: Double = 0.1, toleranceGrad: Double = 1e-10) {
        self.maxIter = maxIter; self.maxCG = maxCG; self.cgTolerance = cgTolerance; self.toleranceGrad = toleranceGrad
    }

    enum CodingKeys: String, CodingKey {
        case maxIter = "max_iter", maxCG = "max_cg", cgTolerance = "cg_tolerance", toleranceGrad = "tolerance_grad"
    }

    public func validate() throws {
        guard maxIter >= 1 else { throw OptimError("Invalid max_iter value: \(maxIter) (at least 1)") }
        guard maxCG >= 1 else { throw OptimError("Invalid max_cg value: \(maxCG) (at least 1)") }
        guard cgTolerance > 0 && cgTolerance < 1 else { throw OptimError("Invalid cg_tolerance value: \(cgTolerance) (between 0 and 1)") }
        try Check.nonNegative(toleranceGrad, "tolerance_grad")
    }
}

/// Trust-region Newton with conjugate gradients (LIBLINEAR's TRON, Lin, Weng and Keerthi 2008):
/// each iteration solves H·s = −g by conjugate gradients (preconditioned by the diagonal the
/// trainer gives) inside a trust region of radius Δ, evaluates the trial
/// point w + s, accepts it when the loss fell by a fair share of what the quadratic model
/// predicted, and grows or shrinks Δ by how well the model predicted. Not part of torch.optim:
/// offered beside it for convex objectives (linear and logistic regression), where it converges
/// in a few dozen iterations however ill-conditioned the problem is.
///
/// `step(closure:)` needs ``hessian`` (installed by the trainer's `fit` for the models that have
/// one); without it the products use the identity (a trust-region gradient step). All vector
/// arithmetic is in Double, in a fixed order: the iterates depend on the closure's values only.
public final class NewtonCG<Scalar: OptimScalar>: SchedulableOptimizer, SecondOrderOptimizer {
    public var paramGroups: [ParamGroup<Scalar, NewtonCGOptions>]
    public private(set) var stepCount = 0
    public let hooks = OptimizerHooks<NewtonCGOptions>()
    /// The trainer's products (a new one, a new objective: nothing cached is reused).
    public var hessian: (any HessianVectorProduct<Scalar>)? { didSet { accepted = nil } }
    /// The trust region's radius (nil until the first iteration sets it from the gradient).
    private var radius: Double?
    private var iterations = 0
    /// The last accepted point with its loss and gradient (to spare re-evaluating it).
    private var accepted: (values: [Scalar], loss: Double, grad: [Double])?

    public init(_ params: [Parameters<Scalar>], maxIter: Int = 1, maxCG: Int = 250, cgTolerance: Double = 0.1,
                toleranceGrad: Double = 1e-10) throws {
        let options = NewtonCGOptions(maxIter: maxIter, maxCG: maxCG, cgTolerance: cgTolerance, toleranceGrad: toleranceGrad)
        try options.validate()
        guard !params.isEmpty, params.contains(where: { !$0.tensors.isEmpty }) else { throw OptimError("optimizer got an empty parameter list") }
        let ids = params.map(ObjectIdentifier.init)
        guard Set(ids).count == ids.count else { throw OptimError("optimizer contains a parameter group with duplicate parameters") }
        paramGroups = [ParamGroup(params: params, options: options)]
    }

    private var params: [Parameters<Scalar>] { paramGroups[0].params }

    public func zeroGrad(setToNone: Bool = true) {
        for p in params { p.zeroGrad(setToNone: setToNone) }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    private func flatValues() -> [Scalar] { params.flatMap(\.values.array) }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    private func flatGrad() -> [Double] {
        var flat: [Double] = []
        for p in params {
            for (i, tensor) in p.tensors.enumerated() {
                if p.hasGrad[i] {
                    p.grad.withUnsafeBufferPointer { g in for j in tensor.range { flat.append(g[j].doubleValue) } }
                } else {
                    flat.append(contentsOf: repeatElement(0, count: tensor.count))
                }
            }
        }
        return flat
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    private func setValues(_ values: [Scalar]) {
        var offset = 0
        for p in params {
            p.values.assign(values[offset..<(offset + p.count)])
            offset += p.count
        }
    }

    private func product(_ v: [Double]) -> [Double] { hessian?.product(v) ?? v }

    /// Up to `maxIter` accepted iterations; returns the loss at the start, as every optimizer does.
    @discardableResult
    public func step(closure: () throws -> Double) rethrows -> Double {
        try hooks.aroundStep { try iterate(closure: closure) }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    private func iterate(closure: () throws -> Double) rethrows -> Double {
        defer { stepCount += 1 }
        let options = paramGroups[0].options
        var w = flatValues()
        var f: Double, g: [Double]
        if let accepted, accepted.values == w {
            (f, g) = (accepted.loss, accepted.grad)
        } else {
            f = try closure()
            g = flatGrad()
            hessian?.holdCurvature()
        }
        let first = f
        var done = 0
        var m = preconditioner(count: g.count)
        while done < options.maxIter {
            guard norm(g) > options.toleranceGrad, f.isFinite else { break }
            // The trust region is measured in the preconditioner's norm (LIBLINEAR's PCG variant).
            var delta = radius ?? norm(g, m)
            let (s, r) = conjugateGradient(g, m: m, radius: delta, options: options)
            let gs = dot(g, s), prered = -0.5 * (gs - dot(s, r))
            var trial = w
            for j in trial.indices { trial[j] = w[j] + Scalar(s[j]) }
            setValues(trial)
            let fnew = try closure()
            let actred = f - fnew
            // The radius, by how well the quadratic model predicted the decrease (TRON's rules).
            let snorm = norm(s, m)
            if iterations == 0 && radius == nil { delta = min(delta, snorm) }
            let curvature = fnew - f - gs
            let alpha = curvature <= 0 ? 4 : max(0.25, -0.5 * (gs / curvature))
            if !(actred >= 1e-4 * prered) {
                delta = min(max(alpha, 0.25) * snorm, 0.5 * delta)
            } else if actred < 0.25 * prered {
                delta = max(0.25 * delta, min(alpha * snorm, 0.5 * delta))
            } else if actred < 0.75 * prered {
                delta = max(0.25 * delta, min(alpha * snorm, 4 * delta))
            } else {
                delta = max(delta, min(alpha * snorm, 4 * delta))
            }
            radius = delta
            if fnew.isFinite && actred > 1e-4 * prered {
                (w, f, g) = (trial, fnew, flatGrad())
                hessian?.holdCurvature()
                m = preconditioner(count: g.count)
                iterations += 1
                done += 1
            } else {
                setValues(w)
            }
            // Nothing left to gain: the model predicts no decrease, or both are below rounding.
            if abs(actred) <= 1e-12 * abs(f) && abs(prered) <= 1e-12 * abs(f) { break }
            if prered <= 0 { break }
        }
        setValues(w)
        accepted = (w, f, g)
        return first
    }

    /// The provider's diagonal preconditioner, or ones.
    private func preconditioner(count: Int) -> [Double] {
        guard let m = hessian?.preconditioner(), m.count == count else { return [Double](repeating: 1, count: count) }
        return m.map { $0 > 0 && $0.isFinite ? $0 : 1 }
    }

    /// Steihaug's preconditioned CG for H·s = −g within ‖s‖_M ≤ radius (M diagonal): the step
    /// s and the residual r = −g − H·s.
    private func conjugateGradient(_ g: [Double], m: [Double], radius: Double, options: NewtonCGOptions) -> (s: [Double], r: [Double]) {
        let n = g.count
        var s = [Double](repeating: 0, count: n)
        var r = g.map { -$0 }
        var z = (0..<n).map { r[$0] / m[$0] }
        var d = z
        var zr = dot(z, r)
        let tolerance = options.cgTolerance * zr.squareRoot()
        for _ in 0..<options.maxCG {
            if zr.squareRoot() <= tolerance { break }
            let hd = product(d)
            let dhd = dot(d, hd)
            var alpha = dhd > 0 ? zr / dhd : .infinity
            var next = s
            if alpha.isFinite { for j in 0..<n { next[j] = s[j] + alpha * d[j] } }
            if !alpha.isFinite || norm(next, m) > radius {
                // Along d to the boundary, in the M-norm.
                var sd = 0.0, ss = 0.0, dd = 0.0
                for j in 0..<n {
                    sd += s[j] * m[j] * d[j]
                    ss += s[j] * m[j] * s[j]
                    dd += d[j] * m[j] * d[j]
                }
                let squared = radius * radius, root = (sd * sd + dd * (squared - ss)).squareRoot()
                alpha = sd >= 0 ? (squared - ss) / (sd + root) : (root - sd) / dd
                for j in 0..<n {
                    s[j] += alpha * d[j]
                    r[j] -= alpha * hd[j]
                }
                break
            }
            s = next
            for j in 0..<n {
                r[j] -= alpha * hd[j]
                z[j] = r[j] / m[j]
            }
            let zrNext = dot(z, r)
            let beta = zrNext / zr
            for j in 0..<n { d[j] = z[j] + beta * d[j] }
            zr = zrNext
        }
        return (s, r)
    }

    /// √(Σ m·a²).
    private func norm(_ a: [Double], _ m: [Double]) -> Double {
        var sum = 0.0
        for j in a.indices { sum += m[j] * a[j] * a[j] }
        return sum.squareRoot()
    }

    private func dot(_ a: [Double], _ b: [Double]) -> Double {
        var sum = 0.0
        for j in a.indices { sum += a[j] * b[j] }
        return sum
    }

    private func norm(_ a: [Double]) -> Double { dot(a, a).squareRoot() }

    // MARK: - SchedulableOptimizer (no learning rate: the trust region sets each step's length)

    public var groupCount: Int { 1 }
    public func learningRate(group: Int) -> Double { 1 }
    public func setLearningRate(_ lr: Double, group: Int) {}
    public func cyclicMomentum(group: Int) -> Double? { nil }
    public func setCyclicMomentum(_ value: Double, group: Int) {}
    public func schedulerValue(_ key: String, group: Int) -> Double? { paramGroups[group].schedulerValues[key] }
    public func setSchedulerValue(_ value: Double?, key: String, group: Int) { paramGroups[group].schedulerValues[key] = value }

    // MARK: - State dict

    /// The trust region's radius and the iteration count, under parameter 0.
    public func stateDict() -> OptimizerStateDict<NewtonCGOptions> {
        hooks.aroundStateDict {
            var entry: [String: StateValue] = ["iterations": .number(Double(iterations))]
            if let radius { entry["radius"] = .number(radius) }
            let group = ParamGroupState(options: paramGroups[0].options, schedulerValues: paramGroups[0].schedulerValues,
                                        params: Array(0..<paramGroups[0].tensorCount))
            return OptimizerStateDict(state: iterations > 0 || radius != nil ? [0: entry] : [:], paramGroups: [group])
        }
    }

    public func loadStateDict(_ dict: OptimizerStateDict<NewtonCGOptions>) throws {
        try hooks.aroundLoad(dict) { dict in
            guard dict.paramGroups.count == 1 else { throw OptimError("loaded state dict has a different number of parameter groups") }
            let group = dict.paramGroups[0]
            guard group.params.count == paramGroups[0].tensorCount else {
                throw OptimError("loaded state dict contains a parameter group that doesn't match the size of optimizer's group")
            }
            try group.options.validate()
            let entry = group.params.first.flatMap { dict.state[$0] }
            let restoredRadius = entry?["radius"]?.number
            if let restoredRadius, !(restoredRadius > 0 && restoredRadius.isFinite) {
                throw OptimError("state 'radius' must be positive and finite, got \(restoredRadius)")
            }
            iterations = try StateValue.counter(entry?["iterations"]?.number ?? 0, key: "iterations")
            radius = restoredRadius
            accepted = nil
            paramGroups[0].options = group.options
            paramGroups[0].schedulerValues = group.schedulerValues
        }
    }
}

extension NewtonCG: Optimizer {}
