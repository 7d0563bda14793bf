import PageMapping

/// A fixed-size, zero-initialized, 64-byte-aligned array of scalars.
///
/// Parameters, gradients and optimizer state all live in these: one allocation per buffer, each
/// update loop one pass over contiguous memory, and no two buffers sharing a cache line.
/// This is a class because it owns memory; it is not `Sendable` (see `UnsafeSharedBuffer` in the
/// trainer for the one place that shares it across threads).
public final class AlignedStorage<Scalar: OptimScalar> {
    /// Alignment in bytes: one cache line, and one AVX-512 vector.
    public static var alignment: Int { 64 }

    /// The number of elements.
    public let count: Int
    @usableFromInline let base: UnsafeMutablePointer<Scalar>
    /// The mapping behind large buffers (see ``PageMapping``); nil for heap blocks.
    private let mapping: PageMapping?

    /// Allocates `count` scalars, all `repeating`.
    public init(count: Int, repeating value: Scalar = 0) {
        precondition(count >= 0, "AlignedStorage count must be non-negative")
        self.count = count
        let bytes = max(count, 1) * MemoryLayout<Scalar>.stride
        if bytes >= PageMapping.threshold, let mapping = PageMapping(bytes: bytes) {
            self.mapping = mapping
            base = mapping.start.bindMemory(to: Scalar.self, capacity: count)
            // The pages are zero already; zero is the bit pattern of 0.0.
            if value != 0 { base.initialize(repeating: value, count: count) }
        } else {
            mapping = nil
            let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: Self.alignment)
            base = raw.bindMemory(to: Scalar.self, capacity: max(count, 1))
            base.initialize(repeating: value, count: max(count, 1))
        }
    }

    /// A copy of `values`.
    public convenience init<C: Collection>(_ values: C) where C.Element == Scalar {
        self.init(count: values.count)
        _ = UnsafeMutableBufferPointer(start: base, count: count).initialize(from: values)
    }

    deinit {
        if mapping == nil { UnsafeMutableRawPointer(base).deallocate() }
    }

    /// The elements as an array (a copy).
    public var array: [Scalar] { Array(UnsafeBufferPointer(start: base, count: count)) }

    @inlinable public subscript(index: Int) -> Scalar {
        get { precondition(index >= 0 && index < count, "index out of range"); return base[index] }
        set { precondition(index >= 0 && index < count, "index out of range"); base[index] = newValue }
    }

    /// Sets elements `range` to `value`.
    public func fill(_ value: Scalar, range: Range<Int>? = nil) {
        let r = range ?? 0..<count
        (base + r.lowerBound).update(repeating: value, count: r.count)
    }

    /// Copies `source` into the elements starting at `offset`.
    public func assign<C: Collection>(_ source: C, at offset: Int = 0) where C.Element == Scalar {
        precondition(offset >= 0 && offset + source.count <= count, "assignment out of range")
        _ = UnsafeMutableBufferPointer(start: base + offset, count: source.count).update(fromContentsOf: source)
    }

    @inlinable public func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Scalar>) throws -> R
    ) rethrows -> R {
        try body(UnsafeMutableBufferPointer(start: base, count: count))
    }

    @inlinable public func withUnsafeBufferPointer<R>(
        _ body: (UnsafeBufferPointer<Scalar>) throws -> R
    ) rethrows -> R {
        try body(UnsafeBufferPointer(start: base, count: count))
    }
}
