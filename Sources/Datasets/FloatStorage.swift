import PageMapping

/// Contiguous `Float`s that a data set reads: an aligned allocation owned here, or a window into
/// another storage (which it keeps alive).
///
/// Large storages are a `PageMapping` rather than a heap block: untouched until first written
/// (so the worker that generates or loads a chunk of rows places its pages), and offered to the
/// kernel as transparent huge pages.
public final class FloatStorage {
    /// The number of values.
    public let count: Int
    /// The first value. Valid as long as this storage lives.
    public let base: UnsafeMutablePointer<Float>
    private let owner: AnyObject?
    private let allocation: Allocation

    private enum Allocation {
        case heap
        case pages(PageMapping)
        case borrowed
    }

    /// `count` zeros, 64-byte aligned (a cache line, an AVX-512 vector). Large counts are
    /// page-mapped and not yet touched (see the type's discussion).
    public init(count: Int) {
        precondition(count >= 0)
        self.count = count
        owner = nil
        if count * 4 >= PageMapping.threshold, let mapping = PageMapping(bytes: count * 4) {
            base = mapping.start.bindMemory(to: Float.self, capacity: count)
            allocation = .pages(mapping)
        } else {
            let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
            base = raw.initializeMemory(as: Float.self, repeating: 0, count: max(count, 1))
            allocation = .heap
        }
    }

    /// A copy of `values`.
    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { base.update(from: $0.baseAddress!, count: values.count) }
    }

    /// A window of `count` values at `base`, kept valid by `owner` (e.g. a memory mapping).
    public init(borrowing base: UnsafeMutablePointer<Float>, count: Int, owner: AnyObject) {
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
    public func view(_ range: Range<Int>) -> FloatStorage {
        precondition(range.lowerBound >= 0 && range.upperBound <= count)
        return FloatStorage(borrowing: base + range.lowerBound, count: range.count, owner: self)
    }

    public subscript(index: Int) -> Float {
        precondition(index >= 0 && index < count, "index \(index) out of 0..<\(count)")
        return base[index]
    }

    /// The values, copied.
    public var array: [Float] { Array(UnsafeBufferPointer(start: base, count: count)) }

    /// The index of the first NaN or infinity, or nil. Blocks are tested with vector
    /// arithmetic (x·0 is 0 for every finite x and NaN otherwise), at memory speed; only a block
    /// that fails is searched value by value.
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

    private static func allFinite(_ p: UnsafePointer<Float>, _ n: Int) -> Bool {
        var zeros = SIMD16<Float>()
        var i = 0
        while i + 16 <= n {
            zeros += UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Float>.self) * 0
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
