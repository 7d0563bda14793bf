/// Trainable values and their gradients: named tensors laid end to end in one flat,
/// 64-byte-aligned buffer, so that an optimizer step is one pass over contiguous memory.
///
/// This plays the role of a list of torch `nn.Parameter`s. Each tensor's gradient is either defined
/// or absent, like torch's `p.grad` being `None`: `step()` skips tensors whose gradient is absent
/// (no state is created, no step is counted, no weight decay is applied), while a defined gradient
/// of zeros is a real update.
///
/// ```swift
/// let model = Parameters<Double>(["weight": [0.5, -0.2], "bias": [0.0]])
/// model.setGrad([0.1, 0.3], for: "weight")   // "bias" has no gradient: step() skips it
/// ```
///
/// `Parameters` is a class because it is shared by identity: the optimizer, the model and the
/// trainer all see the same values, as with torch tensors.
public final class Parameters<Scalar: OptimScalar> {
    /// One named tensor: where its elements sit in the flat buffer, and its shape.
    public struct Tensor: Sendable, Equatable {
        /// The tensor's name (torch: the parameter's name in `named_parameters()`).
        public let name: String
        /// The tensor's shape; the elements are laid out in row-major order.
        public let shape: [Int]
        /// Index of the tensor's first element in `values` and `grad`.
        public let offset: Int
        /// Number of elements (the product of `shape`).
        public let count: Int
        /// The tensor's elements in the flat buffer.
        public var range: Range<Int> { offset..<(offset + count) }
    }

    /// The tensors, in the order given at creation (torch's parameter order).
    public let tensors: [Tensor]
    /// All values, tensor after tensor.
    public let values: AlignedStorage<Scalar>
    /// All gradients, laid out like `values`. Elements of a tensor whose gradient is absent are
    /// meaningless.
    public let grad: AlignedStorage<Scalar>
    /// Whether each tensor's gradient is defined (torch: `p.grad is not None`).
    public private(set) var hasGrad: [Bool]
    /// Each tensor's sparse gradient, when it is one (torch: `p.grad.is_sparse`, coalesced): the
    /// offsets within the tensor, ascending, of the elements it has; the others are zero in
    /// `grad`. nil for a dense gradient. Optimizers with a sparse rule (``SparseAdam``,
    /// ``Adagrad``) update only these elements; the others read `grad` as dense.
    public private(set) var sparseIndices: [[Int]?]

    /// Creates named tensors with the given shapes, all values `initial`, gradients absent.
    public init(shapes: [(name: String, shape: [Int])], initial: Scalar = 0) {
        var offset = 0
        var tensors: [Tensor] = []
        for (name, shape) in shapes {
            precondition(shape.allSatisfy { $0 >= 0 }, "tensor \(name) has a negative dimension")
            let count = shape.reduce(1, *)
            tensors.append(Tensor(name: name, shape: shape, offset: offset, count: count))
            offset += count
        }
        precondition(Set(tensors.map(\.name)).count == tensors.count, "tensor names must be unique")
        self.tensors = tensors
        values = AlignedStorage(count: offset, repeating: initial)
        grad = AlignedStorage(count: offset)
        hasGrad = Array(repeating: false, count: tensors.count)
        sparseIndices = Array(repeating: nil, count: tensors.count)
    }

    /// Creates one 1-D tensor per entry, with the given values, in the given order.
    public convenience init(_ named: KeyValuePairs<String, [Scalar]>) {
        self.init(shapes: named.map { (name: $0.key, shape: [$0.value.count]) })
        for (index, entry) in named.enumerated() { values.assign(entry.value, at: tensors[index].offset) }
    }

    /// A single 1-D tensor named `name`.
    public convenience init(_ values: [Scalar], name: String = "param") {
        self.init([name: values])
    }

    /// The total number of scalars over all tensors.
    public var count: Int { values.count }

