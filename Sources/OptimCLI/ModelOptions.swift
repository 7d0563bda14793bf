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

    /// The most classes a softmax output takes here (class indices up to 2^20 - 1).
    static let maximumClasses = 1 << 20

    /// The model for `data`, checking that the choices agree with each other and with the data.
    func make(for data: Dataset, task: SyntheticRegression.Task?) throws -> any Model {
        /// The class count when the targets are class indices 0, 1, ...: the largest plus one.
        func classes(for choice: String) throws -> Int {
            guard data.targetsPerRow == 1 else {
                throw ValidationError("\(choice) needs one target per row, a class index; the data has \(data.targetsPerRow)")
            }
            var largest: Float = 0
            for row in 0..<data.rows {
                let value = data.target(row)
                guard value >= 0 && value < Float(Self.maximumClasses) && value.rounded() == value else {
                    throw ValidationError("\(choice) needs class indices 0, 1, ... (at most \(Self.maximumClasses - 1)) as targets; "
                        + "the target at row \(row) is \(value)")
                }
                largest = max(largest, value)
            }
            return Int(largest) + 1
        }
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
            let classes = try classes(for: "--model softmax")
            guard classes >= 2 else { throw ValidationError("--model softmax needs at least two classes; every target is 0") }
            return SoftmaxRegression(features: data.features, classes: classes)
        case .mlp:
            let loss = self.loss ?? (task == .logistic ? .bceWithLogits : task == .multiclass ? .crossEntropy : .mse)
            let outputs = loss == .crossEntropy ? max(try classes(for: "--loss cross_entropy"), 2) : loss == .bceWithLogits ? 1 : data.targetsPerRow
            return MLP(features: data.features, hidden: hidden.isEmpty ? [32] : hidden, outputs: outputs,
                       activation: activation, loss: loss)
        }
    }
}
