import PageMapping

/// Contiguous `Float`s that a data set reads: an aligned allocation owned here, or a window into
/// another storage (which it keeps alive).
///
/// Large storages are a ``PageMapping`` rather than a heap block: untouched until first written
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

    /// The index of the first NaN or infinity, or nil.
    public func firstNonFinite() -> Int? {
        // Scan in blocks with a cheap vector test, then locate within the offending block.
        let block = 1024
        var start = 0
        while start < count {
            let end = min(start + block, count)
            var allFinite = true
            for i in start..<end where !base[i].isFinite { allFinite = false }
            if !allFinite { return (start..<end).first { !base[$0].isFinite } }
            start = end
        }
        return nil
    }
}
