// The scalar math torch's Python code does, through the same C library: `x ** y` in Python is
// C `pow`, `math.cos` is C `cos`. Calling libm directly keeps hyperparameter arithmetic
// bit-identical to torch's, including cases a "safer" pow would change (0 ** 0 == 1).
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Python's float arithmetic beyond + - * /, through libm as CPython does it.
enum PyMath {
    /// `x ** y`.
    @inline(__always) static func pow(_ x: Double, _ y: Double) -> Double { _libmPow(x, y) }
    /// `math.cos(x)`.
    @inline(__always) static func cos(_ x: Double) -> Double { _libmCos(x) }
    /// `math.log(x)`.
    @inline(__always) static func log(_ x: Double) -> Double { _libmLog(x) }
    /// `math.floor(x)`.
    @inline(__always) static func floor(_ x: Double) -> Double { x.rounded(.down) }
    static let pi = Double.pi
}

@inline(__always) private func _libmPow(_ x: Double, _ y: Double) -> Double { pow(x, y) }
@inline(__always) private func _libmCos(_ x: Double) -> Double { cos(x) }
@inline(__always) private func _libmLog(_ x: Double) -> Double { log(x) }
