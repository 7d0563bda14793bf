/// Muon's hyperparameters (torch: `torch.optim.Muon`), under torch's names in state dicts.
///
/// The update of one R × C weight, in torch's variable names (θ params, g gradient, γ `lr`,
/// λ `weight_decay`, μ `momentum`):
/// ```
/// b ← lerp(b, g, 1 − μ)
/// u ← nesterov ? lerp(g, b, μ) : b
/// u ← NewtonSchulz(u)        (in bfloat16: X ← u/‖u‖, then ns_steps times
///                              A ← X Xᵀ;  B ← b·A + c·A A;  X ← a·X + B X; transposed when R > C)
/// θ ← θ(1 − γλ) − γ·√max(1, R/C) · u      (adjust_lr_fn "original"; see ``MuonOptions/adjustLRFn``)
/// ```
/// The orthogonalization runs in bfloat16 as torch's does: the step is an approximately
/// orthogonal matrix, not a precise one, so its rounding matters less than its direction.
/// Only for 2-D parameters (the weights of hidden layers), as in torch; give biases and other
/// tensors to another optimizer (torch's documentation: AdamW), or to the same one through
/// `others:` (an AdamW for every tensor that is not 2-D, in one optimizer, as `optim train
/// --optimizer muon` uses it).
public struct MuonOptions: Hyperparameters {
    public static var optimizerName: String { "Muon" }
    /// Learning rate γ (torch: `lr`, default 1e-3).
    public var lr: Double
    /// Decoupled weight decay λ (torch: `weight_decay`, default 0.1).
    public var weightDecay: Double
    /// Momentum μ (torch: `momentum`, default 0.95).
    public var momentum: Double
    /// Nesterov momentum (torch: `nesterov`, default true).
    public var nesterov: Bool
    /// The Newton–Schulz polynomial's a, b, c (torch: `ns_coefficients`, default (3.4445, −4.7750, 2.0315)).
    public var nsCoefficients: [Double]
    /// Floor of the norm the update is divided by (torch: `eps`, default 1e-7).
    public var eps: Double
    /// Newton–Schulz iterations (torch: `ns_steps`, default 5, fewer than 100).
    public var nsSteps: Int
    /// How the learning rate follows the shape (torch: `adjust_lr_fn`): nil or "original"
    /// √max(1, R/C), "match_rms_adamw" 0.2·√max(R, C), "spectral_unclamped" √(R/C).
    public var adjustLRFn: String?

    public init(lr: Double = 1e-3, weightDecay: Double = 0.1, momentum: Double = 0.95, nesterov: Bool = true,
                nsCoefficients: (Double, Double, Double) = (3.4445, -4.7750, 2.0315), eps: Double = 1e-7, nsSteps: Int = 5,
                adjustLRFn: String? = nil) {
        self.lr = lr; self.weightDecay = weightDecay; self.momentum = momentum; self.nesterov = nesterov
        self.nsCoefficients = [nsCoefficients.0, nsCoefficients.1, nsCoefficients.2]; self.eps = eps; self.nsSteps = nsSteps
        self.adjustLRFn = adjustLRFn
    }

    /// torch's checks, in its order and words.
    public func validate() throws {
        guard lr >= 0 else { throw OptimError("Learning rate should be >= 0 but is: \(pythonRepr(lr))") }
        guard momentum >= 0 else { throw OptimError("momentum should be >= 0 but is: \(pythonRepr(momentum))") }
        guard weightDecay >= 0 else { throw OptimError("weight decay should be >= 0 but is: \(pythonRepr(weightDecay))") }
        if let adjustLRFn, !["original", "match_rms_adamw", "spectral_unclamped"].contains(adjustLRFn) {
            throw OptimError("Adjust learning rate function \(adjustLRFn) is not supported")
        }
        guard nsSteps < 100 else { throw OptimError("Number of steps must be less than 100 for computational efficiency") }
        guard nsSteps >= 0 else { throw OptimError("ns_steps should be >= 0 but is: \(nsSteps)") }
        guard nsCoefficients.count == 3 else { throw OptimError("Coefficients must be a tuple of exactly 3 values") }
    }

    enum CodingKeys: String, CodingKey {
        case lr, momentum, nesterov, eps
        case weightDecay = "weight_decay"
        case nsCoefficients = "ns_coefficients"
        case nsSteps = "ns_steps"
        case adjustLRFn = "adjust_lr_fn"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(lr, forKey: .lr)
        try container.encode(weightDecay, forKey: .weightDecay)
        try container.encode(momentum, forKey: .momentum)
        try container.encode(nesterov, forKey: .nesterov)
        try container.encode(nsCoefficients, forKey: .nsCoefficients)
        try container.encode(eps, forKey: .eps)
        try container.encode(nsSteps, forKey: .nsSteps)
        try container.encode(adjustLRFn, forKey: .adjustLRFn)  // null when unset, as torch writes None
    }

