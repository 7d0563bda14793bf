/// An error raised by an optimizer, a scheduler or a state dict, in torch's own words where torch
/// has them (`"Invalid learning rate: -1.0"`), so that messages users already search for still match.
public struct OptimError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What kind of Python exception torch raises for the same mistake.
    public enum Kind: String, Sendable {
        case valueError = "ValueError"
        case typeError = "TypeError"
        case runtimeError = "RuntimeError"
        case keyError = "KeyError"
    }

    /// The Python exception torch raises for the same mistake.
    public let kind: Kind
    /// What went wrong, in torch's words where torch has them.
    public let message: String

    /// A `ValueError`-kind error with `message`.
    public init(_ message: String) {
        self.init(.valueError, message)
    }

    /// An error of `kind` with `message`.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The message.
    public var description: String { message }
}

/// Formats a hyperparameter the way Python prints a float (`-1.0`, `0.001`, `inf`, `(0.9, 1.0)`).
func pythonRepr(_ x: Double) -> String {
    if x.isNaN { return "nan" }
    if x.isInfinite { return x < 0 ? "-inf" : "inf" }
    return x.description
}

func pythonRepr(_ pair: (Double, Double)) -> String {
    "(\(pythonRepr(pair.0)), \(pythonRepr(pair.1)))"
}

/// Validation helpers shared by the optimizers; each throws torch's message.
enum Check {
    static func nonNegative(_ value: Double, _ what: String) throws(OptimError) {
        guard value >= 0 else { throw OptimError("Invalid \(what): \(pythonRepr(value))") }
    }

    /// The checks every Adam-family optimizer makes, in torch's order.
    static func adamFamily(lr: Double, eps: Double, betas: (Double, Double), weightDecay: Double) throws(OptimError) {
        try nonNegative(lr, "learning rate")
        try nonNegative(eps, "epsilon value")
        try beta(betas.0, index: 0)
        try beta(betas.1, index: 1)
        try nonNegative(weightDecay, "weight_decay value")
    }

    static func beta(_ value: Double, index: Int) throws(OptimError) {
        guard value >= 0, value < 1 else {
            throw OptimError("Invalid beta parameter at index \(index): \(pythonRepr(value))")
        }
    }
}
