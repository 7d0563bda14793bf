/// The floating-point types an optimizer can update: `Float` and `Double`.
///
/// Hyperparameters and every scalar derived from them (`1 - beta1`, `lr / bias_correction1`, ...)
/// are computed in `Double`, as torch computes them in Python floats, and are rounded to `Self`
/// exactly once, where they enter an elementwise kernel.
public protocol OptimScalar: BinaryFloatingPoint, Codable, Sendable
where Self.RawSignificand: FixedWidthInteger {
    /// The value widened (exactly) to `Double`.
    var doubleValue: Double { get }
    /// `sqrt`, IEEE correctly rounded.
    func squareRootValue() -> Self
}

extension Float: OptimScalar {
    @inlinable public var doubleValue: Double { Double(self) }
    @inlinable public func squareRootValue() -> Float { squareRoot() }
}

extension Double: OptimScalar {
    @inlinable public var doubleValue: Double { self }
    @inlinable public func squareRootValue() -> Double { squareRoot() }
}