    /// The learning rate for a `rows` × `columns` weight (torch's `_adjust_lr`).
    func adjustedLR(rows: Int, columns: Int) -> Double {
        let (a, b) = (Double(rows), Double(columns))
        switch adjustLRFn {
        case nil, "original"?: return lr * max(1, a / b).squareRoot()
        case "match_rms_adamw"?: return lr * (0.2 * max(a, b).squareRoot())
        case "spectral_unclamped"?: return lr * (a / b).squareRoot()
        default: return lr
        }
    }
}

/// Muon (torch: `torch.optim.Muon`): momentum, then the update orthogonalized by a Newton–Schulz
/// iteration, for 2-D weights; see ``MuonOptions``.
public final class Muon<Scalar: OptimScalar>: SchedulableOptimizer {
    public var paramGroups: [ParamGroup<Scalar, MuonOptions>] = []
    public let defaults: MuonOptions
    public private(set) var stepCount = 0
    /// The step, state-dict and load hooks (``Optimizer/registerStepPreHook(_:)`` and the like).
    public let hooks = OptimizerHooks<MuonOptions>()
    /// torch's `momentum_buffer`, per tensor (created at its first gradient).
    private var buffers: [ObjectIdentifier: [[Scalar]?]] = [:]
    /// The AdamW that updates the tensors that are not 2-D, when there is one (``init(_:lr:weightDecay:momentum:nesterov:nsCoefficients:eps:nsSteps:adjustLRFn:others:)``);
    /// its hyperparameters stay as given (schedules set Muon's learning rate only).
    public let others: AdamOptions?
    /// AdamW's state of those tensors: `step`, `exp_avg`, `exp_avg_sq`.
    struct AdamState: Equatable {
        var step: TensorStepState<Scalar>
        var mean: [Scalar]
        var variance: [Scalar]
    }
    private var adamStates: [ObjectIdentifier: [AdamState?]] = [:]

    /// - Parameters: torch's, under their Swift names: `lr` (1e-3), `weightDecay` (0.1),
    ///   `momentum` (0.95), `nesterov` (true), `nsCoefficients`, `eps` (1e-7), `nsSteps` (5),
    ///   `adjustLRFn` (nil). Every tensor must be 2-D (torch's rule), unless `others` gives the
    ///   AdamW hyperparameters (`decoupledWeightDecay` true) for those that are not.
    public init(_ params: [Parameters<Scalar>], lr: Double = 1e-3, weightDecay: Double = 0.1, momentum: Double = 0.95,
                nesterov: Bool = true, nsCoefficients: (Double, Double, Double) = (3.4445, -4.7750, 2.0315), eps: Double = 1e-7,
                nsSteps: Int = 5, adjustLRFn: String? = nil, others: AdamOptions? = nil) throws {
        try others?.validate()
        self.others = others
        let options = MuonOptions(lr: lr, weightDecay: weightDecay, momentum: momentum, nesterov: nesterov, nsCoefficients: nsCoefficients,
                                  eps: eps, nsSteps: nsSteps, adjustLRFn: adjustLRFn)
        try options.validate()
        try Self.checkNotEmpty(params)
        defaults = options
        try addParamGroup(params)
    }

    /// torch's `add_param_group`; every tensor must be 2-D.
    public func addParamGroup(_ params: [Parameters<Scalar>], _ configure: (inout MuonOptions) -> Void = { _ in }) throws {
        try checkNewGroup(params)
        for p in params where others == nil {
            for tensor in p.tensors where tensor.shape.count != 2 {
                throw OptimError("Muon only supports 2D parameters whereas we found a parameter with size: torch.Size([\(tensor.shape.map(String.init).joined(separator: ", "))])")
            }
        }
        var options = defaults
        configure(&options)
        try options.validate()
        paramGroups.append(ParamGroup(params: params, options: options))
    }

    @discardableResult
    public func step(closure: () throws -> Double) rethrows -> Double {
        try hooks.aroundStep {
            let loss = try closure()
            update()
            return loss
        }
    }

    public func step() { hooks.aroundStep(update) }

