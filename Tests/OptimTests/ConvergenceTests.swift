import Optim
import Testing

/// A smooth test function with a known minimizer.
struct TestFunction: Sendable {
    let name: String
    let start: [Double]
    let minimizer: [Double]
    let lossAndGradient: @Sendable ([Double]) -> (Double, [Double])

    /// Σ aᵢ(xᵢ − cᵢ)², an ill-conditioned bowl.
    static let parabola = TestFunction(name: "parabola", start: [0, 0, 0], minimizer: [1, -2, 0.5]) { x in
        let a = [1.0, 4.0, 0.25], c = [1.0, -2.0, 0.5]
        var loss = 0.0
        var grad = [Double](repeating: 0, count: 3)
        for i in 0..<3 {
            loss += a[i] * (x[i] - c[i]) * (x[i] - c[i])
            grad[i] = 2 * a[i] * (x[i] - c[i])
        }
        return (loss, grad)
    }

    /// (1 − x)² + 100(y − x²)², from (−1.2, 1): the classic curved valley.
    static let rosenbrock = TestFunction(name: "Rosenbrock", start: [-1.2, 1], minimizer: [1, 1]) { p in
        let a = 1 - p[0], d = p[1] - p[0] * p[0]
        return (a * a + 100 * d * d, [-2 * a - 400 * p[0] * d, 200 * d])
    }
}

/// An optimizer and the hyperparameters with which it should solve each test function.
struct ConvergenceCase: CustomTestStringConvertible, Sendable {
    let optimizer: String
    let parabola: [String: Double]
    let rosenbrock: [String: Double]
    var testDescription: String { optimizer }
}

let convergenceCases: [ConvergenceCase] = [
    .init(optimizer: "SGD", parabola: ["lr": 0.05, "momentum": 0.5], rosenbrock: ["lr": 1e-3, "momentum": 0.9]),
    .init(optimizer: "Adam", parabola: ["lr": 0.05], rosenbrock: ["lr": 0.02]),
    .init(optimizer: "AdamW", parabola: ["lr": 0.05, "weight_decay": 0], rosenbrock: ["lr": 0.02, "weight_decay": 0]),
    .init(optimizer: "Adagrad", parabola: ["lr": 0.5], rosenbrock: ["lr": 0.5]),
    .init(optimizer: "RMSprop", parabola: ["lr": 0.01], rosenbrock: ["lr": 1e-3, "centered": 1, "momentum": 0.9]),
    .init(optimizer: "Adadelta", parabola: ["lr": 1], rosenbrock: ["lr": 3]),
    .init(optimizer: "Adamax", parabola: ["lr": 0.05], rosenbrock: ["lr": 0.02]),
    .init(optimizer: "ASGD", parabola: ["lr": 0.05], rosenbrock: ["lr": 1e-3, "t0": 100, "lambd": 0]),
    .init(optimizer: "NAdam", parabola: ["lr": 0.05], rosenbrock: ["lr": 0.005]),
    .init(optimizer: "RAdam", parabola: ["lr": 0.05], rosenbrock: ["lr": 2e-3]),
    .init(optimizer: "Rprop", parabola: [:], rosenbrock: ["lr": 1e-3, "etas": 0]),
    .init(optimizer: "LBFGS", parabola: [:], rosenbrock: ["line_search_fn": 1]),
]

/// Runs `optimizer` on `function` until within `tolerance` of the minimizer (or `maxSteps`).
/// Returns the final point and the optimizer's state dict, JSON-shaped.
func minimize<S: OptimScalar>(
    _ testCase: ConvergenceCase, _ function: TestFunction, hyperparameters: [String: Double],
    as _: S.Type, tolerance: Double, maxSteps: Int
) throws -> (point: [Double], steps: Int, state: [Int: [String: StateValue]]) {
    var hp: [String: JSONValue] = hyperparameters.mapValues { .number($0) }
    for key in ["centered", "nesterov", "amsgrad"] where hp[key] != nil { hp[key] = .bool(hyperparameters[key] != 0) }
    if hp["line_search_fn"] != nil { hp["line_search_fn"] = .string("strong_wolfe") }
    if hp["etas"] != nil { hp["etas"] = .array([.number(0.5), .number(1.1)]) }
    let params = Parameters<S>(function.start.map { S($0) })
    let optimizer = try makeOptimizer(testCase.optimizer, [params], hp)
    var steps = 0
    func distance() -> Double {
        zip(params.values.array, function.minimizer).map { abs($0.doubleValue - $1) }.max()!
    }
    while steps < maxSteps && distance() > tolerance {
        optimizer.step {
            optimizer.zeroGrad(setToNone: true)
            let (loss, gradient) = function.lossAndGradient(params.values.array.map(\.doubleValue))
            params.setGrad(gradient.map { S($0) }, at: 0)
            return loss
        }
        steps += 1
    }
    return (params.values.array.map(\.doubleValue), steps, stateEntries(optimizer))
}

/// The optimizer's per-parameter state, through its torch-shaped state dict.
func stateEntries<O: Optimizer>(_ optimizer: O) -> [Int: [String: StateValue]] { optimizer.stateDict().state }

@Suite("Convergence")
struct ConvergenceTests {
    @Test("Every optimizer minimizes a parabola and the Rosenbrock function, in Float and Double",
          arguments: convergenceCases)
    func converges(testCase: ConvergenceCase) throws {
        for function in [TestFunction.parabola, .rosenbrock] {
            let hp = function.name == "parabola" ? testCase.parabola : testCase.rosenbrock
            if testCase.optimizer == "Adadelta" && function.name == "Rosenbrock" {
                // Adadelta crawls along Rosenbrock's valley: torch's own Adadelta is not within
                // 0.1 of (1, 1) after 150,000 steps at any of lr 1-50. Ask it for progress only: a fifth of the starting loss.
                let run = try minimize(testCase, function, hyperparameters: hp, as: Double.self, tolerance: 0, maxSteps: 30_000)
                #expect(function.lossAndGradient(run.point).0 < function.lossAndGradient(function.start).0 / 5)
                #expect(run.state[0]?["step"]?.number == 30_000)
                continue
            }
            let double = try minimize(testCase, function, hyperparameters: hp, as: Double.self, tolerance: 1e-3, maxSteps: 30_000)
            #expect(zip(double.point, function.minimizer).allSatisfy { abs($0 - $1) <= 1e-3 },
                    "\(testCase.optimizer) on \(function.name) (Double) ended at \(double.point) after \(double.steps) steps")
            let single = try minimize(testCase, function, hyperparameters: hp, as: Float.self, tolerance: 1e-2, maxSteps: 30_000)
            #expect(zip(single.point, function.minimizer).allSatisfy { abs($0 - $1) <= 1e-2 },
                    "\(testCase.optimizer) on \(function.name) (Float) ended at \(single.point) after \(single.steps) steps")

            // The optimizer under test advanced its own state: a step counter that counted every
            // step, or (SGD) a momentum buffer; LBFGS counted its iterations.
            let state = try #require(double.state[0], "\(testCase.optimizer) kept no state")
            switch testCase.optimizer {
            case "SGD":
                #expect(state["momentum_buffer"]?.tensor?.contains { $0 != 0 } == true)
            case "LBFGS":
                #expect((state["n_iter"]?.number ?? 0) >= Double(double.steps))
                #expect((state["func_evals"]?.number ?? 0) >= Double(double.steps))
            default:
                #expect(state["step"]?.number == Double(double.steps), "\(testCase.optimizer): step \(String(describing: state["step"])) after \(double.steps) steps")
            }
        }
    }
}
