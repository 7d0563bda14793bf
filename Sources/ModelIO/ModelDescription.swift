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

    /// Why no model can be built from this description (a damaged or hand-edited file), or nil.
    public var problem: String? {
        let limit = 1 << 24
        guard (1...limit).contains(features) else { return "features \(features), expected 1 to \(limit)" }
        guard (1...limit).contains(outputs) else { return "outputs \(outputs), expected 1 to \(limit)" }
        guard kind == .mlp || hidden.isEmpty else { return "a \(kind.rawValue) model has no hidden layers, this one lists \(hidden)" }
        switch kind {
        case .linear:
            return loss.isRegression ? nil : "a linear model takes a regression loss (mse, l1, huber), not \(loss.rawValue)"
        case .logistic:
            return loss == .bceWithLogits && outputs == 1 ? nil : "a logistic model has one output and loss bce_with_logits"
        case .softmax:
            return loss == .crossEntropy && outputs >= 2 ? nil : "a softmax model has two or more outputs and loss cross_entropy"
        case .mlp:
            guard hidden.count == 1 || hidden.count == 2 else { return "an MLP has one or two hidden layers, this one \(hidden.count)" }
            guard hidden.allSatisfy({ (1...limit).contains($0) }) else { return "hidden widths \(hidden), expected 1 to \(limit)" }
            if loss == .bceWithLogits && outputs != 1 { return "binary cross-entropy takes one output, not \(outputs)" }
            if loss == .crossEntropy && outputs < 2 { return "cross-entropy takes one output per class, at least 2" }
            return nil
        }
    }

    /// The model described; check ``problem`` first (a description with a problem traps here).
    public func makeModel() -> any Model {
        switch kind {
        case .linear: LinearRegression(features: features, outputs: outputs, loss: loss)
        case .logistic: LogisticRegression(features: features)
        case .softmax: SoftmaxRegression(features: features, classes: outputs)
        case .mlp: MLP(features: features, hidden: hidden, outputs: outputs, activation: activation ?? .relu, loss: loss)
        }
    }
}