    /// The index of the tensor called `name`.
    public func index(of name: String) -> Int {
        guard let i = tensors.firstIndex(where: { $0.name == name }) else {
            preconditionFailure("no tensor named \(name); tensors are \(tensors.map(\.name))")
        }
        return i
    }

    /// A copy of the values of the tensor called `name`.
    public func value(_ name: String) -> [Scalar] { value(at: index(of: name)) }

    /// A copy of the values of tensor `index`.
    public func value(at index: Int) -> [Scalar] {
        let t = tensors[index]
        return values.withUnsafeBufferPointer { Array($0[t.range]) }
    }

    /// Replaces the values of the tensor called `name`.
    public func setValue(_ newValue: [Scalar], for name: String) {
        let t = tensors[index(of: name)]
        precondition(newValue.count == t.count, "\(name) has \(t.count) elements, got \(newValue.count)")
        values.assign(newValue, at: t.offset)
    }

    /// The gradient of the tensor called `name`, or nil when it is absent.
    public func gradient(_ name: String) -> [Scalar]? { gradient(at: index(of: name)) }

    /// The gradient of tensor `index`, or nil when it is absent.
    public func gradient(at index: Int) -> [Scalar]? {
        guard hasGrad[index] else { return nil }
        let t = tensors[index]
        return grad.withUnsafeBufferPointer { Array($0[t.range]) }
    }

    /// Sets the gradient of the tensor called `name` (torch: `p.grad = g`); nil makes it absent.
    public func setGrad(_ gradient: [Scalar]?, for name: String) {
        setGrad(gradient, at: index(of: name))
    }

    /// Sets the gradient of tensor `index`; nil makes it absent.
    public func setGrad(_ gradient: [Scalar]?, at index: Int) {
        let t = tensors[index]
        sparseIndices[index] = nil
        guard let gradient else { hasGrad[index] = false; return }
        precondition(gradient.count == t.count, "\(t.name) has \(t.count) elements, got a gradient of \(gradient.count)")
        grad.assign(gradient, at: t.offset)
        hasGrad[index] = true
    }

    /// Sets tensor `index`'s gradient to a sparse one (torch: `p.grad = torch.sparse_coo_tensor(...)`,
    /// coalesced): `values` at element offsets `indices` (within the tensor, ascending, distinct),
    /// zeros elsewhere.
    public func setSparseGrad(indices: [Int], values: [Scalar], at index: Int) {
        let t = tensors[index]
        precondition(indices.count == values.count, "\(indices.count) indices for \(values.count) values")
        precondition(zip(indices, indices.dropFirst()).allSatisfy { $0 < $1 } && indices.allSatisfy { $0 >= 0 && $0 < t.count },
                     "sparse gradient indices must ascend within 0..<\(t.count)")
        grad.fill(0, range: t.range)
        grad.withUnsafeMutableBufferPointer { g in for (i, v) in zip(indices, values) { g[t.offset + i] = v } }
        hasGrad[index] = true
        sparseIndices[index] = indices
    }

    /// Declares tensor `index`'s gradient sparse, at element offsets `indices` (ascending), after
    /// a kernel wrote them into `grad` and left zeros elsewhere.
    public func markSparseGradient(at index: Int, indices: [Int]) {
        hasGrad[index] = true
        sparseIndices[index] = indices
    }

    /// Declares every tensor's gradient defined and dense, after a kernel wrote the whole `grad` buffer.
    public func markAllGradientsDefined() {
        for i in hasGrad.indices { hasGrad[i] = true; sparseIndices[i] = nil }
    }

    /// torch's `zero_grad`: absent gradients by default (`set_to_none=True`), else defined zeros.
    public func zeroGrad(setToNone: Bool = true) {
        for i in sparseIndices.indices { sparseIndices[i] = nil }
        if setToNone {
            for i in hasGrad.indices { hasGrad[i] = false }
        } else {
            for i in hasGrad.indices where hasGrad[i] { grad.fill(0, range: tensors[i].range) }
        }
    }
}
