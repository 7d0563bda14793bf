import Foundation
import Optim

/// The example of the document swift-optim grew from, ported line for line from PyTorch: a
/// 15-point linear regression, `nn.Linear(1, 1)` and `MSELoss`, trained with SGD, SGD with
/// momentum, RMSprop, Adam (100 epochs each) and LBFGS (5 steps), from the initial weights
/// `torch.manual_seed(42)` draws. Its printout is PyTorch's, line for line.
public enum SeedRegression {
    public static let x: [Float] = [3.3, 4.4, 5.5, 6.71, 6.93, 4.168, 9.779, 6.182, 7.59, 2.167, 7.042, 10.791, 5.313, 7.997, 3.1]
    public static let y: [Float] = [1.7, 2.76, 2.09, 3.19, 1.694, 1.573, 3.366, 2.596, 2.53, 1.221, 2.827, 3.465, 1.65, 2.904, 1.3]

    /// One optimizer's run: what it printed, its loss after every epoch (or LBFGS step), its
    /// final [w, b], and its wall time.
    public struct Run: Sendable {
        public let name: String
        public let optimizer: String
        public let printed: [String]
        public let losses: [Double]
        public let weights: [Float]
        public let seconds: Double
    }

    /// nn.Linear(1, 1) as torch.manual_seed(42) initializes the example's five models, in order.
    static let initialWeights: [(name: String, w: Float, b: Float)] = [
        ("sgd", 0.7645385265350342, 0.8300079107284546),
        ("momentum", -0.23427248001098633, 0.9186112880706787),
        ("rmsprop", -0.21910357475280762, 0.2017906904220581),
        ("adam", -0.48685503005981445, 0.587282657623291),
        ("lbfgs", 0.8815429210662842, -0.7336281538009644),
    ]

    /// MSELoss of [w, b]; with `backward`, also writes the gradients (loss.backward()).
    static func mseLoss(_ model: Parameters<Float>, backward: Bool = true) -> Float {
        let w = model.values[0], b = model.values[1]
        var sum: Float = 0, gradW: Float = 0, gradB: Float = 0
        let scale = 2 / Float(x.count)
        for i in x.indices {
            let residual = w * x[i] + b - y[i]
            sum += residual * residual
            gradW += scale * residual * x[i]
            gradB += scale * residual
        }
        if backward { model.setGrad([gradW], for: "weight"); model.setGrad([gradB], for: "bias") }
        return sum / Float(x.count)
    }

    static func format(_ value: Float, _ digits: Int) -> String { String(format: "%.\(digits)f", Double(value)) }

    static func model(_ index: Int) -> Parameters<Float> {
        Parameters(["weight": [initialWeights[index].w], "bias": [initialWeights[index].b]])
    }

    /// The seed's train_with_optimizer: zero_grad, backward, step, a report every 20 epochs.
    static func train(_ name: String, label: String, _ model: Parameters<Float>, _ optimizer: any Optimizer<Float>, epochs: Int = 100) -> Run {
        var printed = ["", "--- Training with \(name) ---"]
        var losses: [Double] = []
        let start = ContinuousClock.now
        for epoch in 0..<epochs {
            let loss = optimizer.step {
                optimizer.zeroGrad(setToNone: true)
                return Double(mseLoss(model))
            }
            losses.append(Double(mseLoss(model, backward: false)))
            if (epoch + 1) % 20 == 0 { printed.append("Epoch [\(epoch + 1)/\(epochs)], Loss: \(format(Float(loss), 4))") }
        }
        let elapsed = ContinuousClock.now - start
        printed.append("Learned parameters: w=\(format(model.values[0], 3)), b=\(format(model.values[1], 3))")
        return Run(name: name, optimizer: label, printed: printed, losses: losses, weights: model.values.array,
                   seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
    }

    /// Runs the five optimizers of the example, in its order.
    public static func runAll() throws -> [Run] {
        var runs: [Run] = []
        let sgd = model(0)
        runs.append(train("SGD", label: "SGD(lr=0.01)", sgd, try SGD([sgd], lr: 0.01)))
        let momentum = model(1)
        runs.append(train("SGD", label: "SGD(lr=0.01, momentum=0.9)", momentum, try SGD([momentum], lr: 0.01, momentum: 0.9)))
        let rmsprop = model(2)
        runs.append(train("RMSprop", label: "RMSprop(lr=0.01)", rmsprop, try RMSprop([rmsprop], lr: 0.01)))
        let adam = model(3)
        runs.append(train("Adam", label: "Adam(lr=0.001)", adam, try Adam([adam], lr: 0.001)))

        let lbfgs = model(4)
        let optimizer = try LBFGS([lbfgs], lr: 1, maxIter: 20)
        var printed = ["", "--- Training with LBFGS ---"]
        var losses: [Double] = []
        let start = ContinuousClock.now
        for i in 0..<5 {
            printed.append("Step [\(i + 1)/5]")
            optimizer.step {
                optimizer.zeroGrad(setToNone: true)
                return Double(mseLoss(lbfgs))
            }
            let loss = mseLoss(lbfgs, backward: false)
            losses.append(Double(loss))
            printed.append("Loss: \(format(loss, 4))")
        }
        let elapsed = ContinuousClock.now - start
        printed.append("Learned parameters: w=\(format(lbfgs.values[0], 3)), b=\(format(lbfgs.values[1], 3))")
        runs.append(Run(name: "LBFGS", optimizer: "LBFGS(lr=1, max_iter=20)", printed: printed, losses: losses, weights: lbfgs.values.array,
                        seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18))
        return runs
    }
}
