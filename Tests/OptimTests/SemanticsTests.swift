import Foundation
import Optim
import Testing

let optimizerNames = ["SGD", "Adam", "AdamW", "Adagrad", "RMSprop", "Adadelta", "Adamax", "ASGD", "NAdam", "RAdam", "Rprop", "LBFGS"]

/// Hyperparameters that make each optimizer use all of its state (momentum, amsgrad, ...).
func richHyperparameters(_ name: String) -> [String: JSONValue] {
    switch name {
    case "SGD": ["lr": .number(0.05), "momentum": .number(0.9), "nesterov": .bool(true), "weight_decay": .number(0.01)]
    case "Adam", "AdamW": ["lr": .number(0.05), "amsgrad": .bool(true), "weight_decay": .number(0.01)]
    case "Adagrad": ["lr": .number(0.1), "lr_decay": .number(0.01), "initial_accumulator_value": .number(0.1)]
    case "RMSprop": ["lr": .number(0.01), "momentum": .number(0.5), "centered": .bool(true)]
    case "ASGD": ["lr": .number(0.05), "t0": .number(3)]
    case "NAdam", "RAdam": ["lr": .number(0.05), "weight_decay": .number(0.1), "decoupled_weight_decay": .bool(true)]
    case "LBFGS": ["lr": .number(1), "max_iter": .number(4), "history_size": .number(3), "line_search_fn": .string("strong_wolfe")]
    default: ["lr": .number(0.05)]
    }
}

/// lsq5's parameters as two tensors, weight [5] and bias [1], starting at zero.
func twoTensorModel<S: OptimScalar>(_: S.Type) -> Parameters<S> {
    Parameters<S>(shapes: [(name: "weight", shape: [5]), (name: "bias", shape: [1])])
}

/// One closure evaluation of lsq5 on the two-tensor model.
func lsq5Step<S: OptimScalar>(_ optimizer: any Optimizer<S>, _ model: Parameters<S>) {
    let problem = Problem<S>.leastSquares5
    optimizer.step {
        optimizer.zeroGrad(setToNone: true)
        let (loss, gradient) = problem.lossAndGradient(model.values.array)
        model.setGrad(Array(gradient[0..<5]), for: "weight")
        model.setGrad([gradient[5]], for: "bias")
        return loss.doubleValue
    }
}

/// Saves `source`'s state dict as JSON and loads it into `target`, which must be the same kind.
func transferState<O: Optimizer>(from source: O, to target: any Optimizer<O.Scalar>) throws -> Data {
    let data = try JSONEncoder().encode(source.stateDict())
    let dict = try JSONDecoder().decode(OptimizerStateDict<O.Options>.self, from: data)
    try #require(target as? O).loadStateDict(dict)
    return data
}

func stateJSON<O: Optimizer>(_ optimizer: O) throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    return try encoder.encode(optimizer.stateDict())
}

@Suite("torch.optim semantics")
struct SemanticsTests {
    func roundTrip<S: OptimScalar>(_ name: String, _: S.Type) throws {
        let steps = name == "LBFGS" ? 3 : 10
        let original = twoTensorModel(S.self)
        let optimizer = try makeOptimizer(name, [original], richHyperparameters(name))
        for _ in 0..<steps { lsq5Step(optimizer, original) }

        let resumed = twoTensorModel(S.self)
        resumed.values.assign(original.values.array)
        let fresh = try makeOptimizer(name, [resumed], ["lr": .number(0.5)])
        _ = try transferState(from: optimizer, to: fresh)
        #expect(try stateJSON(optimizer) == stateJSON(fresh), "\(name): the loaded state differs from the saved one")
        for _ in 0..<steps {
            lsq5Step(optimizer, original)
            lsq5Step(fresh, resumed)
        }
        #expect(original.values.array == resumed.values.array, "\(name) (\(S.self)): the resumed run left the original trajectory")
        #expect(try stateJSON(optimizer) == stateJSON(fresh))
    }

    @Test("A state dict saved mid-run and loaded into a fresh optimizer continues the same trajectory, bit for bit",
          arguments: optimizerNames)
    func stateDictRoundTrip(name: String) throws {
        try roundTrip(name, Double.self)
        try roundTrip(name, Float.self)
    }

