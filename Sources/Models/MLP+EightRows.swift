import VectorMath

extension MLP {
    // The entry points, in this file with the kernels: a file compiled alone (a debug build)
    // specializes only the generic functions it holds.
    public func accumulateGradient<Scalar: TrainingScalar>(parameters w: UnsafePointer<Scalar>, rows block: RowBlock<Scalar>,
                                                           gradient g: UnsafeMutablePointer<Scalar>) -> Double {
        inPrecision(Scalar.self,
                    float: { accumulateEightRows(w.retyped(Float.self), block.retyped(Float.self), g.retyped(Float.self)) },
                    double: { accumulateEightRows(w.retyped(Double.self), block.retyped(Double.self), g.retyped(Double.self)) },
                    generic: { accumulateEightRows(w, block, g) })
    }

    public func predict<Scalar: TrainingScalar>(parameters w: UnsafePointer<Scalar>, rows block: RowBlock<Scalar>,
                                                outputs: UnsafeMutablePointer<Scalar>) {
        inPrecision(Scalar.self,
                    float: { predictEightRows(w.retyped(Float.self), block.retyped(Float.self), outputs.retyped(Float.self)) },
                    double: { predictEightRows(w.retyped(Double.self), block.retyped(Double.self), outputs.retyped(Double.self)) },
                    generic: { predictEightRows(w, block, outputs) })
    }

    /// Layer by layer, each unit's output for the eight rows into `scratch[activationAt[layer] + unit]`
    /// (after the nonlinearity for hidden layers; raw for the last). `@_transparent`: with
    /// `@inline(__always)` it stayed a call, without the constants of a specialized layout.
    @_transparent
    func forward<Scalar: TrainingScalar>(_ w: UnsafePointer<Scalar>, _ eight: EightRows<Scalar>, _ scratch: UnsafeMutablePointer<SIMD8<Scalar>>, _ activationAt: [Int]) {
        let layers = widths.count - 1, offsets = layerOffsets, relu = activation == .relu
        for layer in 0..<layers {
            let fanIn = widths[layer], fanOut = widths[layer + 1]
            let weight = w + offsets[layer].weight, bias = w + offsets[layer].bias
            let out = scratch + activationAt[layer], input = scratch + (layer == 0 ? 0 : activationAt[layer - 1])
            for o in 0..<fanOut {
                var z: SIMD8<Scalar>
                if layer == 0 {
                    z = eight.dots(weight + o * fanIn)
                } else {
                    z = SIMD8()
                    for i in 0..<fanIn { z = z.addingProduct(SIMD8(repeating: weight[o * fanIn + i]), input[i]) }
                }
                z += SIMD8(repeating: bias[o])
                out[o] = layer == layers - 1 ? z : relu ? z.replacing(with: 0, where: z .< 0) : hyperbolicTangent(z)
            }
        }
    }

