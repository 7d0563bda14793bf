import ArgumentParser
import DataParallel
import Datasets
import Models

extension SyntheticRegression.Task: ExpressibleByArgument {}
extension Loss: ExpressibleByArgument {}
extension MLP.Activation: ExpressibleByArgument {}

/// Which model to fit.
enum ModelKind: String, ExpressibleByArgument, CaseIterable {
    case linear, logistic, softmax, mlp
}

/// The model chosen for the data, with the class names its outputs stand for and why.
struct ModelChoice {
    var model: any Model
    /// Class names by class index (classifiers); nil for regression.
    var classes: [String]?
    /// Maps a target value to its class index, when the file's values are not already 0, 1, ...
    var classIndex: (@Sendable (Float) -> Float)?
    /// Why this model, for the user ("the target has two distinct values (0, 1)").
    var reason: String?
}

struct ModelOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The model: linear (regression), logistic, softmax, or mlp. Default: from the targets: logistic for two distinct values, softmax for text labels or a few (at most 20) whole non-negative numbers, linear regression otherwise.",
                               valueName: "linear|logistic|softmax|mlp"))
    var model: ModelKind?

    @Option(help: "The loss: mse, l1, huber (regression), bce_with_logits, cross_entropy. Default: what fits the model and the targets.")
    var loss: Loss?

    @Option(help: "Hidden layer width of the MLP; give it twice for two hidden layers (default: one of 32).")
    var hidden: [Int] = []

    @Option(help: "The MLP's nonlinearity: relu or tanh.")
    var activation: MLP.Activation = .relu

    @Option(parsing: .unconditional, help: ArgumentHelp("L2 penalty on the weights (not the biases), added to the mean loss as l2/2·‖w‖²: scikit-learn's alpha. Default: 1/(C·rows) with C = 1 for classifiers (scikit-learn's LogisticRegression()), 0 for regression.", valueName: "λ"))
    var l2: Double?

    @Option(parsing: .unconditional, help: ArgumentHelp("L1 penalty on the weights, added as l1·‖w‖₁ (with --l2: the elastic net).", valueName: "λ"))
    var l1: Double?

    @Option(name: .customLong("C"), parsing: .unconditional,
            help: ArgumentHelp("Inverse L2 strength as scikit-learn's and LIBLINEAR's C: --l2 1/(C·training rows).", valueName: "C"))
    var inverseStrength: Double?

    @Option(help: ArgumentHelp("Class weights in the loss: balanced (training rows / (classes × the class's rows), scikit-learn's class_weight=\"balanced\"), or class=weight,... (the rest 1).",
                               valueName: "balanced|class=weight,..."))
    var classWeight: String?

    @Flag(help: "With --standardize, penalize the raw features' weights (the objective of scikit-learn's LogisticRegression() on raw data: standardizing then changes only how fast training converges) instead of the standardized features' (a StandardScaler pipeline's, the default: better conditioned, usually as good or better held out).")
    var rawPenalty = false

    func validate() throws {
        if !hidden.isEmpty && model != .mlp { throw ValidationError("--hidden applies to --model mlp only") }
        if hidden.count > 2 { throw ValidationError("an MLP here has one or two hidden layers; --hidden was given \(hidden.count) times") }
        if hidden.contains(where: { $0 < 1 || $0 > 1 << 20 }) { throw ValidationError("--hidden widths must be from 1 to 1048576") }
        if let l2, !(l2 >= 0 && l2.isFinite) { throw ValidationError("--l2 must be finite and 0 or more, got \(l2)") }
        if let l1, !(l1 >= 0 && l1.isFinite) { throw ValidationError("--l1 must be finite and 0 or more, got \(l1)") }
        if let c = inverseStrength, !(c > 0 && c.isFinite) { throw ValidationError("-C must be positive and finite, got \(c)") }
        if inverseStrength != nil && l2 != nil { throw ValidationError("-C and --l2 both set the L2 penalty; give one") }
    }

    /// The penalty for `rows` training rows: as given, or scikit-learn's default for classifiers.
    func penalty(trainingRows rows: Int, classifier: Bool, standardization: Standardization?) -> FitConfiguration.Penalty {
        let l2 = self.l2 ?? inverseStrength.map { 1 / ($0 * Double(rows)) } ?? (classifier ? 1 / Double(rows) : 0)
        return FitConfiguration.Penalty(l2: l2, l1: l1 ?? 0, featureScales: rawPenalty ? standardization?.scales : nil)
    }

    /// The most classes a softmax output takes here.
    static let maximumClasses = TargetSummary.distinctLimit

    /// The model for `data` and the data with its class labels as indices 0, 1, ... (a copy
    /// only where the labels are other values): for commands that take the data as it is.
    func makeIndexed<Scalar: TrainingScalar>(for data: Dataset<Scalar>, task: SyntheticRegression.Task?) throws
        -> (model: any Model, data: Dataset<Scalar>)
    {
        let choice = try make(for: data, task: task)
        guard let index = choice.classIndex else { return (choice.model, data) }
        return (choice.model, try data.gathered(rows: Array(0..<data.rows), name: data.name, targetIndex: index))
    }

    /// Throws unless a model of layers `widths` (inputs, hidden..., outputs) fits in memory with
    /// its gradient and optimizer state (about eight floats per parameter), in checked arithmetic.
    static func checkSize(_ widths: [Int], _ what: String) throws {
        var count = 0
        for (fanIn, fanOut) in zip(widths, widths.dropFirst()) {
            let weights = fanIn.multipliedReportingOverflow(by: fanOut), layer = weights.partialValue.addingReportingOverflow(fanOut)
            let total = count.addingReportingOverflow(layer.partialValue)
            guard !weights.overflow, !layer.overflow, !total.overflow else {
                throw ValidationError("\(what) has more parameters than any machine holds")
            }
            count = total.partialValue
        }
        guard fitsInMemory(bytes: count.multipliedReportingOverflow(by: 32).overflow ? Int.max : count * 32) else {
            throw ValidationError("\(what) has \(count) parameters: with its gradient and optimizer state it "
                                  + MemoryBudget.refusal(count.multipliedReportingOverflow(by: 32).overflow ? nil : count * 32))
        }
    }

    /// The model for `data`, checking that the choices agree with each other and with the data:
    /// the one asked for, or the one the targets call for (synthetic data: its task's).
    func make<Data: TargetRows>(for data: Data, task: SyntheticRegression.Task?) throws -> ModelChoice {
        // Read once, and only where the choice depends on it (not for a synthetic regression).
        var cached: TargetSummary?
        var summary: TargetSummary {
            if let cached { return cached }
            let computed = TargetSummary(data)
            cached = computed
            return computed
        }
        /// The class names and index map, for a model that needs classes.
        func classes(for choice: String, binary: Bool) throws -> (names: [String], index: (@Sendable (Float) -> Float)?) {
            guard data.targetsPerRow == 1 else {
                throw ValidationError("\(choice) needs one target per row, a class label; the data has \(data.targetsPerRow)")
            }
            guard let names = summary.classNames else {
                throw ValidationError("\(choice) needs class labels as targets; the target has \(summary.reason): it looks continuous (--model linear fits it)")
            }
            if binary && names.count != 2 {
                throw ValidationError("\(choice) needs two distinct target values; the target has \(names.count) (\(names.prefix(6).joined(separator: ", "))\(names.count > 6 ? ", ..." : ""))"
                    + (names.count > 2 ? ": --model softmax fits several classes" : ""))
            }
            guard names.count >= 2 else { throw ValidationError("\(choice) needs at least two classes; every target is \(names[0])") }
            if names.count > TargetSummary.defaultClassLimit && names.count * 2 > data.rows {
                throw ValidationError("\(choice): \(names.count) classes for \(data.rows) rows; the target looks continuous (--model linear fits it)")
            }
            return (names, summary.classIndex)
        }
        var reason: String?
        let kind: ModelKind
        if let model {
            kind = model
        } else if let task {
            switch task {
            case .logistic: kind = .logistic
            case .multiclass: kind = .softmax
            case .nonlinear: kind = .mlp
            case .linear: kind = .linear
            }
        } else {
            switch summary.kind {
            case .binary: kind = .logistic
            case .multiclass: kind = .softmax
            case .continuous: kind = .linear
            }
            reason = "the target has \(summary.reason)"
        }
        let outputsForSize = kind == .softmax || (kind == .mlp && (self.loss == .crossEntropy)) ? (summary.classNames?.count ?? 2) : data.targetsPerRow
        try Self.checkSize([data.features] + (kind == .mlp ? (hidden.isEmpty ? [32] : hidden) : []) + [max(outputsForSize, 1)],
                           "the \(kind.rawValue) model for \(data.features) features")
        switch kind {
        case .linear:
            let loss = self.loss ?? .mse
            guard loss.isRegression else { throw ValidationError("--model linear takes a regression loss (mse, l1, huber), not \(loss.rawValue)") }
            return ModelChoice(model: LinearRegression(features: data.features, outputs: data.targetsPerRow, loss: loss), reason: reason)
        case .logistic:
            guard loss == nil || loss == .bceWithLogits else { throw ValidationError("--model logistic uses bce_with_logits") }
            let (names, index) = try classes(for: "--model logistic", binary: true)
            return ModelChoice(model: LogisticRegression(features: data.features), classes: names, classIndex: index, reason: reason)
        case .softmax:
            guard loss == nil || loss == .crossEntropy else { throw ValidationError("--model softmax uses cross_entropy") }
            let (names, index) = try classes(for: "--model softmax", binary: false)
            return ModelChoice(model: SoftmaxRegression(features: data.features, classes: names.count), classes: names, classIndex: index,
                               reason: reason)
        case .mlp:
            let loss = self.loss ?? {
                switch task {
                case .logistic?: return .bceWithLogits
                case .multiclass?: return .crossEntropy
                case .linear?, .nonlinear?: return .mse
                case nil:
                    switch summary.kind {
                    case .binary: return .bceWithLogits
                    case .multiclass: return .crossEntropy
                    case .continuous: return .mse
                    }
                }
            }()
            if model == .mlp && self.loss == nil && task == nil { reason = "loss \(loss.rawValue): the target has \(summary.reason)" }
            let hidden = self.hidden.isEmpty ? [32] : self.hidden
            if loss.isRegression {
                return ModelChoice(model: MLP(features: data.features, hidden: hidden, outputs: data.targetsPerRow, activation: activation, loss: loss),
                                   reason: reason)
            }
            let (names, index) = try classes(for: "--loss \(loss.rawValue)", binary: loss == .bceWithLogits)
            return ModelChoice(model: MLP(features: data.features, hidden: hidden, outputs: loss == .crossEntropy ? names.count : 1,
                                          activation: activation, loss: loss),
                               classes: names, classIndex: index, reason: reason)
        }
    }
}
