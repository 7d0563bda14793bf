import Foundation
import Optim

/// Decodes hyperparameters given under torch's names (`{"lr": 0.01, "weight_decay": 0.1}`) on top
/// of `defaults`, by round-tripping through the options' torch-keyed Codable form. Unknown keys
/// are an error, so a fixture cannot silently ask for something the port ignores.
func options<O: Hyperparameters>(_ defaults: O, overriddenBy torchValues: [String: JSONValue]) throws -> O {
    let encoded = try JSONEncoder().encode(defaults)
    var object = try JSONDecoder().decode([String: JSONValue].self, from: encoded)
    for (key, value) in torchValues {
        guard object[key] != nil else { throw OptimError("unknown hyperparameter \(key) for \(O.self)") }
        object[key] = value
    }
    return try JSONDecoder().decode(O.self, from: JSONEncoder().encode(object))
}

/// torch's flags that choose an implementation, not a result: accepted when off (all of torch's
/// CPU implementations compute the for-loop path's numbers, or close to them).
let implementationFlags: Set<String> = ["foreach", "fused", "capturable", "differentiable"]

/// Builds the torch optimizer called `name` over `params` with torch-named hyperparameters.
func makeOptimizer<S: OptimScalar>(_ name: String, _ params: [Parameters<S>], _ torchArguments: [String: JSONValue]) throws -> any Optimizer<S> {
    var hp = torchArguments
    for flag in implementationFlags {
        switch hp[flag] {
        case nil: continue
        case .null?, .bool(false)?: hp[flag] = nil
        default: throw OptimError("\(flag)=true is not supported: swift-optim has one implementation of each optimizer")
        }
    }
    func configured<O: ElementwiseRule>(_ optimizer: ElementwiseOptimizer<S, O>) throws -> any Optimizer<S> {
        optimizer.paramGroups[0].options = try options(optimizer.defaults, overriddenBy: hp)
        try optimizer.paramGroups[0].options.validate()
        return optimizer
    }
    switch name {
    case "SGD": return try configured(SGD(params))
    case "Adam": return try configured(Adam(params))
    case "AdamW": return try configured(AdamW(params))
    case "Adagrad":
        // Adagrad creates its state in the constructor, from initial_accumulator_value.
        let o = try options(AdagradOptions(), overriddenBy: hp)
        return try Adagrad(params, lr: o.lr, lrDecay: o.lrDecay, weightDecay: o.weightDecay,
                           initialAccumulatorValue: o.initialAccumulatorValue, eps: o.eps, maximize: o.maximize)
    case "RMSprop": return try configured(RMSprop(params))
    case "Adadelta": return try configured(Adadelta(params))
    case "Adamax": return try configured(Adamax(params))
    case "ASGD": return try configured(ASGD(params))
    case "NAdam": return try configured(NAdam(params))
    case "RAdam": return try configured(RAdam(params))
    case "Rprop": return try configured(Rprop(params))
    case "LBFGS":
        var values = hp
        if values["max_eval"] == nil, let maxIter = values["max_iter"]?.int { values["max_eval"] = .number(Double(maxIter * 5 / 4)) }
        let o = try options(LBFGSOptions(), overriddenBy: values)
        return try LBFGS(params, lr: o.lr, maxIter: o.maxIter, maxEval: o.maxEval, toleranceGrad: o.toleranceGrad,
                         toleranceChange: o.toleranceChange, historySize: o.historySize,
                         lineSearchFn: o.lineSearchFn, maximize: o.maximize)
    case "Muon":
        let o = try options(MuonOptions(), overriddenBy: hp)
        return try Muon(params, lr: o.lr, weightDecay: o.weightDecay, momentum: o.momentum, nesterov: o.nesterov,
                        nsCoefficients: (o.nsCoefficients[0], o.nsCoefficients[1], o.nsCoefficients[2]), eps: o.eps, nsSteps: o.nsSteps,
                        adjustLRFn: o.adjustLRFn)
    case "Adafactor":
        let o = try options(AdafactorOptions(), overriddenBy: hp)
        return try Adafactor(params, lr: o.lr, beta2Decay: o.beta2Decay, eps: (o.eps1, o.eps2), d: o.d, weightDecay: o.weightDecay,
                             maximize: o.maximize)
    default: throw OptimError("unknown optimizer \(name)")
    }
}

/// The learning-rate functions fixtures name for LambdaLR and MultiplicativeLR.
func namedLambda(_ name: String) throws -> (Int) -> Double {
    switch name {
    case "0.95 ** epoch": return { pow(0.95, Double($0)) }
    case "1 / (1 + epoch)": return { 1 / (1 + Double($0)) }
    case "0.9": return { _ in 0.9 }
    default: throw OptimError("unknown lr_lambda \(name)")
    }
}

/// A stepping scheduler, or ReduceLROnPlateau (which steps on the loss).
enum AnyScheduler {
    case stepping(any Scheduler)
    case plateau(ReduceLROnPlateau)

    func step(loss: Double) throws {
        switch self {
        case .stepping(let s): try s.step()
        case .plateau(let p): p.step(metric: loss)
        }
    }
}