    @Test("A step without gradients changes nothing and creates no state", arguments: optimizerNames)
    func stepWithoutGradients(name: String) throws {
        let model = twoTensorModel(Double.self)
        model.values.assign([0.5, -1, 2, 0.25, 3, 1])
        let optimizer = try makeOptimizer(name, [model], richHyperparameters(name))
        let before = try stateJSON(optimizer)
        optimizer.step { optimizer.zeroGrad(setToNone: true); return 1 }
        #expect(model.values.array == [0.5, -1, 2, 0.25, 3, 1])
        if name == "LBFGS" { return }  // LBFGS counts the evaluation it made
        #expect(try stateJSON(optimizer) == before)
    }

    @Test("Tensors whose gradient is absent are skipped: no update, no state, no step counted")
    func partialGradients() throws {
        for name in optimizerNames where name != "LBFGS" {
            let model = twoTensorModel(Double.self)
            model.values.assign([0.5, -1, 2, 0.25, 3, 1])
            let optimizer = try makeOptimizer(name, [model], richHyperparameters(name))
            for _ in 0..<3 {
                optimizer.zeroGrad(setToNone: true)
                model.setGrad([0.1, 0.2, 0.3, 0.4, 0.5], for: "weight")
                _ = optimizer.step { 0 }
            }
            #expect(model.value("bias") == [1], "\(name) moved a tensor without gradient")
            #expect(model.value("weight") != [0.5, -1, 2, 0.25, 3], "\(name) did not move the tensor with a gradient")
            let state = stateEntries(optimizer)
            if name == "Adagrad" {
                #expect(state[1]?["step"]?.number == 0, "Adagrad's eager state for the bias must not count steps")
                #expect(state[0]?["step"]?.number == 3)
            } else {
                #expect(state[1] == nil, "\(name) created state for a tensor without gradient")
                #expect(state[0] != nil)
            }
        }
    }

    @Test("A zero gradient is a real step: with no weight decay it moves nothing, but it counts")
    func zeroGradientsAreSteps() throws {
        for name in optimizerNames where !["LBFGS", "ASGD", "AdamW"].contains(name) {
            let model = twoTensorModel(Double.self)
            model.values.assign([0.5, -1, 2, 0.25, 3, 1])
            let optimizer = try makeOptimizer(name, [model], ["lr": .number(0.1)])
            model.setGrad([0, 0, 0, 0, 0], for: "weight")
            model.setGrad([0], for: "bias")
            optimizer.zeroGrad(setToNone: false)
            _ = optimizer.step { 0 }
            #expect(model.values.array == [0.5, -1, 2, 0.25, 3, 1], "\(name) moved on a zero gradient")
            #expect(stateEntries(optimizer)[0] != nil || name == "SGD", "\(name) did not take the zero-gradient step")
        }
    }

    @Test("Param groups keep their own hyperparameters, as separate optimizers would")
    func perGroupHyperparameters() throws {
        for name in optimizerNames where name != "LBFGS" {
            let weights = Parameters<Double>([0.5, -1, 2], name: "w"), bias = Parameters<Double>([1], name: "b")
            let grouped = try makeOptimizer(name, [weights], richHyperparameters(name)) as! any SchedulableOptimizer
            let reference = Parameters<Double>([0.5, -1, 2], name: "w")
            let alone = try makeOptimizer(name, [reference], richHyperparameters(name))
            try addGroup(grouped, bias)
            for k in 0..<5 {
                let g = [0.3 - Double(k) * 0.1, 0.2, -0.4]
                weights.setGrad(g, at: 0); reference.setGrad(g, at: 0); bias.setGrad([2.0], at: 0)
                _ = (grouped as! any Optimizer<Double>).step { 0 }
                _ = alone.step { 0 }
            }
            #expect(weights.values.array == reference.values.array, "\(name): group 0 differs from a lone optimizer")
            #expect(grouped.learningRate(group: 1) == 1e-28)
            // Rprop's step size is clamped to step_sizes[0] = 1e-6 whatever lr is, as in torch.
            let bound = name == "Rprop" ? 5 * 1e-6 * 1.2 * 1.2 * 1.2 * 1.2 : 1e-20
            #expect(abs(bias.values[0] - 1) <= bound, "\(name): the lr=1e-28 group moved (\(bias.values[0]))")
        }
    }

    /// Adds `params` as a second group with lr 1e-28, through the concrete optimizer type.
    func addGroup(_ optimizer: any SchedulableOptimizer, _ params: Parameters<Double>) throws {
        func add<O: ElementwiseRule>(_ o: ElementwiseOptimizer<Double, O>) throws { try o.addParamGroup([params]) { $0.lr = 1e-28 } }
        switch optimizer {
        case let o as SGD<Double>: try add(o)
        case let o as Adam<Double>: try add(o)
        case let o as AdamW<Double>: try add(o)
        case let o as Adagrad<Double>: try add(o)
        case let o as RMSprop<Double>: try add(o)
        case let o as Adadelta<Double>: try add(o)
        case let o as Adamax<Double>: try add(o)
        case let o as ASGD<Double>: try add(o)
        case let o as NAdam<Double>: try add(o)
        case let o as RAdam<Double>: try add(o)
        case let o as Rprop<Double>: try add(o)
        default: Issue.record("unexpected optimizer \(optimizer)")
        }
    }