    private func update() {
        for group in paramGroups {
            let o = group.options
            for p in group.params {
                var tensorBuffers = buffers[ObjectIdentifier(p)] ?? Array(repeating: nil, count: p.tensors.count)
                var adam = adamStates[ObjectIdentifier(p)] ?? Array(repeating: nil, count: p.tensors.count)
                for (t, tensor) in p.tensors.enumerated() where p.hasGrad[t] && tensor.shape.count != 2 {
                    guard let others else { continue }
                    var state = adam[t] ?? AdamState(step: TensorStepState(step: 0, scalars: [], isFresh: true),
                                                     mean: Array(repeating: 0, count: tensor.count), variance: Array(repeating: 0, count: tensor.count))
                    state.mean.withUnsafeMutableBufferPointer { mean in
                        state.variance.withUnsafeMutableBufferPointer { variance in
                            let run = UpdateRun(count: tensor.count, param: p.values.base + tensor.offset, grad: UnsafePointer(p.grad.base + tensor.offset),
                                                buffers: [mean.baseAddress!, variance.baseAddress!])
                            others.update(run, state: &state.step)
                        }
                    }
                    state.step.isFresh = false
                    adam[t] = state
                }
                adamStates[ObjectIdentifier(p)] = adam
                for (t, tensor) in p.tensors.enumerated() where p.hasGrad[t] && tensor.shape.count == 2 {
                    var buffer = tensorBuffers[t] ?? Array(repeating: 0, count: tensor.count)
                    let theta = p.values.base + tensor.offset, g = UnsafePointer(p.grad.base + tensor.offset)
                    let toGrad = LerpWeight<Scalar>(1 - o.momentum), toBuffer = LerpWeight<Scalar>(o.momentum)
                    var update = [Scalar](repeating: 0, count: tensor.count)
                    for i in 0..<tensor.count {
                        buffer[i] = torchLerp(buffer[i], g[i], weight: toGrad.w, weightMinusOne: toGrad.wm1, small: toGrad.small)
                        update[i] = o.nesterov ? torchLerp(g[i], buffer[i], weight: toBuffer.w, weightMinusOne: toBuffer.wm1, small: toBuffer.small)
                            : buffer[i]
                    }
                    let (rows, columns) = (tensor.shape[0], tensor.shape[1])
                    let orthogonal = Self.newtonSchulz(update, rows: rows, columns: columns, options: o)
                    let decay = Scalar(1 - o.lr * o.weightDecay), alpha = Scalar(-o.adjustedLR(rows: rows, columns: columns))
                    for i in 0..<tensor.count { theta[i] = torchAdd(theta[i] * decay, Scalar(orthogonal[i]), alpha: alpha) }
                    tensorBuffers[t] = buffer
                }
                buffers[ObjectIdentifier(p)] = tensorBuffers
            }
        }
        stepCount += 1
    }

    /// torch's `_zeropower_via_newtonschulz`, in bfloat16: each matrix product accumulated in
    /// Float and rounded to bfloat16 once, as torch's CPU bfloat16 `addmm` does. Row-major
    /// `rows` × `columns` in and out.
    static func newtonSchulz(_ matrix: [Scalar], rows: Int, columns: Int, options: MuonOptions) -> [Float] {
        let (a, b, c) = (Float(options.nsCoefficients[0]), Float(options.nsCoefficients[1]), Float(options.nsCoefficients[2]))
        let transposed = rows > columns
        let (m, n) = transposed ? (columns, rows) : (rows, columns)
        var x = [Float](repeating: 0, count: m * n)
        for i in 0..<rows {
            for j in 0..<columns {
                let value = bfloat16(Float(matrix[i * columns + j].doubleValue))
                if transposed { x[j * n + i] = value } else { x[i * n + j] = value }
            }
        }
        var sum: Float = 0
        for v in x { sum = sum.addingProduct(v, v) }
        let norm = max(bfloat16(sum.squareRoot()), bfloat16(Float(options.eps)))
        for i in x.indices { x[i] = bfloat16(x[i] / norm) }
        var gram = [Float](repeating: 0, count: m * m), next = [Float](repeating: 0, count: m * m), product = [Float](repeating: 0, count: m * n)
        for _ in 0..<options.nsSteps {
            // A = X Xᵀ
            for i in 0..<m {
                for j in 0..<m {
                    var dot: Float = 0
                    for k in 0..<n { dot = dot.addingProduct(x[i * n + k], x[j * n + k]) }
                    gram[i * m + j] = bfloat16(dot)
                }
            }
            // B = b·A + c·A A
            for i in 0..<m {
                for j in 0..<m {
                    var dot: Float = 0
                    for k in 0..<m { dot = dot.addingProduct(gram[i * m + k], gram[k * m + j]) }
                    next[i * m + j] = bfloat16(b * gram[i * m + j] + c * dot)
                }
            }
            // X = a·X + B X
            for i in 0..<m {
                for j in 0..<n {
                    var dot: Float = 0
                    for k in 0..<m { dot = dot.addingProduct(next[i * m + k], x[k * n + j]) }
                    product[i * n + j] = bfloat16(a * x[i * n + j] + dot)
                }
            }
            swap(&x, &product)
        }
        guard transposed else { return x }
        var out = [Float](repeating: 0, count: rows * columns)
        for i in 0..<m { for j in 0..<n { out[j * columns + i] = x[i * n + j] } }
        return out
    }

