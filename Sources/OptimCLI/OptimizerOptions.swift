import Foundation
import ArgumentParser
import DataParallel
import ModelIO
import Models
import Optim

/// The optimizers, by torch's class names in lower case.
enum OptimizerKind: String, ExpressibleByArgument, CaseIterable {
    case sgd, adam, adamw, adagrad, rmsprop, adadelta, adamax, asgd, nadam, radam, rprop, lbfgs, adafactor, muon, sparseadam, newton

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
        case .adafactor: ["lr", "beta2-decay", "eps", "d", "weight-decay", "maximize"]
        case .muon: ["lr", "momentum", "weight-decay"]
        case .sparseadam: ["lr", "betas", "eps", "maximize"]
        case .newton: ["max-iter", "tolerance-grad"]
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
    @Option(name: .customLong("optimizer"), help: ArgumentHelp("The optimizer: \(OptimizerKind.allCases.map(\.rawValue).joined(separator: ", ")). Default: full-batch lbfgs (strong Wolfe line search, until converged) for linear, logistic and softmax regression on up to 1,000,000 training rows (newton for linear regression with one output and logistic regression on sparse rows); adam otherwise. newton is trust-region Newton-CG on every row (LIBLINEAR's solver, not torch.optim's) for linear and logistic regression on sparse rows: the fastest to a tight optimum when the penalty is weak.",
                               valueName: "name"))
    var optimizerChoice: OptimizerKind?