    @Test("State dicts are laid out as torch's: state by parameter index, groups with their indices")
    func stateDictLayout() throws {
        let a = twoTensorModel(Double.self), b = Parameters<Double>([1, 2], name: "c")
        let optimizer = try Adam([a], lr: 0.1)
        try optimizer.addParamGroup([b]) { $0.weightDecay = 0.5 }
        a.setGrad([1, 1, 1, 1, 1], for: "weight")
        b.setGrad([1, 1], at: 0)
        optimizer.step()
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(optimizer.stateDict())) as! [String: Any]
        let state = json["state"] as! [String: Any]
        #expect(Set(state.keys) == ["0", "2"], "only the tensors that stepped have state")
        let entry = state["2"] as! [String: Any]
        #expect(Set(entry.keys) == ["step", "exp_avg", "exp_avg_sq"])
        let groups = json["param_groups"] as! [[String: Any]]
        #expect(groups.count == 2)
        #expect(groups[0]["params"] as? [Int] == [0, 1])
        #expect(groups[1]["params"] as? [Int] == [2])
        #expect(groups[1]["weight_decay"] as? Double == 0.5)
        #expect(groups[0]["betas"] as? [Double] == [0.9, 0.999])
        #expect(Set(groups[0].keys) == ["lr", "betas", "eps", "weight_decay", "amsgrad", "maximize", "decoupled_weight_decay", "params"])
    }

    @Test("Loading a state dict of another layout fails and changes nothing")
    func mismatchedStateDict() throws {
        let optimizer = try SGD([twoTensorModel(Double.self)], lr: 0.1, momentum: 0.9)
        let other = try SGD([Parameters<Double>([1, 2, 3])], lr: 0.2, momentum: 0.9)
        #expect(throws: OptimError("loaded state dict contains a parameter group that doesn't match the size of optimizer's group")) {
            try optimizer.loadStateDict(other.stateDict())
        }
        let same = try SGD([Parameters<Double>(shapes: [(name: "weight", shape: [4]), (name: "bias", shape: [1])])], momentum: 0.9)
        same.paramGroups[0].params[0].setGrad([1, 1, 1, 1], at: 0)
        same.step()
        #expect(throws: OptimError("state 'momentum_buffer' of parameter 'weight' has 4 elements, expected 5")) {
            try optimizer.loadStateDict(same.stateDict())
        }
        #expect(optimizer.paramGroups[0].options.lr == 0.1)
    }

    @Test("Adagrad creates its state in the constructor, as torch does")
    func adagradEagerState() throws {
        let optimizer = try Adagrad([twoTensorModel(Double.self)], initialAccumulatorValue: 0.25)
        let state = optimizer.stateDict().state
        #expect(state.count == 2)
        #expect(state[0]?["sum"]?.tensor == [0.25, 0.25, 0.25, 0.25, 0.25])
        #expect(state[1]?["step"]?.number == 0)
    }

    @Test("Large buffers (page-mapped) start as asked: zero, or the fill value, in Float and Double")
    func largeBuffers() {
        let count = (6 << 20) / 4 + 5
        let zeros = AlignedStorage<Float>(count: count)
        #expect(zeros[0] == 0 && zeros[count - 1] == 0 && zeros.array.allSatisfy { $0 == 0 })
        let filled = AlignedStorage<Double>(count: count, repeating: 0.25)
        #expect(filled.array.allSatisfy { $0 == 0.25 })
        filled[count - 1] = 3
        #expect(filled[count - 1] == 3)
        // The optimizer's state for a large tensor is page-mapped too; it steps exactly as a small one.
        let large = Parameters<Float>([Float](repeating: 1, count: count)), small = Parameters<Float>([1, 1, 1])
        large.grad.fill(0.5)
        small.grad.fill(0.5)
        for p in [large, small] {
            p.markAllGradientsDefined()
            let sgd = try! SGD([p], lr: 0.1, momentum: 0.9)
            sgd.step()
            sgd.step()
        }
        #expect(small.values[0] != 1 && large.values.array.allSatisfy { $0 == small.values[0] })
    }
}
