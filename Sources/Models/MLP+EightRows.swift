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
        let fanIn = widths[0], weight = w + layerOffsets[0].weight
        let out = scratch + activationAt[0]
        for o in 0..<widths[1] { out[o] = eight.dots(weight + o * fanIn) }
        forwardFromFirst(w, scratch, activationAt)
    }

    /// The forward pass from the first layer's pre-activations (without its bias, in
    /// `scratch[activationAt[0]...]`) on: its bias and nonlinearity, then every later layer.
    @_transparent
    func forwardFromFirst<Scalar: TrainingScalar>(_ w: UnsafePointer<Scalar>, _ scratch: UnsafeMutablePointer<SIMD8<Scalar>>, _ activationAt: [Int]) {
        let layers = widths.count - 1, offsets = layerOffsets, relu = activation == .relu
        for layer in 0..<layers {
            let fanIn = widths[layer], fanOut = widths[layer + 1]
            let weight = w + offsets[layer].weight, bias = w + offsets[layer].bias
            let out = scratch + activationAt[layer], input = scratch + (layer == 0 ? 0 : activationAt[layer - 1])
            for o in 0..<fanOut {
                var z: SIMD8<Scalar>
                if layer == 0 {
                    z = out[o]
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
        let d = Layout.features(d: widths[0])
        let offsets = layerOffsets
        let places = ScratchPlaces(self)
        let activationAt = places.activation, deltaAt = places.delta, biasAt = places.bias
        let scratch = UnsafeMutablePointer<SIMD8<Scalar>>.allocate(capacity: places.size)
        defer { scratch.deallocate() }
        scratch.initialize(repeating: SIMD8(), count: places.size)
        var lossSum = SIMD8<Double>()
        var row = 0
        while row < block.count {
            let count = min(8, block.count - row)
            // 1 on the lanes that hold rows (each row's weight, with weights), 0 after.
            var valid = SIMD8<Scalar>()
            if block.weights != nil { valid = block.weights8(from: row, count: count) } else { for lane in 0..<count { valid[lane] = 1 } }
            let eight = EightRows(block, from: row, count: count, features: d)

            forward(w, eight, scratch, activationAt)

            lossSum += outputLoss(scratch, places, valid: valid) { eightTargets(block, from: row, count: count, index: $0) }
            backwardAboveFirst(w, scratch, places)
            for o in 0..<widths[1] {
                scratch[biasAt[0] + o] += scratch[deltaAt[0] + o]
                eight.addGradient(scratch[deltaAt[0] + o], to: g + offsets[0].weight + o * widths[0])
            }
            row += count
        }

        addPartials(scratch, places, to: g)
        return lossSum.sum()
    }

    /// Where the kernels keep, in 8-lane vectors, each layer's activations and deltas, then the
    /// gradient partials of every bias and of the weights of layers after the first.
    struct ScratchPlaces {
        var activation: [Int] = [], delta: [Int] = [], bias: [Int] = [], weight: [Int] = []
        var size = 0

        init(_ mlp: MLP) {
            for layer in 0..<(mlp.widths.count - 1) {
                let fanIn = mlp.widths[layer], fanOut = mlp.widths[layer + 1]
                activation.append(size); size += fanOut
                delta.append(size); size += fanOut
                bias.append(size); size += fanOut
                weight.append(size); size += layer == 0 ? 0 : fanOut * fanIn
            }
        }
    }

    /// The loss of eight rows' outputs (weighted by `valid`, 0 on missing lanes), and its
    /// derivative with respect to the outputs into the last layer's deltas.
    @inline(__always)
    func outputLoss<Scalar: TrainingScalar>(_ scratch: UnsafeMutablePointer<SIMD8<Scalar>>, _ places: ScratchPlaces, valid: SIMD8<Scalar>,
                                            targets: (Int) -> SIMD8<Scalar>) -> SIMD8<Double> {
        let layers = widths.count - 1, k = outputsPerRow
        let outputs = scratch + places.activation[layers - 1], delta = scratch + places.delta[layers - 1]
        var lossSum = SIMD8<Double>()
        switch loss {
        case .mse, .l1, .huber:
            for o in 0..<k {
                let t = targets(o)
                let (l, dz) = switch loss {
                case .mse: SquaredErrorRows.evaluate(logits: outputs[o], targets: t)
                case .l1: AbsoluteErrorRows.evaluate(logits: outputs[o], targets: t)
                default: HuberRows.evaluate(logits: outputs[o], targets: t)
                }
                lossSum += l * widened(valid)
                delta[o] = dz * valid
            }
        case .bceWithLogits:
            let (l, dz) = BinaryCrossEntropyRows.evaluate(logits: outputs[0], targets: targets(0))
            lossSum += l * widened(valid)
            delta[0] = dz * valid
        case .crossEntropy:
            let target = targets(0)
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
        return lossSum
    }

    /// Backward from the last layer's deltas down to the first layer's: each layer above the
    /// first adds its bias and weight partials and passes Wᵀδ, times the nonlinearity's
    /// derivative, to the layer below. The first layer's own partials are the caller's (its rows
    /// are dense or sparse).
    @inline(__always)
    func backwardAboveFirst<Scalar: TrainingScalar>(_ w: UnsafePointer<Scalar>, _ scratch: UnsafeMutablePointer<SIMD8<Scalar>>, _ places: ScratchPlaces) {
        let layers = widths.count - 1, offsets = layerOffsets, relu = activation == .relu
        for layer in stride(from: layers - 1, through: 1, by: -1) {
            let fanIn = widths[layer], fanOut = widths[layer + 1]
            let weight = w + offsets[layer].weight, delta = scratch + places.delta[layer], biasPartial = scratch + places.bias[layer]
            for o in 0..<fanOut { biasPartial[o] += delta[o] }
            let input = scratch + places.activation[layer - 1], weightPartial = scratch + places.weight[layer]
            for o in 0..<fanOut {
                for i in 0..<fanIn { weightPartial[o * fanIn + i] = weightPartial[o * fanIn + i].addingProduct(delta[o], input[i]) }
            }
            let below = scratch + places.delta[layer - 1]
            for i in 0..<fanIn {
                var s = SIMD8<Scalar>()
                for o in 0..<fanOut { s = s.addingProduct(SIMD8(repeating: weight[o * fanIn + i]), delta[o]) }
                let a = input[i]
                below[i] = relu ? s.replacing(with: 0, where: a .<= 0) : s * (1 - a * a)
            }
        }
    }

    /// The partials into the gradient, each summed over its lanes in a fixed order: every bias,
    /// and the weights of the layers after the first. `g` is addressed as the flat parameters
    /// from `first` on (0: all of them; a sparse gradient's dense part starts after the first weight).
    @inline(__always)
    func addPartials<Scalar: TrainingScalar>(_ scratch: UnsafeMutablePointer<SIMD8<Scalar>>, _ places: ScratchPlaces,
                                             to g: UnsafeMutablePointer<Scalar>, from first: Int = 0) {
        let offsets = layerOffsets
        for layer in 0..<(widths.count - 1) {
            let fanIn = widths[layer], fanOut = widths[layer + 1]
            for o in 0..<fanOut { g[offsets[layer].bias - first + o] += scratch[places.bias[layer] + o].sum() }
            if layer > 0 {
                for j in 0..<(fanOut * fanIn) { g[offsets[layer].weight - first + j] += scratch[places.weight[layer] + j].sum() }
            }
        }
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
