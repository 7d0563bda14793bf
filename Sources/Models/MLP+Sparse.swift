extension MLP: SparseModel {
    /// The first layer's units: its weight [hidden, d] is the one sparse rows select columns of.
    public var sparseWidth: Int { widths[1] }

    public func accumulateGradient<Scalar: TrainingScalar>(parameters w: UnsafePointer<Scalar>, rows block: SparseRowBlock<Scalar>,
                                                           gradient g: SparseGradient<Scalar>) -> Double {
        inPrecision(Scalar.self,
                    float: { sparseAccumulate(w.retyped(Float.self), block.retyped(Float.self), g.retyped(Float.self)) },
                    double: { sparseAccumulate(w.retyped(Double.self), block.retyped(Double.self), g.retyped(Double.self)) },
                    generic: { sparseAccumulate(w, block, g) })
    }

    public func predict<Scalar: TrainingScalar>(parameters w: UnsafePointer<Scalar>, rows block: SparseRowBlock<Scalar>,
                                                outputs: UnsafeMutablePointer<Scalar>) {
        inPrecision(Scalar.self,
                    float: { sparsePredict(w.retyped(Float.self), block.retyped(Float.self), outputs.retyped(Float.self)) },
                    double: { sparsePredict(w.retyped(Double.self), block.retyped(Double.self), outputs.retyped(Double.self)) },
                    generic: { sparsePredict(w, block, outputs) })
    }

    /// The first layer's pre-activations (without bias) of sparse rows `row`..<`row + count`
    /// into the 8-lane first-layer activations: for each row, Σ over its entries in order of
    /// value × the weight column the entry selects, an embedding bag's sum. Missing lanes are 0.
    @inline(__always)
    func sparseFirstLayer<Scalar: TrainingScalar>(_ w: UnsafePointer<Scalar>, _ block: SparseRowBlock<Scalar>, from row: Int, count: Int,
                                                  into out: UnsafeMutablePointer<SIMD8<Scalar>>, unit z: UnsafeMutablePointer<Scalar>) {
        let d = widths[0], h = widths[1]
        for o in 0..<h { out[o] = SIMD8() }
        for lane in 0..<count {
            for o in 0..<h { z[o] = 0 }
            for e in Int(block.offsets[row + lane])..<Int(block.offsets[row + lane + 1]) {
                let column = w + Int(block.columns[e]), value = block.values[e]
                for o in 0..<h { z[o] = z[o].addingProduct(column[o * d], value) }
            }
            for o in 0..<h { out[o][lane] = z[o] }
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func sparsePredict<Scalar: TrainingScalar>(_ w: UnsafePointer<Scalar>, _ block: SparseRowBlock<Scalar>, _ outputs: UnsafeMutablePointer<Scalar>) {
        let places = ScratchPlaces(self), k = outputsPerRow, last = places.activation[widths.count - 2]
        let scratch = UnsafeMutablePointer<SIMD8<Scalar>>.allocate(capacity: places.size)
        defer { scratch.deallocate() }
        scratch.initialize(repeating: SIMD8(), count: places.size)
        withUnsafeTemporaryAllocation(of: Scalar.self, capacity: widths[1]) { unit in
            var row = 0
            while row < block.count {
                let count = min(8, block.count - row)
                sparseFirstLayer(w, block, from: row, count: count, into: scratch + places.activation[0], unit: unit.baseAddress!)
                forwardFromFirst(w, scratch, places.activation)
                for lane in 0..<count { for o in 0..<k { outputs[(row + lane) * k + o] = scratch[last + o][lane] } }
                row += count
            }
        }
    }

    /// Forward, loss and backward over sparse rows, eight at a time: the first layer as
    /// ``sparseFirstLayer(_:_:from:count:into:unit:)``, every later layer, the loss and the
    /// backward pass down to the first layer's deltas as the dense kernel does them (on 8-lane
    /// vectors over the rows); then the first weight's gradient scattered into the compact
    /// columns the rows' entries have (δ × value for each unit, row after row, in entry order).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func sparseAccumulate<Scalar: TrainingScalar>(_ w: UnsafePointer<Scalar>, _ block: SparseRowBlock<Scalar>, _ g: SparseGradient<Scalar>) -> Double {
        let places = ScratchPlaces(self), h = widths[1], slots = block.slots!, first = Int(block.offsets[0])
        let scratch = UnsafeMutablePointer<SIMD8<Scalar>>.allocate(capacity: places.size)
        defer { scratch.deallocate() }
        scratch.initialize(repeating: SIMD8(), count: places.size)
        var lossSum = SIMD8<Double>()
        withUnsafeTemporaryAllocation(of: Scalar.self, capacity: h) { unit in
            var row = 0
            while row < block.count {
                let count = min(8, block.count - row)
                var valid = SIMD8<Scalar>()
                for lane in 0..<count { valid[lane] = block.weights.map { $0[row + lane] } ?? 1 }
                sparseFirstLayer(w, block, from: row, count: count, into: scratch + places.activation[0], unit: unit.baseAddress!)
                forwardFromFirst(w, scratch, places.activation)
                lossSum += outputLoss(scratch, places, valid: valid) { index in
                    var t = SIMD8<Scalar>()
                    for lane in 0..<8 { t[lane] = block.y[(row + min(lane, count - 1)) * block.yStride + index] }
                    return t
                }
                backwardAboveFirst(w, scratch, places)
                let delta = scratch + places.delta[0]
                for o in 0..<h { scratch[places.bias[0] + o] += delta[o] }
                for lane in 0..<count {
                    for o in 0..<h { unit[o] = delta[o][lane] }
                    for e in Int(block.offsets[row + lane])..<Int(block.offsets[row + lane + 1]) {
                        let column = g.columns + Int(slots[e - first]) * h, value = block.values[e]
                        for o in 0..<h { column[o] = column[o].addingProduct(unit[o], value) }
                    }
                }
                row += count
            }
        }
        addPartials(scratch, places, to: g.dense, from: h * widths[0])
        return lossSum.sum()
    }
}
