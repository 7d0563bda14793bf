import ArgumentParser
import DataParallel
import Optim

/// The optimizers, by torch's class names in lower case.
enum OptimizerKind: String, ExpressibleByArgument, CaseIterable {
    case sgd, adam, adamw, adagrad, rmsprop, adadelta, adamax, asgd, nadam, radam, rprop, lbfgs

    /// The hyperparameter flags each optimizer takes (torch's constructor arguments).
    var flags: Set<String> {
        switch self {
        case .sgd: ["lr", "momentum", "dampening", "weight-decay", "nesterov", "maximize"]
        case .adam: ["lr", "betas", "eps", "weight-decay", "amsgrad", "maximize", "decoupled-weight-decay"]
        case .adamw: ["lr", "betas", "eps", "weight-decay", "amsgrad", "maximize"]
        case .adagrad: ["lr", "lr-decay", "weight-decay", "initial-accumulator-value", "eps", "maximize"]
        case .rmsprop: ["lr", "alpha", "eps", "weight-decay", "momentum", "centered", "maximize"]
        case .adadelta: ["lr", "rho", "eps", "weight-decay", "maximize"]
        case .adamax: ["lr", "betas", "eps", "weight-decay", "maximize"]
        case .asgd: ["lr", "lambd", "alpha", "t0", "weight-decay", "maximize"]
        case .nadam: ["lr", "betas", "eps", "weight-decay", "momentum-decay", "decoupled-weight-decay", "maximize"]
        case .radam: ["lr", "betas", "eps", "weight-decay", "decoupled-weight-decay", "maximize"]
        case .rprop: ["lr", "etas", "step-sizes", "maximize"]
        case .lbfgs: ["lr", "max-iter", "max-eval", "tolerance-grad", "tolerance-change", "history-size", "line-search-fn", "maximize"]
        }
    }
}

extension LineSearch: ExpressibleByArgument {}

/// A pair of numbers written "a,b" (torch's tuples: --betas 0.9,0.999).
struct Pair: ExpressibleByArgument {
    let value: (Double, Double)
    init?(argument: String) {
        let parts = argument.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2 else { return nil }
        value = (parts[0], parts[1])
    }
}

