import Dispatch
import Optim
import Testing

@Suite("Parallel steps")
struct ParallelStepTests {
    /// Three steps of `make`'s optimizer over 1.3M parameters in three tensors, on one thread or
    /// sliced over threads; the values and the state dict.
    func run<O: ElementwiseOptimizer<Float, R>, R>(_ make: (Parameters<Float>) throws -> O, parallel: Bool) throws -> ([Float], OptimizerStateDict<R>) {
        let parameters = Parameters<Float>(shapes: [(name: "a", shape: [1_100_000]), (name: "b", shape: [200_003]), (name: "c", shape: [5])])
        parameters.values.withUnsafeMutableBufferPointer { values in
            for i in values.indices { values[i] = Float(i % 1000) * 1e-3 - 0.5 }
        }
        let optimizer = try make(parameters)
        var slicedSteps = 0
        if parallel {
            optimizer.parallelStep = { pieces, body in
                slicedSteps += 1
                DispatchQueue.concurrentPerform(iterations: pieces, execute: body)
            }
        }
        for step in 0..<3 {
            parameters.grad.withUnsafeMutableBufferPointer { grad in
                for i in grad.indices { grad[i] = Float((i * 7 + step) % 777) * 1e-4 - 0.03 }
            }
            parameters.markAllGradientsDefined()
            optimizer.step()
        }
        #expect(slicedSteps == (parallel ? 3 : 0), "the step was not sliced")
        return (parameters.values.array, optimizer.stateDict())
    }

    @Test("A step sliced over threads gives bitwise the one-thread values and state, for every elementwise optimizer")
    func bitwise() throws {
        func check<O: ElementwiseOptimizer<Float, R>, R>(_ name: String, _ make: (Parameters<Float>) throws -> O) throws {
            let (serial, serialState) = try run(make, parallel: false)
            let (sliced, slicedState) = try run(make, parallel: true)
            #expect(serial == sliced, "\(name): values differ")
            #expect(serialState == slicedState, "\(name): state differs")
        }
        try check("SGD") { try SGD([$0], lr: 0.01, momentum: 0.9, nesterov: true) }
        try check("Adam") { try Adam([$0], lr: 0.01, amsgrad: true) }
        try check("AdamW") { try AdamW([$0], lr: 0.01) }
        try check("Adagrad") { try Adagrad([$0], lr: 0.01) }
        try check("RMSprop") { try RMSprop([$0], lr: 0.01, momentum: 0.5, centered: true) }
        try check("Adadelta") { try Adadelta([$0]) }
        try check("Adamax") { try Adamax([$0]) }
        try check("ASGD") { try ASGD([$0], t0: 1) }
        try check("NAdam") { try NAdam([$0]) }
        try check("RAdam") { try RAdam([$0]) }
        try check("Rprop") { try Rprop([$0]) }
    }
}
