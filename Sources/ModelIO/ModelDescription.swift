import Models

/// What a weights file needs to rebuild its model: the kind and its shape, saved as JSON in the
/// safetensors metadata under `model`.
public struct ModelDescription: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable { case linear, logistic, softmax, mlp }

    public var kind: Kind
    public var features: Int
    public var outputs: Int
    public var loss: Loss
    public var hidden: [Int]
    public var activation: MLP.Activation?

    /// Describes `model`; nil for a model type this module does not know.
    public init?(_ model: any Model) {
        switch model {
        case let m as LinearRegression: kind = .linear; hidden = []; activation = nil; loss = m.loss
        case is LogisticRegression: kind = .logistic; hidden = []; activation = nil; loss = .bceWithLogits
        case is SoftmaxRegression: kind = .softmax; hidden = []; activation = nil; loss = .crossEntropy
        case let m as MLP: kind = .mlp; hidden = Array(m.widths.dropFirst().dropLast()); activation = m.activation; loss = m.loss
        default: return nil
        }
        features = model.inputFeatures
        outputs = model.outputsPerRow
    }

    /// The model described.
    public func makeModel() -> any Model {
        switch kind {
        case .linear: LinearRegression(features: features, outputs: outputs, loss: loss)
        case .logistic: LogisticRegression(features: features)
        case .softmax: SoftmaxRegression(features: features, classes: outputs)
        case .mlp: MLP(features: features, hidden: hidden, outputs: outputs, activation: activation ?? .relu, loss: loss)
        }
    }
}