    /// The outputs of rows in blocks of eight, by the forward pass training uses.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func predictEightRows<Scalar: TrainingScalar>(_ w: UnsafePointer<Scalar>, _ block: RowBlock<Scalar>, _ outputs: UnsafeMutablePointer<Scalar>) {
        let layers = widths.count - 1, k = outputsPerRow
        var activationAt = [Int](), size = 0
        for layer in 0..<layers {
            activationAt.append(size)
            size += widths[layer + 1]
        }
        let scratch = UnsafeMutablePointer<SIMD8<Scalar>>.allocate(capacity: size)
        defer { scratch.deallocate() }
        scratch.initialize(repeating: SIMD8(), count: size)
        var row = 0
        while row < block.count {
            let count = min(8, block.count - row)
            forward(w, EightRows(block, from: row, count: count, features: widths[0]), scratch, activationAt)
            let out = scratch + activationAt[layers - 1]
            for r in 0..<count {
                for o in 0..<k { outputs[(row + r) * k + o] = out[o][r] }
            }
            row += count
        }
    }

    /// Forward, loss and backward over the block, eight rows at a time (the last group may be
    /// shorter: its missing lanes repeat a row and get no weight). Activations and deltas are
    /// kept per unit as 8-lane vectors over the rows, so:
    /// - the first layer's pre-activations are ``EightRows/dots(_:)`` of each unit's weight row,
    ///   and its weight gradient is ``EightRows/addGradient(_:to:)``, straight into `g`;
    /// - every later layer is vector multiply-adds with no horizontal sums: each weight of those
    ///   layers accumulates its gradient in an 8-lane partial, summed into `g` once per block.
    /// Every sum has an order fixed by the code and the block, never by the thread running it.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func accumulateEightRows<Scalar: TrainingScalar>(_ w: UnsafePointer<Scalar>, _ block: RowBlock<Scalar>, _ g: UnsafeMutablePointer<Scalar>) -> Double {
        MLPEightRows(mlp: self, w: w, block: block, g: g).run(features: widths[0], rowStride: block.xStride)
    }

    /// ``accumulateEightRows(_:_:_:)`` for rows laid out as `Layout` says.
    fileprivate func accumulateEightRows<Scalar: TrainingScalar, Layout: RowLayout>(_: Layout.Type, _ w: UnsafePointer<Scalar>, _ block: RowBlock<Scalar>,
                                                            _ g: UnsafeMutablePointer<Scalar>) -> Double {
        let block = Layout.view(block)
        let layers = widths.count - 1, d = Layout.features(d: widths[0]), k = outputsPerRow
        let offsets = layerOffsets
        // Scratch, in 8-lane vectors: each layer's activations and deltas, then the gradient
        // partials of every bias and of the weights of layers after the first.
        var activationAt = [Int](), deltaAt = [Int](), biasAt = [Int](), weightAt = [Int]()
        var size = 0
        for layer in 0..<layers {
            let fanIn = widths[layer], fanOut = widths[layer + 1]
            activationAt.append(size); size += fanOut
            deltaAt.append(size); size += fanOut
            biasAt.append(size); size += fanOut
            weightAt.append(size); size += layer == 0 ? 0 : fanOut * fanIn
        }
        let scratch = UnsafeMutablePointer<SIMD8<Scalar>>.allocate(capacity: size)
        defer { scratch.deallocate() }
        scratch.initialize(repeating: SIMD8(), count: size)
        let relu = activation == .relu
        var lossSum = SIMD8<Double>()
        var row = 0
        while row < block.count {
            let count = min(8, block.count - row)
            // 1 on the lanes that hold rows (each row's weight, with weights), 0 after.
            var valid = SIMD8<Scalar>()
            if block.weights != nil { valid = block.weights8(from: row, count: count) } else { for lane in 0..<count { valid[lane] = 1 } }
            let eight = EightRows(block, from: row, count: count, features: d)

            forward(w, eight, scratch, activationAt)

            // The loss, and its derivative with respect to the outputs (zero on missing lanes).
            let outputs = scratch + activationAt[layers - 1], delta = scratch + deltaAt[layers - 1]
            switch loss {
            case .mse, .l1, .huber:
                for o in 0..<k {
                    let t = eightTargets(block, from: row, count: count, index: o)
                    let (l, dz) = switch loss {
                    case .mse: SquaredErrorRows.evaluate(logits: outputs[o], targets: t)
                    case .l1: AbsoluteErrorRows.evaluate(logits: outputs[o], targets: t)
                    default: HuberRows.evaluate(logits: outputs[o], targets: t)
                    }
                    lossSum += l * widened(valid)
                    delta[o] = dz * valid
                }
            case .bceWithLogits:
                let t = eightTargets(block, from: row, count: count, index: 0)
                let (l, dz) = BinaryCrossEntropyRows.evaluate(logits: outputs[0], targets: t)
                lossSum += l * widened(valid)
                delta[0] = dz * valid
            case .crossEntropy:
                let target = eightTargets(block, from: row, count: count, index: 0)
                var peak = outputs[0]
                for o in 1..<k { peak = peak.replacing(with: outputs[o], where: outputs[o] .> peak) }
                var sum = SIMD8<Scalar>(), targetLogit = SIMD8<Scalar>()
                for o in 0..<k {
                    targetLogit.replace(with: outputs[o], where: target .== Scalar(o))
                    delta[o] = exponential(outputs[o] - peak)
                    sum += delta[o]
                }
                lossSum += (widened(peak - targetLogit) + widened(logarithm(sum))) * widened(valid)
                for o in 0..<k {
                    delta[o] = (delta[o] / sum - SIMD8<Scalar>().replacing(with: 1, where: target .== Scalar(o))) * valid
                }
            }

            // Backward, last layer first.
            for layer in stride(from: layers - 1, through: 0, by: -1) {
                let fanIn = widths[layer], fanOut = widths[layer + 1]
                let weight = w + offsets[layer].weight, delta = scratch + deltaAt[layer], biasPartial = scratch + biasAt[layer]
                for o in 0..<fanOut { biasPartial[o] += delta[o] }
                if layer == 0 {
                    for o in 0..<fanOut { eight.addGradient(delta[o], to: g + offsets[0].weight + o * fanIn) }
                    break
                }
                let input = scratch + activationAt[layer - 1], weightPartial = scratch + weightAt[layer]
                for o in 0..<fanOut {
                    for i in 0..<fanIn { weightPartial[o * fanIn + i] = weightPartial[o * fanIn + i].addingProduct(delta[o], input[i]) }
                }
                // δ of the layer below: Wᵀδ, times the nonlinearity's derivative at its output.
                let below = scratch + deltaAt[layer - 1]
                for i in 0..<fanIn {
                    var s = SIMD8<Scalar>()
                    for o in 0..<fanOut { s = s.addingProduct(SIMD8(repeating: weight[o * fanIn + i]), delta[o]) }
                    let a = input[i]
                    below[i] = relu ? s.replacing(with: 0, where: a .<= 0) : s * (1 - a * a)
                }
            }
            row += count
        }

        // The partials into the gradient, each summed over its lanes in a fixed order.
        for layer in 0..<layers {
            let fanIn = widths[layer], fanOut = widths[layer + 1]
            for o in 0..<fanOut { g[offsets[layer].bias + o] += scratch[biasAt[layer] + o].sum() }
            if layer > 0 {
                for j in 0..<(fanOut * fanIn) { g[offsets[layer].weight + j] += scratch[weightAt[layer] + j].sum() }
            }
        }
        return lossSum.sum()
    }
}

