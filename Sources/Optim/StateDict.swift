/// One entry of an optimizer's per-parameter state: a number (`step`, `eta`), a tensor
/// (`exp_avg`), or a list of tensors (LBFGS's `old_dirs`).
///
/// Encodes as a JSON number, an array, or an array of arrays, as `json.dumps` would write torch's
/// state after `.tolist()`.
public enum StateValue: Codable, Equatable, Sendable {
    case number(Double)
    case tensor([Double])
    case tensors([[Double]])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let x = try? container.decode(Double.self) { self = .number(x) }
        else if let t = try? container.decode([Double].self) { self = .tensor(t) }
        else { self = .tensors(try container.decode([[Double]].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .number(let x): try container.encode(x)
        case .tensor(let t): try container.encode(t)
        case .tensors(let ts): try container.encode(ts)
        }
    }

    /// The number, if this is one.
    public var number: Double? { if case .number(let x) = self { x } else { nil } }
    /// The tensor's elements, if this is a tensor.
    public var tensor: [Double]? { if case .tensor(let t) = self { t } else { nil } }
    /// The list of tensors, if this is one.
    public var tensors: [[Double]]? { if case .tensors(let ts) = self { ts } else { nil } }
}

/// Hyperparameters that can be saved in a state dict under torch's key names.
public typealias Hyperparameters = Codable & Equatable & Sendable

/// A param group as `state_dict()` lays it out: the group's hyperparameters under torch's names,
/// the keys that LR schedulers add (`initial_lr`, `max_lr`, ...), and `params`, the global indices
/// of its tensors.
public struct ParamGroupState<Options: Hyperparameters>: Codable, Equatable, Sendable {
    /// The group's hyperparameters, saved under torch's names beside `params`.
    public var options: Options
    /// Keys added by schedulers, e.g. `initial_lr`.
    public var schedulerValues: [String: Double]
    /// Global parameter indices, numbered over all groups in order.
    public var params: [Int]

    /// A group record, as `state_dict()` makes it.
    public init(options: Options, schedulerValues: [String: Double], params: [Int]) {
        self.options = options
        self.schedulerValues = schedulerValues
        self.params = params
    }

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        options = try Options(from: decoder)
        let container = try decoder.container(keyedBy: Key.self)
        params = try container.decode([Int].self, forKey: Key(stringValue: "params"))
        var extra: [String: Double] = [:]
        for key in container.allKeys where ParamGroupState.schedulerKeys.contains(key.stringValue) {
            extra[key.stringValue] = try container.decode(Double.self, forKey: key)
        }
        schedulerValues = extra
    }

    public func encode(to encoder: any Encoder) throws {
        try options.encode(to: encoder)
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(params, forKey: Key(stringValue: "params"))
        for (key, value) in schedulerValues { try container.encode(value, forKey: Key(stringValue: key)) }
    }

    /// The keys torch's schedulers add to a param group.
    static var schedulerKeys: Set<String> {
        ["initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum", "swa_lr"]
    }
}

/// torch's `optimizer.state_dict()`: `state` maps a global parameter index (only of tensors that
/// have state) to its named state values; `param_groups` holds each group's hyperparameters.
///
/// Saving after step k and loading into a fresh optimizer over the same parameters continues the
/// very same trajectory. Values are stored as `Double`, which holds `Float` state exactly.
public struct OptimizerStateDict<Options: Hyperparameters>: Codable, Equatable, Sendable {
    /// Per-tensor state by global tensor index; only tensors that have state appear.
    public var state: [Int: [String: StateValue]]
    /// Each group's hyperparameters and tensor indices (torch: `param_groups`).
    public var paramGroups: [ParamGroupState<Options>]

    /// A state dict with the given state and groups.
    public init(state: [Int: [String: StateValue]], paramGroups: [ParamGroupState<Options>]) {
        self.state = state
        self.paramGroups = paramGroups
    }

    enum CodingKeys: String, CodingKey {
        case state
        case paramGroups = "param_groups"
    }
}

/// Two numbers saved as a JSON array, the way torch saves `betas`, `etas` and `step_sizes`.
/// Optimizers expose it as a tuple.
public struct HyperparameterPair: Hyperparameters {
    /// The first number (`betas[0]`, `etas[0]`, `step_sizes[0]`).
    public var first: Double
    /// The second number.
    public var second: Double

    /// The pair `(first, second)`.
    public init(_ pair: (Double, Double)) { (first, second) = pair }
    /// The pair as a tuple.
    public var tuple: (Double, Double) {
        get { (first, second) }
        set { (first, second) = newValue }
    }

    public init(from decoder: any Decoder) throws {
        var c = try decoder.unkeyedContainer()
        first = try c.decode(Double.self)
        second = try c.decode(Double.self)
        guard c.isAtEnd else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected exactly two numbers")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.unkeyedContainer()
        try c.encode(first)
        try c.encode(second)
    }
}

extension StateValue {
    /// The most a counter in a state dict may be: 2⁵³, where Double still holds every whole number.
    static let counterLimit = 1 << 53

    /// A counter of a loaded state dict (a step, an epoch, a number of evaluations): a whole
    /// number within `range`, or an error naming `key` — never a trap on 1e300 or NaN.
    static func counter(_ value: Double?, key: String, range: ClosedRange<Int> = 0...counterLimit) throws -> Int {
        guard let value else { throw OptimError(.keyError, "state dict lacks '\(key)'") }
        guard value.isFinite, value.rounded() == value, value >= Double(range.lowerBound), value <= Double(range.upperBound) else {
            throw OptimError("state '\(key)' is \(value); expected a whole number in \(range.lowerBound)...\(range.upperBound)")
        }
        return Int(value)
    }
}
