import ArgumentParser
import Datasets
import Models

extension SyntheticRegression.Task: ExpressibleByArgument {}
extension Loss: ExpressibleByArgument {}
extension MLP.Activation: ExpressibleByArgument {}

/// Which model to fit.
enum ModelKind: String, ExpressibleByArgument, CaseIterable {
    case linear, logistic, softmax, mlp
}

struct ModelOptions: ParsableArguments {
    @Option(help: "The model: linear (regression), logistic, softmax, or mlp. Default: what fits the data's targets.")
    var model: ModelKind?

    @Option(help: "The loss: mse, l1, huber (regression), bce_with_logits, cross_entropy. Default: what fits the model.")
    var loss: Loss?

    @Option(help: "Hidden layer width of the MLP; give it twice for two hidden layers.")
    var hidden: [Int] = []

    @Option(help: "The MLP's nonlinearity: relu or tanh.")
    var activation: MLP.Activation = .relu

    func validate() throws {
        if !hidden.isEmpty && model != .mlp { throw ValidationError("--hidden applies to --model mlp only") }
        if hidden.count > 2 { throw ValidationError("an MLP here has one or two hidden layers; --hidden was given \(hidden.count) times") }
        if hidden.contains(where: { $0 < 1 }) { throw ValidationError("--hidden widths must be at least 1") }
    }

    /// The model for `data`, checking that the choices agree with each other and with the data.
    func make(for data: Dataset, task: SyntheticRegression.Task?) throws -> any Model {
        let classes = data.targetsPerRow == 1 ? Int((0..<data.rows).reduce(Float(0)) { max($0, data.target($1)) }) + 1 : 0
        let kind = model ?? {
            switch task {
            case .logistic?: .logistic
            case .multiclass?: .softmax
            case .nonlinear?: .mlp
            default: .linear
            }
        }()
        switch kind {
        case .linear:
            let loss = self.loss ?? .mse
            guard loss.isRegression else { throw ValidationError("--model linear takes a regression loss (mse, l1, huber), not \(loss.rawValue)") }
            return LinearRegression(features: data.features, outputs: data.targetsPerRow, loss: loss)
        case .logistic:
            guard loss == nil || loss == .bceWithLogits else { throw ValidationError("--model logistic uses bce_with_logits") }
            return LogisticRegression(features: data.features)
        case .softmax:
            guard loss == nil || loss == .crossEntropy else { throw ValidationError("--model softmax uses cross_entropy") }
            guard classes >= 2 else { throw ValidationError("--model softmax needs class indices 0, 1, ... as targets") }
            return SoftmaxRegression(features: data.features, classes: classes)
        case .mlp:
            let loss = self.loss ?? (task == .logistic ? .bceWithLogits : task == .multiclass ? .crossEntropy : .mse)
            let outputs = loss == .crossEntropy ? max(classes, 2) : loss == .bceWithLogits ? 1 : data.targetsPerRow
            return MLP(features: data.features, hidden: hidden.isEmpty ? [32] : hidden, outputs: outputs,
                       activation: activation, loss: loss)
        }
    }
}