/// The MLP's kernel, to be specialized for a block's layout (the first layer's dot products and
/// gradient rows then unroll for the narrow contiguous widths).
private struct MLPEightRows<Scalar: TrainingScalar>: LayoutSpecialized {
    let mlp: MLP, w: UnsafePointer<Scalar>, block: RowBlock<Scalar>, g: UnsafeMutablePointer<Scalar>
    @inline(__always) func callAsFunction<Layout: RowLayout>(_ layout: Layout.Type) -> Double {
        mlp.accumulateEightRows(layout, w, block, g)
    }
}

/// The dispatch over layouts, for this file's kernels (see `LayoutSpecialized` for why each
/// file has its own copy).
fileprivate extension LayoutSpecialized {
    /// The kernel run with constants for the block's layout where it is one of the narrow contiguous
    /// layouts (rows of 8, 16, 24, 32, 48 or 64 columns), else as read from it.
    @inline(__always)
    func run(features: Int, rowStride: Int) -> Result {
        guard rowStride == features else { return self(AnyLayout.self) }
        switch features {
        case 8: return self(Contiguous8.self)
        case 16: return self(Contiguous16.self)
        case 24: return self(Contiguous24.self)
        case 32: return self(Contiguous32.self)
        case 48: return self(Contiguous48.self)
        case 64: return self(Contiguous64.self)
        default: return self(AnyLayout.self)
        }
    }
}
