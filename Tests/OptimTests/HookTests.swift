import Optim
import Testing

/// torch's optimizer hooks: when each runs, what it may change, and removal.
@Suite("Optimizer hooks")
struct HookTests {
    /// A quadratic ‖θ − 1‖² whose closure records that it ran.
    func closure<O: Optimizer>(_ optimizer: O, _ parameters: Parameters<Double>, _ events: Box) -> () -> Double {
        {
            events.log.append("closure")
            optimizer.zeroGrad(setToNone: true)
            parameters.setGrad(parameters.value(at: 0).map { 2 * ($0 - 1) }, at: 0)
            return parameters.value(at: 0).reduce(0) { $0 + ($1 - 1) * ($1 - 1) }
        }
    }

    final class Box { var log: [String] = [] }

    @Test("Step hooks run before the closure and after the update, for elementwise optimizers, LBFGS and Adafactor; removed ones do not")
    func stepHooks() throws {
        func check<O: Optimizer>(_ make: (Parameters<Double>) throws -> O, closures: ClosedRange<Int>) throws where O.Scalar == Double {
            let parameters = Parameters<Double>([0.5, -2, 3])
            let optimizer = try make(parameters)
            let events = Box()
            var seenAfter: [Double] = []
            let pre = optimizer.registerStepPreHook { _ in events.log.append("pre") }
            optimizer.registerStepPostHook { _ in
                events.log.append("post")
                seenAfter = parameters.value(at: 0)
            }
            let before = parameters.value(at: 0)
            optimizer.step(closure: closure(optimizer, parameters, events))
            let calls = events.log.filter { $0 == "closure" }.count
            #expect(events.log.first == "pre" && events.log.last == "post" && closures.contains(calls), "\(O.self): \(events.log)")
            #expect(seenAfter == parameters.value(at: 0) && seenAfter != before, "\(O.self): the post-hook ran before the update")
            pre.remove()
            pre.remove()
            events.log = []
            optimizer.step(closure: closure(optimizer, parameters, events))
            #expect(events.log.first == "closure" && events.log.last == "post", "\(O.self): a removed hook ran: \(events.log)")
        }
        try check({ try Adam([$0], lr: 0.1) }, closures: 1...1)
        try check({ try SGD([$0], lr: 0.1, momentum: 0.9) }, closures: 1...1)
        try check({ try LBFGS([$0], lr: 1, maxIter: 5) }, closures: 2...7)
        try check({ try Adafactor([$0], lr: 0.1) }, closures: 1...1)

        // step() without a closure runs them too.
        let parameters = Parameters<Double>([1, 2])
        let adam = try Adam([parameters], lr: 0.1)
        var count = 0
        adam.registerStepPreHook { _ in count += 1 }
        adam.registerStepPostHook { optimizer in count += optimizer.stepCount * 10 }
        parameters.setGrad([1, 1], at: 0)
        adam.step()
        #expect(count == 11, "pre once, post after stepCount became 1")
    }

    @Test("Hooks that change nothing leave the trajectory bitwise as it was")
    func hooksChangeNothing() throws {
        func run(hooked: Bool) throws -> [Double] {
            let parameters = Parameters<Double>([0.5, -2, 3])
            let optimizer = try Adam([parameters], lr: 0.05, amsgrad: true)
            if hooked {
                optimizer.registerStepPreHook { _ in }
                optimizer.registerStepPostHook { _ in }
            }
            for _ in 0..<20 { optimizer.step(closure: closure(optimizer, parameters, Box())) }
            return parameters.values.array
        }
        #expect(try run(hooked: true) == run(hooked: false))
    }

    @Test("State-dict hooks: the pre-hook runs first, post-hooks may change the dict (prepend puts one first); the optimizer is untouched")
    func stateDictHooks() throws {
        let parameters = Parameters<Double>([0.5, -2, 3])
        let optimizer = try Adam([parameters], lr: 0.1)
        optimizer.step(closure: closure(optimizer, parameters, Box()))
        var order: [String] = []
        optimizer.registerStateDictPreHook { _ in order.append("pre") }
        optimizer.registerStateDictPostHook { _, dict in
            order.append("double lr")
            dict.paramGroups[0].options.lr *= 2
        }
        optimizer.registerStateDictPostHook(prepend: true) { _, dict in
            order.append("add 1 to lr")
            dict.paramGroups[0].options.lr += 1
        }
        let dict = optimizer.stateDict()
        #expect(order == ["pre", "add 1 to lr", "double lr"])
        #expect(dict.paramGroups[0].options.lr == (0.1 + 1) * 2)
        #expect(optimizer.paramGroups[0].options.lr == 0.1)
    }

    @Test("Load hooks: a pre-hook may migrate the dict before it loads; the post-hook runs after a load, not after one that fails")
    func loadHooks() throws {
        let parameters = Parameters<Double>([0.5, -2, 3])
        let optimizer = try Adafactor([parameters], lr: 0.1)
        optimizer.step(closure: closure(optimizer, parameters, Box()))
        let saved = optimizer.stateDict()
        let other = try Adafactor([Parameters<Double>([0, 0, 0])], lr: 0.3)
        var loaded = 0
        other.registerLoadStateDictPreHook { _, dict in dict.paramGroups[0].options.lr = 0.05 }
        other.registerLoadStateDictPostHook { _ in loaded += 1 }
        try other.loadStateDict(saved)
        #expect(other.paramGroups[0].options.lr == 0.05 && loaded == 1)
        var broken = saved
        broken.state[0]?["variance"] = nil
        #expect(throws: OptimError.self) { try other.loadStateDict(broken) }
        #expect(loaded == 1, "the post-hook ran after a failed load")
    }
}
