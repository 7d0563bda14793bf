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
    /// The values widened to `Double`, in one specialized pass (a state dict's buffers: an
    /// element-by-element generic conversion costs ~20× more).
    static func widened(_ values: UnsafeBufferPointer<Self>) -> [Double]
    /// Doubles rounded to `Self`, in one specialized pass.
    static func narrowed(_ values: [Double]) -> [Self]
}

extension OptimScalar {
    /// ``widened(_:)`` of an array.
    public static func widened(_ values: [Self]) -> [Double] { values.withUnsafeBufferPointer { widened($0) } }
}

extension Float: OptimScalar {
    @inlinable public var doubleValue: Double { Double(self) }
    @inlinable public func squareRootValue() -> Float { squareRoot() }
    public static func widened(_ values: UnsafeBufferPointer<Float>) -> [Double] {
        [Double](unsafeUninitializedCapacity: values.count) { out, count in
            for i in 0..<values.count { out[i] = Double(values[i]) }
            count = values.count
        }
    }
    public static func narrowed(_ values: [Double]) -> [Float] {
        [Float](unsafeUninitializedCapacity: values.count) { out, count in
            for i in 0..<values.count { out[i] = Float(values[i]) }
            count = values.count
        }
    }
}

extension Double: OptimScalar {
    @inlinable public var doubleValue: Double { self }
    @inlinable public func squareRootValue() -> Double { squareRoot() }
    public static func widened(_ values: UnsafeBufferPointer<Double>) -> [Double] { Array(values) }
    public static func narrowed(_ values: [Double]) -> [Double] { values }
}
