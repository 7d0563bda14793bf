/// Per-feature means and scales of the training rows, as scikit-learn's `StandardScaler` computes
/// them (the population standard deviation; a constant feature keeps the scale 1), so that a
/// model trains on `(x − mean) / scale`.
///
/// `DataParallel` computes it from data (`init(of:rows:)`: data-parallel, the same for any
/// worker count) and folds it into a model's first layer (`fold(into:)`).
public struct Standardization: Codable, Sendable, Equatable {
    public var means: [Float]
    public var scales: [Float]

    public init(means: [Float], scales: [Float]) {
        self.means = means
        self.scales = scales
    }

    /// Whether every feature already has mean 0 and scale 1 (nothing to do).
    public var isIdentity: Bool { means.allSatisfy { $0 == 0 } && scales.allSatisfy { $0 == 1 } }
}