    @Option(parsing: .unconditional, help: "Learning rate (torch: lr). Default: torch's for the optimizer.") var lr: Double?
    @Option(parsing: .unconditional, help: "Momentum factor (SGD, RMSprop).") var momentum: Double?
    @Option(parsing: .unconditional, help: "Dampening of the momentum (SGD).") var dampening: Double?
    @Option(parsing: .unconditional, help: "Weight decay (torch: weight_decay). A term of the update, not of the objective: --l2 penalizes the objective (and works with lbfgs).") var weightDecay: Double?
    @Flag(help: "Nesterov momentum (SGD).") var nesterov = false
    @Flag(help: "Maximize the objective instead of minimizing it.") var maximize = false
    @Option(help: "Coefficients of the running averages, \"b1,b2\" (Adam family).") var betas: Pair?
    @Option(help: "Term added to the denominator (torch: eps; Adafactor: eps[1], the floor of the weights' RMS).") var eps: Double?
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
    @Option(parsing: .unconditional, help: "Exponent of the second-moment decay, 1 - beta2_t = t^beta2_decay (Adafactor: beta2_decay, default -0.8).") var beta2Decay: Double?
    @Option(name: .customLong("d"), help: "Clipping threshold of the update's RMS (Adafactor: d, default 1).") var clippingThreshold: Double?
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
            ("beta2-decay", beta2Decay != nil), ("d", clippingThreshold != nil),
        ]
        for (name, isGiven) in values where isGiven { flags.insert(name) }
        return flags
    }

    /// The optimizer given, or adam (the trainer picks its own default with ``optimizerChoice`` nil).
    var optimizer: OptimizerKind { optimizerChoice ?? .adam }

    func validate() throws {
        guard let optimizer = optimizerChoice else { return }  // checked again once the default is known
        try check(optimizer)
    }

    /// Throws when a hyperparameter was given that `optimizer` does not take.
    func check(_ optimizer: OptimizerKind) throws {
        let extra = given.subtracting(optimizer.flags)
        if !extra.isEmpty {
            throw ValidationError("\(extra.sorted().map { "--\($0)" }.joined(separator: ", ")) do(es) not apply to --optimizer \(optimizer.rawValue) (it takes \(optimizer.flags.sorted().map { "--\($0)" }.joined(separator: ", ")))")
        }
    }

    /// The optimizer over `parameters` (`kind`, or the one given), torch's defaults where a flag
    /// was not given.
    func make<Scalar: TrainingScalar>(_ parameters: Parameters<Scalar>, as kind: OptimizerKind? = nil) throws -> any Optimizer<Scalar> {
        let optimizer = kind ?? self.optimizer
        try check(optimizer)
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
                // Chosen by default: strong Wolfe and a history of 10, as scikit-learn's lbfgs.
                let automatic = optimizerChoice == nil
                return try LBFGS(p, lr: lr ?? 1, maxIter: maxIter ?? 20, maxEval: maxEval, toleranceGrad: toleranceGrad ?? 1e-7,
                                 toleranceChange: toleranceChange ?? 1e-9, historySize: historySize ?? (automatic ? 10 : 100),
                                 lineSearchFn: lineSearchFn ?? (automatic ? .strongWolfe : nil), maximize: m)
            case .muon:
                // torch's recipe: Muon for the 2-D weights, AdamW (torch's defaults) for the biases.
                return try Muon(p, lr: lr ?? 1e-3, weightDecay: wd ?? 0.1, momentum: momentum ?? 0.95,
                                others: AdamOptions(lr: 1e-3, weightDecay: 1e-2, decoupledWeightDecay: true))
            case .sparseadam:
                // Adam's moments updated only at the columns a minibatch's sparse rows touch (the
                // bias, which every row touches, at every step).
                return try SparseAdam(p, lr: lr ?? 1e-3, betas: betas?.value ?? (0.9, 0.999), eps: eps ?? 1e-8, maximize: m)
            case .newton:
                // Trust-region Newton-CG on every row (not torch.optim: LIBLINEAR's solver), for
                // linear and logistic regression on sparse rows.
                return try NewtonCG(p, maxIter: maxIter ?? 1, toleranceGrad: toleranceGrad ?? 1e-10)
            case .adafactor:
                return try Adafactor(p, lr: lr ?? 1e-2, beta2Decay: beta2Decay ?? -0.8, eps: (nil, eps ?? 1e-3), d: clippingThreshold ?? 1,
                                     weightDecay: wd ?? 0, maximize: m)
            }
        } catch let error as OptimError {
            throw ValidationError("--optimizer \(optimizer.rawValue): \(error.message)")
        }
    }

    /// "adam(lr=0.001)": the optimizer and the hyperparameters given, with their values.
    var summary: String { summary(as: optimizer) }

    func summary(as optimizer: OptimizerKind) -> String {
        let shown = given.sorted().map { name -> String in
            let key = name.replacingOccurrences(of: "-", with: "_")
            return hyperparameters[key].map { "\(key)=\($0)" } ?? key
        }
        return "\(optimizer.rawValue)(\(shown.joined(separator: ", ")))"
    }

    /// Every hyperparameter of `optimizer` (the optimizer built), under torch's names, with its value.
    static func hyperparameters<Scalar>(of optimizer: any Optimizer<Scalar>) -> [String: String] {
        func open<O: Optimizer>(_ o: O) -> [String: String] {
            guard let data = try? JSONEncoder.canonical.encode(o.stateDict()),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let groups = object["param_groups"] as? [[String: Any]], let group = groups.first else { return [:] }
            var values: [String: String] = [:]
            for (key, value) in group where key != "params" {
                if let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys]) {
                    values[key] = String(decoding: data, as: UTF8.self)
                }
            }
            return values
        }
        return open(optimizer)
    }

    /// The given hyperparameters' values as text, by torch name.
    private var hyperparameters: [String: String] {
        var values: [String: String] = [:]
        func put(_ key: String, _ value: Any?) { if let value { values[key] = "\(value)" } }
        put("lr", lr); put("momentum", momentum); put("dampening", dampening); put("weight_decay", weightDecay)
        put("eps", eps); put("alpha", alpha); put("lr_decay", lrDecay); put("initial_accumulator_value", initialAccumulatorValue)
        put("rho", rho); put("lambd", lambd); put("t0", t0); put("momentum_decay", momentumDecay); put("max_iter", maxIter)
        put("max_eval", maxEval); put("tolerance_grad", toleranceGrad); put("tolerance_change", toleranceChange)
        put("history_size", historySize); put("line_search_fn", lineSearchFn?.rawValue); put("beta2_decay", beta2Decay); put("d", clippingThreshold)
        for (key, pair) in [("betas", betas), ("etas", etas), ("step_sizes", stepSizes)] {
            if let pair { values[key] = "(\(pair.value.0), \(pair.value.1))" }
        }
        return values
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

    /// The schedule and every option given, for a checkpoint's identity ("cosine(t_max=10)").
    func summary(epochs: Int) -> String {
        let values: [(String, String?)] = [("step_size", stepSize.map { "\($0)" }), ("gamma", gamma.map { "\($0)" }),
                                           ("milestones", milestones), ("t_max", "\(tMax ?? epochs)"), ("eta_min", etaMin.map { "\($0)" }),
                                           ("max_lr", maxLr.map { "\($0)" }), ("factor", factor.map { "\($0)" }),
                                           ("patience", patience.map { "\($0)" })]
        return scheduler.rawValue + "(" + values.compactMap { key, value in value.map { "\(key)=\($0)" } }.joined(separator: ", ") + ")"
    }

    func make<Scalar>(_ optimizer: any Optimizer<Scalar>, epochs: Int) throws -> EpochSchedule? {
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