/// Every torch.optim hyperparameter, by its torch name in CLI form. Unset ones keep torch's defaults.
struct OptimizerOptions: ParsableArguments {
    @Option(help: "The optimizer: \(OptimizerKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var optimizer: OptimizerKind = .adam

    @Option(help: "Learning rate (torch: lr). Default: torch's for the optimizer.") var lr: Double?
    @Option(help: "Momentum factor (SGD, RMSprop).") var momentum: Double?
    @Option(help: "Dampening of the momentum (SGD).") var dampening: Double?
    @Option(help: "Weight decay (torch: weight_decay).") var weightDecay: Double?
    @Flag(help: "Nesterov momentum (SGD).") var nesterov = false
    @Flag(help: "Maximize the objective instead of minimizing it.") var maximize = false
    @Option(help: "Coefficients of the running averages, \"b1,b2\" (Adam family).") var betas: Pair?
    @Option(help: "Term added to the denominator (torch: eps).") var eps: Double?
    @Flag(help: "Use the maximum of past squared gradients (Adam, AdamW).") var amsgrad = false
    @Option(help: "Smoothing constant (RMSprop) or power of the eta update (ASGD).") var alpha: Double?
    @Flag(help: "Normalize by the estimated variance (RMSprop).") var centered = false
    @Option(help: "Learning-rate decay (Adagrad: lr_decay).") var lrDecay: Double?
    @Option(help: "Starting accumulator value (Adagrad).") var initialAccumulatorValue: Double?
    @Option(help: "Decay of the running averages (Adadelta).") var rho: Double?
    @Option(help: "Decay term (ASGD).") var lambd: Double?
    @Option(help: "Step at which averaging starts (ASGD).") var t0: Double?
    @Option(help: "Momentum decay (NAdam: momentum_decay).") var momentumDecay: Double?
    @Flag(help: "Decoupled weight decay, as AdamW (Adam, NAdam, RAdam).") var decoupledWeightDecay = false
    @Option(help: "Decrease and increase factors, \"eta_minus,eta_plus\" (Rprop).") var etas: Pair?
    @Option(help: "Minimal and maximal step sizes, \"min,max\" (Rprop).") var stepSizes: Pair?
    @Option(help: "Iterations per step (LBFGS: max_iter).") var maxIter: Int?
    @Option(help: "Closure evaluations per step (LBFGS: max_eval).") var maxEval: Int?
    @Option(help: "Gradient tolerance (LBFGS: tolerance_grad).") var toleranceGrad: Double?
    @Option(help: "Change tolerance (LBFGS: tolerance_change).") var toleranceChange: Double?
    @Option(help: "Pairs kept (LBFGS: history_size).") var historySize: Int?
    @Option(help: "Line search (LBFGS: line_search_fn): strong_wolfe.") var lineSearchFn: LineSearch?

    /// The flags that were given.
    var given: Set<String> {
        var flags: Set<String> = []
        let values: [(String, Bool)] = [
            ("lr", lr != nil), ("momentum", momentum != nil), ("dampening", dampening != nil),
            ("weight-decay", weightDecay != nil), ("nesterov", nesterov), ("maximize", maximize), ("betas", betas != nil),
            ("eps", eps != nil), ("amsgrad", amsgrad), ("alpha", alpha != nil), ("centered", centered),
            ("lr-decay", lrDecay != nil), ("initial-accumulator-value", initialAccumulatorValue != nil), ("rho", rho != nil),
            ("lambd", lambd != nil), ("t0", t0 != nil), ("momentum-decay", momentumDecay != nil),
            ("decoupled-weight-decay", decoupledWeightDecay), ("etas", etas != nil), ("step-sizes", stepSizes != nil),
            ("max-iter", maxIter != nil), ("max-eval", maxEval != nil), ("tolerance-grad", toleranceGrad != nil),
            ("tolerance-change", toleranceChange != nil), ("history-size", historySize != nil), ("line-search-fn", lineSearchFn != nil),
        ]
        for (name, isGiven) in values where isGiven { flags.insert(name) }
        return flags
    }

    func validate() throws {
        let extra = given.subtracting(optimizer.flags)
        if !extra.isEmpty {
            throw ValidationError("\(extra.sorted().map { "--\($0)" }.joined(separator: ", ")) do(es) not apply to --optimizer \(optimizer.rawValue) (it takes \(optimizer.flags.sorted().map { "--\($0)" }.joined(separator: ", ")))")
        }
    }

    /// The optimizer over `parameters`, torch's defaults where a flag was not given.
    func make(_ parameters: Parameters<Float>) throws -> any Optimizer<Float> {
        let p = [parameters], wd = weightDecay, m = maximize
        do {
            switch optimizer {
            case .sgd:
                return try SGD(p, lr: lr ?? 1e-3, momentum: momentum ?? 0, dampening: dampening ?? 0, weightDecay: wd ?? 0,
                               nesterov: nesterov, maximize: m)
            case .adam:
                return try Adam(p, lr: lr ?? 1e-3, betas: betas?.value ?? (0.9, 0.999), eps: eps ?? 1e-8, weightDecay: wd ?? 0,
                                amsgrad: amsgrad, maximize: m, decoupledWeightDecay: decoupledWeightDecay)
            case .adamw:
                return try AdamW(p, lr: lr ?? 1e-3, betas: betas?.value ?? (0.9, 0.999), eps: eps ?? 1e-8, weightDecay: wd ?? 1e-2,
                                 amsgrad: amsgrad, maximize: m)
            case .adagrad:
                return try Adagrad(p, lr: lr ?? 1e-2, lrDecay: lrDecay ?? 0, weightDecay: wd ?? 0,
                                   initialAccumulatorValue: initialAccumulatorValue ?? 0, eps: eps ?? 1e-10, maximize: m)
            case .rmsprop:
                return try RMSprop(p, lr: lr ?? 1e-2, alpha: alpha ?? 0.99, eps: eps ?? 1e-8, weightDecay: wd ?? 0,
                                   momentum: momentum ?? 0, centered: centered, maximize: m)
            case .adadelta:
                return try Adadelta(p, lr: lr ?? 1.0, rho: rho ?? 0.9, eps: eps ?? 1e-6, weightDecay: wd ?? 0, maximize: m)
            case .adamax:
                return try Adamax(p, lr: lr ?? 2e-3, betas: betas?.value ?? (0.9, 0.999), eps: eps ?? 1e-8, weightDecay: wd ?? 0, maximize: m)
            case .asgd:
                return try ASGD(p, lr: lr ?? 1e-2, lambd: lambd ?? 1e-4, alpha: alpha ?? 0.75, t0: t0 ?? 1e6, weightDecay: wd ?? 0, maximize: m)
            case .nadam:
                return try NAdam(p, lr: lr ?? 2e-3, betas: betas?.value ?? (0.9, 0.999), eps: eps ?? 1e-8, weightDecay: wd ?? 0,
                                 momentumDecay: momentumDecay ?? 4e-3, decoupledWeightDecay: decoupledWeightDecay, maximize: m)
            case .radam:
                return try RAdam(p, lr: lr ?? 1e-3, betas: betas?.value ?? (0.9, 0.999), eps: eps ?? 1e-8, weightDecay: wd ?? 0,
                                 decoupledWeightDecay: decoupledWeightDecay, maximize: m)
            case .rprop:
                return try Rprop(p, lr: lr ?? 1e-2, etas: etas?.value ?? (0.5, 1.2), stepSizes: stepSizes?.value ?? (1e-6, 50), maximize: m)
            case .lbfgs:
                return try LBFGS(p, lr: lr ?? 1, maxIter: maxIter ?? 20, maxEval: maxEval, toleranceGrad: toleranceGrad ?? 1e-7,
                                 toleranceChange: toleranceChange ?? 1e-9, historySize: historySize ?? 100,
                                 lineSearchFn: lineSearchFn, maximize: m)
            }
        } catch let error as OptimError {
            throw ValidationError("--optimizer \(optimizer.rawValue): \(error.message)")
        }
    }

    /// "Adam(lr=0.001)": the optimizer and the hyperparameters given.
    var summary: String {
        let shown = given.sorted().map { name -> String in
            switch name {
            case "lr": "lr=\(lr!)"
            case "momentum": "momentum=\(momentum!)"
            case "weight-decay": "weight_decay=\(weightDecay!)"
            case "betas": "betas=(\(betas!.value.0), \(betas!.value.1))"
            default: name.replacingOccurrences(of: "-", with: "_")
            }
        }
        return "\(optimizer.rawValue)(\(shown.joined(separator: ", ")))"
    }
}

/// Learning-rate schedules stepped once per epoch.
enum SchedulerKind: String, ExpressibleByArgument, CaseIterable {
    case none, step, multistep, exponential, cosine, linear, onecycle, plateau
}

struct SchedulerOptions: ParsableArguments {
    @Option(help: "Learning-rate schedule, stepped per epoch: \(SchedulerKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var scheduler: SchedulerKind = .none
    @Option(help: "Epochs between decays (step).") var stepSize: Int?
    @Option(help: "Decay factor (step, multistep, exponential).") var gamma: Double?
    @Option(help: "Epochs of decay, comma-separated (multistep).") var milestones: String?
    @Option(help: "Half-period in epochs (cosine; default: the number of epochs).") var tMax: Int?
    @Option(help: "Minimum learning rate (cosine).") var etaMin: Double?
    @Option(help: "Peak learning rate (onecycle).") var maxLr: Double?
    @Option(help: "Reduction factor (plateau).") var factor: Double?
    @Option(help: "Epochs without improvement before a reduction (plateau).") var patience: Int?

    func make(_ optimizer: any Optimizer<Float>, epochs: Int) throws -> EpochSchedule? {
        do {
            switch scheduler {
            case .none: return nil
            case .step: return .stepping(try StepLR(optimizer, stepSize: stepSize ?? max(1, epochs / 3), gamma: gamma ?? 0.1))
            case .multistep:
                let epochsList = (milestones ?? "").split(separator: ",").compactMap { Int($0) }
                guard !epochsList.isEmpty else { throw ValidationError("--scheduler multistep needs --milestones, e.g. 5,8") }
                return .stepping(try MultiStepLR(optimizer, milestones: epochsList, gamma: gamma ?? 0.1))
            case .exponential: return .stepping(try ExponentialLR(optimizer, gamma: gamma ?? 0.9))
            case .cosine: return .stepping(try CosineAnnealingLR(optimizer, tMax: tMax ?? max(1, epochs), etaMin: etaMin ?? 0))
            case .linear: return .stepping(try LinearLR(optimizer, startFactor: 1.0 / 3, totalIters: max(1, epochs / 2)))
            case .onecycle:
                return .stepping(try OneCycleLR(optimizer, maxLR: [maxLr ?? optimizer.learningRate(group: 0) * 10], totalSteps: max(epochs, 1),
                                                cycleMomentum: optimizer.cyclicMomentum(group: 0) != nil))
            case .plateau: return .plateau(try ReduceLROnPlateau(optimizer, factor: factor ?? 0.1, patience: patience ?? 2))
            }
        } catch let error as OptimError {
            throw ValidationError("--scheduler \(scheduler.rawValue): \(error.message)")
        }
    }
}