    /// `value` rounded to bfloat16 (8 bits of significand, round to nearest even), as a Float.
    static func bfloat16(_ value: Float) -> Float {
        guard !value.isNaN else { return value }
        let bits = value.bitPattern
        let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
        return Float(bitPattern: rounded & 0xFFFF_0000)
    }

    // MARK: - State dicts

    public func stateDict() -> OptimizerStateDict<MuonOptions> { hooks.aroundStateDict(buildStateDict) }

    private func buildStateDict() -> OptimizerStateDict<MuonOptions> {
        var state: [Int: [String: StateValue]] = [:]
        var groups: [ParamGroupState<MuonOptions>] = []
        var index = 0
        for group in paramGroups {
            var indices: [Int] = []
            for p in group.params {
                for t in p.tensors.indices {
                    if let buffer = buffers[ObjectIdentifier(p)]?[t] { state[index] = ["momentum_buffer": .tensor(Scalar.widened(buffer))] }
                    if let adam = adamStates[ObjectIdentifier(p)]?[t] {
                        state[index] = ["step": .number(adam.step.step.doubleValue), "exp_avg": .tensor(Scalar.widened(adam.mean)),
                                        "exp_avg_sq": .tensor(Scalar.widened(adam.variance))]
                    }
                    indices.append(index)
                    index += 1
                }
            }
            groups.append(ParamGroupState(options: group.options, schedulerValues: group.schedulerValues, params: indices))
        }
        return OptimizerStateDict(state: state, paramGroups: groups)
    }

    public func loadStateDict(_ dict: OptimizerStateDict<MuonOptions>) throws { try hooks.aroundLoad(dict, load) }

    private func load(_ dict: OptimizerStateDict<MuonOptions>) throws {
        try checkLayout(of: dict)
        var restored: [ObjectIdentifier: [[Scalar]?]] = [:]
        var restoredAdam: [ObjectIdentifier: [AdamState?]] = [:]
        for (saved, group) in zip(dict.paramGroups, paramGroups) {
            try saved.options.validate()
            var position = 0
            for p in group.params {
                var tensorBuffers: [[Scalar]?] = Array(repeating: nil, count: p.tensors.count)
                var adam: [AdamState?] = Array(repeating: nil, count: p.tensors.count)
                for (t, tensor) in p.tensors.enumerated() {
                    defer { position += 1 }
                    guard let entry = dict.state[saved.params[position]] else { continue }
                    if tensor.shape.count != 2 {
                        // AdamW's state of a tensor that is not 2-D.
                        guard let step = entry["step"]?.number else { throw OptimError(.keyError, "state of parameter '\(tensor.name)' lacks 'step'") }
                        let count = try StateValue.counter(step, key: "step")
                        func buffer(_ name: String) throws -> [Scalar] {
                            guard let values = entry[name]?.tensor else { throw OptimError(.keyError, "state of parameter '\(tensor.name)' lacks '\(name)'") }
                            guard values.count == tensor.count else {
                                throw OptimError("state '\(name)' of parameter '\(tensor.name)' has \(values.count) elements, expected \(tensor.count)")
                            }
                            return Scalar.narrowed(values)
                        }
                        adam[t] = AdamState(step: TensorStepState(step: Scalar(Double(count)), scalars: [], isFresh: false),
                                            mean: try buffer("exp_avg"), variance: try buffer("exp_avg_sq"))
                        continue
                    }
                    guard let values = entry["momentum_buffer"]?.tensor else {
                        throw OptimError(.keyError, "state of parameter '\(tensor.name)' lacks 'momentum_buffer'")
                    }
                    guard values.count == tensor.count else {
                        throw OptimError("state 'momentum_buffer' of parameter '\(tensor.name)' has \(values.count) elements, expected \(tensor.count)")
                    }
                    tensorBuffers[t] = Scalar.narrowed(values)
                }
                restored[ObjectIdentifier(p)] = tensorBuffers
                restoredAdam[ObjectIdentifier(p)] = adam
            }
        }
        adoptGroups(of: dict)
        buffers = restored
        adamStates = restoredAdam
    }

    // MARK: - SchedulableOptimizer

    public func cyclicMomentum(group: Int) -> Double? { paramGroups[group].options.momentum }
    public func setCyclicMomentum(_ value: Double, group: Int) { paramGroups[group].options.momentum = value }
}

extension Muon: Optimizer, GroupedOptimizer {}
