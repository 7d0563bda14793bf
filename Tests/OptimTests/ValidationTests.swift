import Optim
import Testing

/// An invalid construction and the message torch raises for it.
struct InvalidCase: CustomTestStringConvertible, Sendable {
    let description: String
    let message: String
    let make: @Sendable () throws -> Void
    var testDescription: String { description }
}

func p() -> Parameters<Double> { Parameters<Double>([1, 2]) }

let invalidCases: [InvalidCase] = [
    .init(description: "SGD lr=-1", message: "Invalid learning rate: -1.0") { _ = try SGD([p()], lr: -1) },
    .init(description: "SGD lr=nan", message: "Invalid learning rate: nan") { _ = try SGD([p()], lr: .nan) },
    .init(description: "SGD momentum=-0.5", message: "Invalid momentum value: -0.5") { _ = try SGD([p()], momentum: -0.5) },
    .init(description: "SGD weight_decay=-1", message: "Invalid weight_decay value: -1.0") { _ = try SGD([p()], weightDecay: -1) },
    .init(description: "SGD nesterov without momentum", message: "Nesterov momentum requires a momentum and zero dampening") {
        _ = try SGD([p()], nesterov: true)
    },
    .init(description: "SGD nesterov with dampening", message: "Nesterov momentum requires a momentum and zero dampening") {
        _ = try SGD([p()], momentum: 0.9, dampening: 0.1, nesterov: true)
    },
    .init(description: "Adam eps=-1", message: "Invalid epsilon value: -1.0") { _ = try Adam([p()], eps: -1) },
    .init(description: "Adam beta1=1", message: "Invalid beta parameter at index 0: 1.0") { _ = try Adam([p()], betas: (1.0, 0.999)) },
    .init(description: "Adam beta2=-0.1", message: "Invalid beta parameter at index 1: -0.1") { _ = try Adam([p()], betas: (0.9, -0.1)) },
    .init(description: "AdamW weight_decay=-0.01", message: "Invalid weight_decay value: -0.01") { _ = try AdamW([p()], weightDecay: -0.01) },
    .init(description: "Adagrad lr_decay=-1", message: "Invalid lr_decay value: -1.0") { _ = try Adagrad([p()], lrDecay: -1) },
    .init(description: "Adagrad initial_accumulator_value=-1", message: "Invalid initial_accumulator_value value: -1.0") {
        _ = try Adagrad([p()], initialAccumulatorValue: -1)
    },
    .init(description: "Adagrad eps=-1", message: "Invalid epsilon value: -1.0") { _ = try Adagrad([p()], eps: -1) },
    .init(description: "RMSprop alpha=-1", message: "Invalid alpha value: -1.0") { _ = try RMSprop([p()], alpha: -1) },
    .init(description: "RMSprop momentum=-1", message: "Invalid momentum value: -1.0") { _ = try RMSprop([p()], momentum: -1) },
    .init(description: "Adadelta rho=1.5", message: "Invalid rho value: 1.5") { _ = try Adadelta([p()], rho: 1.5) },
    .init(description: "Adamax beta1=-0.5", message: "Invalid beta parameter at index 0: -0.5") { _ = try Adamax([p()], betas: (-0.5, 0.9)) },
    .init(description: "ASGD lambd=-1", message: "Invalid lambd value: -1.0") { _ = try ASGD([p()], lambd: -1) },
    .init(description: "ASGD alpha=-1", message: "Invalid alpha value: -1.0") { _ = try ASGD([p()], alpha: -1) },
    .init(description: "NAdam momentum_decay=-1", message: "Invalid momentum_decay value: -1.0") { _ = try NAdam([p()], momentumDecay: -1) },
    .init(description: "RAdam eps=-1", message: "Invalid epsilon value: -1.0") { _ = try RAdam([p()], eps: -1) },
    .init(description: "Rprop etas=(1.5, 1.2)", message: "Invalid eta values: 1.5, 1.2") { _ = try Rprop([p()], etas: (1.5, 1.2)) },
    .init(description: "Rprop etas=(0.5, 0.9)", message: "Invalid eta values: 0.5, 0.9") { _ = try Rprop([p()], etas: (0.5, 0.9)) },
    .init(description: "LBFGS lr=-1", message: "Invalid learning rate: -1.0") { _ = try LBFGS([p()], lr: -1) },
    .init(description: "empty parameter list", message: "optimizer got an empty parameter list") { _ = try Adam([Parameters<Double>]()) },
    .init(description: "a parameter twice in a group", message: "optimizer contains a parameter group with duplicate parameters") {
        let q = p(); _ = try SGD([q, q])
    },
    .init(description: "a parameter in two groups", message: "some parameters appear in more than one parameter group") {
        let q = p(); try SGD([q]).addParamGroup([q])
    },
    .init(description: "a group with an invalid lr", message: "Invalid learning rate: -0.1") {
        try SGD([p()]).addParamGroup([p()]) { $0.lr = -0.1 }
    },
    .init(description: "LBFGS param groups", message: "LBFGS doesn't support per-parameter options (parameter groups)") {
        try LBFGS([p()]).addParamGroup([p()])
    },
    .init(description: "ConstantLR factor=2", message: "Constant multiplicative factor expected to be between 0 and 1.") {
        _ = try ConstantLR(SGD([p()]), factor: 2)
    },
    .init(description: "LinearLR start_factor=0",
          message: "Starting multiplicative factor expected to be greater than 0 and less or equal to 1.") {
        _ = try LinearLR(SGD([p()]), startFactor: 0)
    },
    .init(description: "ReduceLROnPlateau factor=1", message: "Factor should be < 1.0.") { _ = try ReduceLROnPlateau(SGD([p()]), factor: 1) },
    .init(description: "CosineAnnealingWarmRestarts T_0=0", message: "Expected positive integer T_0, but got 0") {
        _ = try CosineAnnealingWarmRestarts(SGD([p()]), t0: 0)
    },
    .init(description: "OneCycleLR without a length", message: "You must define either total_steps OR (epochs AND steps_per_epoch)") {
        _ = try OneCycleLR(SGD([p()]), maxLR: [0.1])
    },
    .init(description: "CyclicLR momentum on Adagrad",
          message: "optimizer must support momentum or beta1 with `cycle_momentum` option enabled") {
        _ = try CyclicLR(Adagrad([p()]), baseLR: [0.01], maxLR: [0.1])
    },
    .init(description: "SequentialLR milestones", message: "Sequential Schedulers expects number of schedulers provided to be one more than the number of milestone points, but got number of schedulers 2 and the number of milestones to be equal to 2") {
        let o = try SGD([p()])
        _ = try SequentialLR(o, schedulers: [StepLR(o, stepSize: 2), ExponentialLR(o, gamma: 0.9)], milestones: [1, 2])
    },
    .init(description: "StepLR resumed without initial_lr",
          message: "param 'initial_lr' is not specified in param_groups[0] when resuming scheduler with last_epoch >= 0.") {
        _ = try StepLR(SGD([p()]), stepSize: 2, lastEpoch: 3)
    },
]

@Suite("Validation")
struct ValidationTests {
    @Test("Every invalid hyperparameter is rejected with torch's message", arguments: invalidCases)
    func rejected(testCase: InvalidCase) {
        do {
            try testCase.make()
            Issue.record("\(testCase.description) was accepted")
        } catch let error as OptimError {
            #expect(error.message == testCase.message)
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test("OneCycleLR refuses to step past its total, as torch does")
    func oneCycleOverrun() throws {
        let o = try SGD([p()], lr: 0.1)
        let schedule = try OneCycleLR(o, maxLR: [0.1], totalSteps: 3)
        for _ in 0..<3 { try schedule.step() }
        #expect(throws: OptimError("Tried to step 4 times. The specified number of total steps is 3")) { try schedule.step() }
    }
}
