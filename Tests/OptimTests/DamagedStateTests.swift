import Foundation
import Optim
import Testing

/// State dicts torch would never write (a counter of 1e300, a buffer deleted): an error that
/// names the key, never a trap, and the optimizer or scheduler unchanged.
@Suite("Damaged state dicts")
struct DamagedStateTests {
    /// A one-parameter quadratic with its gradient set, for a step.
    func stepped<O: Optimizer>(_ make: (Parameters<Double>) throws -> O) throws -> (O, Parameters<Double>) {
        let parameters = Parameters<Double>(["weight": [1, -2, 3]])
        let optimizer = try make(parameters)
        for _ in 0..<3 {
            _ = optimizer.step {
                optimizer.zeroGrad(setToNone: true)
                parameters.setGrad(parameters.value(at: 0).map { 2 * $0 }, for: "weight")
                return parameters.value(at: 0).reduce(0) { $0 + $1 * $1 }
            }
        }
        return (optimizer, parameters)
    }

    @Test("LBFGS: counters out of range and deleted history are refused, naming the key")
    func lbfgs() throws {
        let (optimizer, _) = try stepped { try LBFGS([$0], lr: 0.5, maxIter: 2) }
        let good = optimizer.stateDict()
        let cases: [(String, ([String: StateValue]) -> [String: StateValue], String)] = [
            ("func_evals 1e300", { var e = $0; e["func_evals"] = .number(1e300); return e }, "func_evals"),
            ("n_iter -1e300", { var e = $0; e["n_iter"] = .number(-1e300); return e }, "n_iter"),
            ("n_iter nan", { var e = $0; e["n_iter"] = .number(.nan); return e }, "n_iter"),
            ("prev_flat_grad deleted", { var e = $0; e["prev_flat_grad"] = nil; return e }, "prev_flat_grad"),
            ("d deleted", { var e = $0; e["d"] = nil; return e }, "'d'"),
        ]
        for (name, damage, key) in cases {
            var dict = good
            dict.state[0] = damage(dict.state[0] ?? [:])
            #expect(throws: OptimError.self, "\(name)") { try optimizer.loadStateDict(dict) }
            do { try optimizer.loadStateDict(dict) } catch let error as OptimError {
                #expect(error.message.contains(key), "\(name): \(error.message)")
            }
            #expect(optimizer.stateDict() == good, "\(name): a failed load changed the state")
        }
    }

    @Test("Adam: a deleted buffer or step, or a step that is no count, is refused")
    func adam() throws {
        let (optimizer, _) = try stepped { try Adam([$0], lr: 0.1) }
        let good = optimizer.stateDict()
        for (name, damage, key) in [
            ("exp_avg deleted", { (e: [String: StateValue]) -> [String: StateValue] in var e = e; e["exp_avg"] = nil; return e }, "exp_avg"),
            ("step deleted", { var e = $0; e["step"] = nil; return e }, "step"),
            ("step nan", { var e = $0; e["step"] = .number(.nan); return e }, "step"),
            ("step -3", { var e = $0; e["step"] = .number(-3); return e }, "step"),
        ] as [(String, ([String: StateValue]) -> [String: StateValue], String)] {
            var dict = good
            dict.state[0] = damage(dict.state[0] ?? [:])
            do {
                try optimizer.loadStateDict(dict)
                Issue.record("\(name): loaded")
            } catch let error as OptimError {
                #expect(error.message.contains(key), "\(name): \(error.message)")
            }
            #expect(optimizer.stateDict() == good, "\(name): a failed load changed the state")
        }
    }

    @Test("Adafactor: a deleted or mis-sized factor, a deleted step, or a step that is no count, is refused; a good dict round-trips")
    func adafactor() throws {
        let parameters = Parameters<Double>(shapes: [(name: "weight", shape: [2, 3]), (name: "bias", shape: [2])])
        parameters.values.assign([0.5, -1, 0.25, 2, 0, -0.75, 0.1, -0.2])
        let optimizer = try Adafactor([parameters], lr: 0.05)
        for _ in 0..<3 {
            _ = optimizer.step {
                optimizer.zeroGrad(setToNone: true)
                for index in parameters.tensors.indices { parameters.setGrad(parameters.value(at: index).map { 2 * $0 + 0.1 }, at: index) }
                return parameters.values.array.reduce(0) { $0 + $1 * $1 }
            }
        }
        let good = optimizer.stateDict()
        #expect(good.state[0]?["row_var"]?.tensor?.count == 2 && good.state[0]?["col_var"]?.tensor?.count == 3, "a 2 × 3 weight has 2 + 3 factors")
        #expect(good.state[1]?["variance"]?.tensor?.count == 2)
        let fresh = try Adafactor([Parameters<Double>(shapes: [(name: "weight", shape: [2, 3]), (name: "bias", shape: [2])])])
        try fresh.loadStateDict(JSONDecoder().decode(OptimizerStateDict<AdafactorOptions>.self, from: JSONEncoder().encode(good)))
        #expect(fresh.stateDict() == good)
        let cases: [(String, Int, ([String: StateValue]) -> [String: StateValue], String)] = [
            ("row_var deleted", 0, { var e = $0; e["row_var"] = nil; return e }, "row_var"),
            ("col_var too long", 0, { var e = $0; e["col_var"] = .tensor([1, 2, 3, 4]); return e }, "col_var"),
            ("variance deleted", 1, { var e = $0; e["variance"] = nil; return e }, "variance"),
            ("step deleted", 1, { var e = $0; e["step"] = nil; return e }, "step"),
            ("step 1e300", 0, { var e = $0; e["step"] = .number(1e300); return e }, "step"),
            ("step 2.5", 0, { var e = $0; e["step"] = .number(2.5); return e }, "step"),
        ]
        for (name, index, damage, key) in cases {
            var dict = good
            dict.state[index] = damage(dict.state[index] ?? [:])
            do {
                try optimizer.loadStateDict(dict)
                Issue.record("\(name): loaded")
            } catch let error as OptimError {
                #expect(error.message.contains(key), "\(name): \(error.message)")
            }
            #expect(optimizer.stateDict() == good, "\(name): a failed load changed the state")
        }
    }

    @Test("Schedulers: last_epoch, _step_count and cooldown_counter out of range are refused")
    func schedulers() throws {
        let optimizer = try SGD([Parameters<Double>(["weight": [1]])], lr: 0.1)
        let cosine = try CosineAnnealingLR(optimizer, tMax: 10)
        try cosine.step()
        let plateau = try ReduceLROnPlateau(optimizer)
        plateau.step(metric: 1)
        for (key, value) in [("last_epoch", 1e300), ("last_epoch", -1e300), ("_step_count", Double(Int.max)), ("last_epoch", .nan)] {
            var state = cosine.stateDict()
            state[key] = .number(value)
            let before = cosine.stateDict()
            #expect(throws: OptimError.self, "\(key) = \(value)") { try cosine.loadStateDict(state) }
            #expect(cosine.stateDict() == before)
        }
        for (key, value) in [("cooldown_counter", 1e300), ("num_bad_epochs", -1), ("last_epoch", 9.5e18)] {
            var state = plateau.stateDict()
            state[key] = .number(value)
            #expect(throws: OptimError.self, "\(key) = \(value)") { try plateau.loadStateDict(state) }
        }
    }
}
