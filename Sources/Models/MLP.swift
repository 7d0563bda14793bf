/// A multilayer perceptron with one or two hidden layers (torch: `nn.Sequential(nn.Linear(d, h₁),
/// act, [nn.Linear(h₁, h₂), act,] nn.Linear(h, k))`), trained with a regression loss, binary
/// cross-entropy on one logit, or cross-entropy on one logit per class.
///
/// Tensors are named as in that `nn.Sequential`: `0.weight`, `0.bias`, `2.weight`, `2.bias`, and
/// `4.weight`, `4.bias` with two hidden layers.
public struct MLP: Model, Equatable {
    /// The hidden layers' nonlinearity.
    public enum Activation: String, Sendable, CaseIterable, Codable {
        /// max(0, z) (torch: `nn.ReLU`).
        case relu
        /// tanh(z) (torch: `nn.Tanh`).
        case tanh
    }

    /// Widths of the layers: input, hidden..., output.
    public let widths: [Int]
    public let activation: Activation
    public let loss: Loss

    /// - Parameters:
    ///   - features: inputs per row (d).
    ///   - hidden: one or two hidden widths.
    ///   - outputs: outputs (regression), 1 (`.bceWithLogits`) or classes (`.crossEntropy`).
    ///   - activation: `.relu` (default) or `.tanh`.
    ///   - loss: any ``Loss``.
    public init(features: Int, hidden: [Int], outputs: Int = 1, activation: Activation = .relu, loss: Loss = .mse) {
        precondition(hidden.count == 1 || hidden.count == 2, "an MLP here has one or two hidden layers")
        precondition(features > 0 && outputs > 0 && hidden.allSatisfy { $0 > 0 }, "layer widths must be positive")
        precondition(loss != .bceWithLogits || outputs == 1, "binary cross-entropy takes one output")
        precondition(loss != .crossEntropy || outputs >= 2, "cross-entropy takes one output per class, at least 2")
        widths = [features] + hidden + [outputs]
        self.activation = activation
        self.loss = loss
    }

    public var description: String {
        "MLP \(widths.map(String.init).joined(separator: " → ")), \(activation.rawValue), \(loss.rawValue)"
    }
    public var inputFeatures: Int { widths[0] }
    public var outputsPerRow: Int { widths[widths.count - 1] }
    public var targetsPerRow: Int { loss.isRegression ? outputsPerRow : 1 }
    public var lossElementsPerRow: Int { loss.isRegression ? outputsPerRow : 1 }

    public var parameterShapes: [(name: String, shape: [Int])] {
        var shapes: [(name: String, shape: [Int])] = []
        for layer in 0..<(widths.count - 1) {
            let fanIn: Int = widths[layer], fanOut: Int = widths[layer + 1]
            shapes.append((name: "\(2 * layer).weight", shape: [fanOut, fanIn]))
            shapes.append((name: "\(2 * layer).bias", shape: [fanOut]))
        }
        return shapes
    }

    /// Offsets of each layer's weight and bias in the flat parameters.
    var layerOffsets: [(weight: Int, bias: Int)] {
        var offset = 0
        return (0..<(widths.count - 1)).map { layer in
            let weight = offset
            offset += widths[layer + 1] * widths[layer]
            let bias = offset
            offset += widths[layer + 1]
            return (weight, bias)
        }
    }

    public func initialParameters(seed: UInt64) -> [Float] {
        var state = seed
        return (0..<(widths.count - 1)).flatMap { layer in
            linearLayerInitialization(fanIn: widths[layer], count: widths[layer + 1] * (widths[layer] + 1), state: &state)
        }
    }
}
