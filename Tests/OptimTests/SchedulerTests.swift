import Foundation
import Optim
import Testing

@Suite("LR schedulers")
struct SchedulerTests {
    /// The learning rates a scheduler produces over `steps` epochs, stepping the optimizer first.
    func rates(_ make: (SGD<Double>) throws -> any Scheduler, steps: Int, lr: Double = 0.1) throws -> [Double] {
        let optimizer = try SGD([Parameters<Double>([1])], lr: lr, momentum: 0.9)
        let scheduler = try make(optimizer)
        var lrs: [Double] = []
        for _ in 0..<steps {
            lrs.append(optimizer.learningRate(group: 0))
            optimizer.step()
            try scheduler.step()
        }
        return lrs
    }

    @Test("Closed forms agree with the recursive forms torch steps with")
    func closedFormsAgree() throws {
        let cases: [(String, (SGD<Double>) throws -> LRScheduler, (Int) -> Double)] = [
            ("StepLR", { try StepLR($0, stepSize: 3, gamma: 0.5) }, { 0.1 * pow(0.5, Double($0 / 3)) }),
            ("ExponentialLR", { try ExponentialLR($0, gamma: 0.9) }, { 0.1 * pow(0.9, Double($0)) }),
            ("LinearLR", { try LinearLR($0, startFactor: 0.25, totalIters: 4) }, { 0.1 * (0.25 + 0.75 * Double(min($0, 4)) / 4) }),
            ("CosineAnnealingLR", { try CosineAnnealingLR($0, tMax: 7, etaMin: 0.01) },
             { 0.01 + 0.09 * (1 + cos(Double.pi * Double($0) / 7)) / 2 }),
            ("PolynomialLR", { try PolynomialLR($0, totalIters: 6, power: 2) }, { 0.1 * pow(1 - Double(min($0, 6)) / 6, 2) }),
        ]
        for (name, make, closedForm) in cases {
            let lrs = try rates(make, steps: 20)
            for (epoch, lr) in lrs.enumerated() {
                #expect(abs(lr - closedForm(epoch)) <= 1e-12, "\(name) epoch \(epoch): \(lr), closed form \(closedForm(epoch))")
            }
        }
    }

    @Test("The reference samples of torch's scheduler documentation")
    func torchSamples() throws {
        let linear = try rates({ try LinearLR($0, startFactor: 0.25, totalIters: 4) }, steps: 6)
        #expect(zip(linear, [0.025, 0.04375, 0.0625, 0.08125, 0.1, 0.1]).allSatisfy { abs($0 - $1) < 1e-15 })
        let oneCycle = try rates({ try OneCycleLR($0, maxLR: [1], totalSteps: 10) }, steps: 10, lr: 1)
        #expect(abs(oneCycle[0] - 0.04) < 1e-12 && abs(oneCycle[2] - 1.0) < 1e-12 && abs(oneCycle[9] - 4e-6) < 1e-12)
        let cyclic = try rates({ try CyclicLR($0, baseLR: [0.1], maxLR: [1.0], stepSizeUp: 2, mode: .triangular2) }, steps: 7)
        #expect(zip(cyclic, [0.1, 0.55, 1.0, 0.55, 0.1, 0.325, 0.55]).allSatisfy { abs($0 - $1) < 1e-12 })

        let optimizer = try SGD([Parameters<Double>([1])], lr: 1)
        let plateau = try ReduceLROnPlateau(optimizer, factor: 0.5, patience: 2)
        var lrs: [Double] = []
        for metric in [1, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.8] {
            plateau.step(metric: metric)
            lrs.append(optimizer.learningRate(group: 0))
        }
        #expect(lrs == [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25])
    }

    @Test("A scheduler's state dict resumes the schedule where it stopped")
    func resume() throws {
        func make(_ o: SGD<Double>) throws -> CosineAnnealingWarmRestarts { try CosineAnnealingWarmRestarts(o, t0: 3, tMult: 2) }
        let optimizer = try SGD([Parameters<Double>([1])], lr: 0.1)
        let schedule = try make(optimizer)
        for _ in 0..<5 { try schedule.step() }
        let saved = try JSONEncoder().encode(schedule.stateDict())
        let optimizerState = try JSONEncoder().encode(optimizer.stateDict())

        let other = try SGD([Parameters<Double>([1])], lr: 0.1)
        try other.loadStateDict(JSONDecoder().decode(OptimizerStateDict<SGDOptions>.self, from: optimizerState))
        let resumed = try make(other)
        try resumed.loadStateDict(JSONDecoder().decode([String: StateValue].self, from: saved))
        for _ in 0..<9 {
            try schedule.step()
            try resumed.step()
            #expect(optimizer.learningRate(group: 0) == other.learningRate(group: 0))
        }
    }

    @Test("Schedulers record initial_lr in the optimizer's state dict, as torch does")
    func initialLRSaved() throws {
        let optimizer = try Adam([Parameters<Double>([1])], lr: 0.05)
        _ = try OneCycleLR(optimizer, maxLR: [0.5], totalSteps: 10)
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(optimizer.stateDict())) as! [String: Any]
        let group = (json["param_groups"] as! [[String: Any]])[0]
        #expect(group["initial_lr"] as? Double == 0.02)
        #expect(group["max_lr"] as? Double == 0.5)
        #expect(group["max_momentum"] as? Double == 0.95)
        #expect((group["betas"] as? [Double])?.first == 0.95)
    }
}
