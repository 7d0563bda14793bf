import PageMapping
import VectorMath

/// Storage of the trainer's default precision.
public typealias FloatStorage = ScalarStorage<Float>

/// Contiguous `Float`s or `Double`s that a data set reads: an aligned allocation owned here, or a
/// window into another storage (which it keeps alive).
///
/// Large storages are a `PageMapping` rather than a heap block: untouched until first written
/// (so the worker that generates or loads a chunk of rows places its pages), and offered to the
/// kernel as transparent huge pages.
public final class ScalarStorage<Scalar: VectorScalar> {
    /// The number of values.
    public let count: Int
    /// The first value. Valid as long as this storage lives.
    public let base: UnsafeMutablePointer<Scalar>
    private let owner: AnyObject?
    private let allocation: Allocation

    private enum Allocation {
        case heap
        case pages(PageMapping)
        case borrowed
    }

    /// `count` zeros, 64-byte aligned (a cache line, an AVX-512 vector). Large counts are
    /// page-mapped and not yet touched (see the type's discussion); `hugePages: false` maps them
    /// in small pages, for storage that is written only in scattered runs.
    public init(count: Int, hugePages: Bool = true) {
        precondition(count >= 0)
        self.count = count
        owner = nil
        if count * MemoryLayout<Scalar>.stride >= PageMapping.threshold,
           let mapping = PageMapping(bytes: count * MemoryLayout<Scalar>.stride, hugePages: hugePages) {
            base = mapping.start.bindMemory(to: Scalar.self, capacity: count)
            allocation = .pages(mapping)
        } else {
            let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Scalar>.stride, alignment: 64)
            base = raw.initializeMemory(as: Scalar.self, repeating: 0, count: max(count, 1))
            allocation = .heap
        }
    }

    /// A copy of `values`.
    public convenience init(_ values: [Scalar]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { base.update(from: $0.baseAddress!, count: values.count) }
    }

    /// A window of `count` values at `base`, kept valid by `owner` (e.g. a memory mapping).
    public init(borrowing base: UnsafeMutablePointer<Scalar>, count: Int, owner: AnyObject) {
        self.base = base
        self.count = count
        self.owner = owner
        allocation = .borrowed
    }

    deinit {
        switch allocation {
        case .heap: UnsafeMutableRawPointer(base).deallocate()
        case .pages: break
        case .borrowed: break
        }
    }

    /// Values `range`, sharing this storage.
    public func view(_ range: Range<Int>) -> ScalarStorage {
        precondition(range.lowerBound >= 0 && range.upperBound <= count)
        return ScalarStorage(borrowing: base + range.lowerBound, count: range.count, owner: self)
    }

    public subscript(index: Int) -> Scalar {
        precondition(index >= 0 && index < count, "index \(index) out of 0..<\(count)")
        return base[index]
    }

    /// The values converted to another precision (rounded to nearest when narrower), in a new
    /// storage.
    public func converted<Other: VectorScalar>(to _: Other.Type) -> ScalarStorage<Other> {
        if let same = self as? ScalarStorage<Other> { return same }
        let out = ScalarStorage<Other>(count: count)
        convert(base, out.base, count)
        return out
    }

    /// The values, copied.
    public var array: [Scalar] { Array(UnsafeBufferPointer(start: base, count: count)) }

    /// The index of the first NaN or infinity, or nil. Blocks are tested with vector
    /// arithmetic (x·0 is 0 for every finite x and NaN otherwise), at memory speed; only a block
    /// that fails is searched value by value.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func firstNonFinite() -> Int? {
        let block = 4096
        var start = 0
        while start < count {
            let end = min(start + block, count)
            if !Self.allFinite(base + start, end - start) { return (start..<end).first { !base[$0].isFinite } }
            start = end
        }
        return nil
    }

    private static func allFinite(_ p: UnsafePointer<Scalar>, _ n: Int) -> Bool {
        var zeros = SIMD16<Scalar>()
        var i = 0
        while i + 16 <= n {
            zeros += UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Scalar>.self) * 0
            i += 16
        }
        var sum = zeros.sum()
        while i < n {
            sum += p[i] * 0
            i += 1
        }
        return sum == 0
    }
}

/// `n` values converted, specialized for the two conversions there are (a generic conversion is
/// a call per value).
@_specialize(where From == Float, To == Double)
@_specialize(where From == Double, To == Float)
func convert<From: VectorScalar, To: VectorScalar>(_ source: UnsafePointer<From>, _ target: UnsafeMutablePointer<To>, _ n: Int) {
    for i in 0..<n { target[i] = To(source[i]) }
}
