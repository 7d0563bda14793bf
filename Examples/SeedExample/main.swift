// The example of the document swift-optim grew from, ported line for line from PyTorch:
// a 15-point linear regression, nn.Linear(1, 1) and MSELoss, trained with SGD, SGD with
// momentum, RMSprop, Adam and LBFGS. With the initial weights torch.manual_seed(42) draws, it
// prints what the PyTorch original prints.
//
//   swift run -c release seed-example

import Foundation
import Optim

let x: [Float] = [3.3, 4.4, 5.5, 6.71, 6.93, 4.168, 9.779, 6.182, 7.59, 2.167, 7.042, 10.791, 5.313, 7.997, 3.1]
let y: [Float] = [1.7, 2.76, 2.09, 3.19, 1.694, 1.573, 3.366, 2.596, 2.53, 1.221, 2.827, 3.465, 1.65, 2.904, 1.3]

/// The initial [weight, bias] of each model: what nn.Linear(1, 1) draws after
/// torch.manual_seed(42), one model after another.
let initialWeights: [String: (Float, Float)] = [
    "sgd": (0.7645385265350342, 0.8300079107284546),
    "momentum": (-0.23427248001098633, 0.9186112880706787),
    "rmsprop": (-0.21910357475280762, 0.2017906904220581),
    "adam": (-0.48685503005981445, 0.587282657623291),
    "lbfgs": (0.8815429210662842, -0.7336281538009644),
]

/// nn.Linear(1, 1): prediction = w·x + b.
func makeModel(_ name: String) -> Parameters<Float> {
    let (w, b) = initialWeights[name]!
    return Parameters(["weight": [w], "bias": [b]])
}

/// MSELoss of the model on the data; with `backward`, also writes the gradients (loss.backward()).
func mseLoss(_ model: Parameters<Float>, backward: Bool = true) -> Float {
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

func format(_ value: Float, _ digits: Int) -> String { String(format: "%.\(digits)f", Double(value)) }

func printLearned(_ model: Parameters<Float>) {
    print("Learned parameters: w=\(format(model.values[0], 3)), b=\(format(model.values[1], 3))")
}

/// The seed's train_with_optimizer: zero_grad, backward, step, and a report every 20 epochs.
func train<O: ElementwiseOptimizer<Float, R>, R>(_ optimizer: O, _ model: Parameters<Float>, name: String, epochs: Int = 100) {
    print("\n--- Training with \(name) ---")
    for epoch in 0..<epochs {
        optimizer.zeroGrad()
        let loss = mseLoss(model)
        optimizer.step()
        if (epoch + 1) % 20 == 0 { print("Epoch [\(epoch + 1)/\(epochs)], Loss: \(format(loss, 4))") }
    }
    printLearned(model)
}

do {
    let sgd = makeModel("sgd")
    train(try SGD([sgd], lr: 0.01), sgd, name: "SGD")

    let momentum = makeModel("momentum")
    train(try SGD([momentum], lr: 0.01, momentum: 0.9), momentum, name: "SGD")

    let rmsprop = makeModel("rmsprop")
    train(try RMSprop([rmsprop], lr: 0.01), rmsprop, name: "RMSprop")

    let adam = makeModel("adam")
    train(try Adam([adam], lr: 0.001), adam, name: "Adam")

    let lbfgs = makeModel("lbfgs")
    let optimizer = try LBFGS([lbfgs], lr: 1, maxIter: 20)
    print("\n--- Training with LBFGS ---")
    for i in 0..<5 {
        print("Step [\(i + 1)/5]")
        optimizer.step {
            optimizer.zeroGrad()
            return Double(mseLoss(lbfgs))
        }
        print("Loss: \(format(mseLoss(lbfgs, backward: false), 4))")
    }
    printLearned(lbfgs)
} catch {
    FileHandle.standardError.write(Data("seed-example: \(error)\n".utf8))
    exit(1)
}