/// Builds the torch scheduler called `name` with torch-named arguments.
func makeScheduler(_ name: String, _ a: [String: JSONValue], _ optimizer: any SchedulableOptimizer) throws -> AnyScheduler {
    func num(_ key: String, _ fallback: Double) -> Double { a[key]?.number ?? fallback }
    func int(_ key: String, _ fallback: Int) -> Int { a[key]?.int ?? fallback }
    func list(_ key: String, _ fallback: [Double]) -> [Double] { a[key]?.numbers ?? fallback }
    func string(_ key: String, _ fallback: String) -> String { if case .string(let s) = a[key] { s } else { fallback } }
    func bool(_ key: String, _ fallback: Bool) -> Bool { if case .bool(let b) = a[key] { b } else { fallback } }
    func children(_ key: String) throws -> [any Scheduler] {
        guard case .array(let specs) = a[key] else { throw OptimError("\(name) needs \(key)") }
        return try specs.map { spec -> any Scheduler in
            guard case .object(let o) = spec, case .string(let n) = o["name"], case .object(let args) = o["arguments"],
                  case .stepping(let s) = try makeScheduler(n, args, optimizer) else { throw OptimError("bad child scheduler") }
            return s
        }
    }
    switch name {
    case "StepLR": return .stepping(try StepLR(optimizer, stepSize: int("step_size", 1), gamma: num("gamma", 0.1)))
    case "MultiStepLR":
        return .stepping(try MultiStepLR(optimizer, milestones: list("milestones", []).map { Int($0) }, gamma: num("gamma", 0.1)))
    case "ConstantLR": return .stepping(try ConstantLR(optimizer, factor: num("factor", 1.0 / 3), totalIters: int("total_iters", 5)))
    case "LinearLR":
        return .stepping(try LinearLR(optimizer, startFactor: num("start_factor", 1.0 / 3), endFactor: num("end_factor", 1.0),
                                      totalIters: int("total_iters", 5)))
    case "ExponentialLR": return .stepping(try ExponentialLR(optimizer, gamma: num("gamma", 0.9)))
    case "PolynomialLR": return .stepping(try PolynomialLR(optimizer, totalIters: int("total_iters", 5), power: num("power", 1.0)))
    case "CosineAnnealingLR": return .stepping(try CosineAnnealingLR(optimizer, tMax: int("T_max", 10), etaMin: num("eta_min", 0)))
    case "CosineAnnealingWarmRestarts":
        return .stepping(try CosineAnnealingWarmRestarts(optimizer, t0: int("T_0", 10), tMult: int("T_mult", 1), etaMin: num("eta_min", 0)))
    case "CyclicLR":
        return .stepping(try CyclicLR(
            optimizer, baseLR: list("base_lr", [0.001]), maxLR: list("max_lr", [0.01]), stepSizeUp: int("step_size_up", 2000),
            stepSizeDown: a["step_size_down"]?.int, mode: CyclicLR.Mode(rawValue: string("mode", "triangular"))!,
            gamma: num("gamma", 1.0), cycleMomentum: bool("cycle_momentum", true),
            baseMomentum: list("base_momentum", [0.8]), maxMomentum: list("max_momentum", [0.9])))
    case "OneCycleLR":
        return .stepping(try OneCycleLR(
            optimizer, maxLR: list("max_lr", [0.1]), totalSteps: a["total_steps"]?.int, epochs: a["epochs"]?.int,
            stepsPerEpoch: a["steps_per_epoch"]?.int, pctStart: num("pct_start", 0.3),
            annealStrategy: OneCycleLR.AnnealStrategy(rawValue: string("anneal_strategy", "cos"))!,
            cycleMomentum: bool("cycle_momentum", true), baseMomentum: list("base_momentum", [0.85]),
            maxMomentum: list("max_momentum", [0.95]), divFactor: num("div_factor", 25), finalDivFactor: num("final_div_factor", 1e4),
            threePhase: bool("three_phase", false)))
    case "ReduceLROnPlateau":
        return .plateau(try ReduceLROnPlateau(
            optimizer, mode: .init(rawValue: string("mode", "min"))!, factor: num("factor", 0.1), patience: int("patience", 10),
            threshold: num("threshold", 1e-4), thresholdMode: .init(rawValue: string("threshold_mode", "rel"))!,
            cooldown: int("cooldown", 0), minLR: list("min_lr", [0]), eps: num("eps", 1e-8)))
    case "SWALR":
        guard let strategy = SWALR.AnnealStrategy(rawValue: string("anneal_strategy", "cos")) else { throw OptimError("bad anneal_strategy") }
        return .stepping(try SWALR(optimizer, swaLR: list("swa_lr", []), annealEpochs: int("anneal_epochs", 10), annealStrategy: strategy))
    case "LambdaLR": return .stepping(try LambdaLR(optimizer, lrLambda: namedLambda(string("lr_lambda", ""))))
    case "MultiplicativeLR": return .stepping(try MultiplicativeLR(optimizer, lrLambda: namedLambda(string("lr_lambda", ""))))
    case "SequentialLR":
        let parts = try children("schedulers").map { $0 as! LRScheduler }
        return .stepping(try SequentialLR(optimizer, schedulers: parts, milestones: list("milestones", []).map { Int($0) }))
    case "ChainedScheduler": return .stepping(try ChainedScheduler(try children("schedulers")))
    default: throw OptimError("unknown scheduler \(name)")
    }
}
