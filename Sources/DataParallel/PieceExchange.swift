import Models

/// The exchange of a cluster step: each rank's tree pieces (``TreeSplit``) go to the other ranks,
/// the tree is finished, and every rank ends with the root (the one-process sum) in slot 0, the
/// loss sum, and the OR of every rank's flag word. Two ways, with the same bits:
///
/// - **gather** (below ``slicesFrom`` parameters): one all-gather of every piece, whole (its
///   gradient slot, loss and flags); every rank finishes the whole tree. One collective; each rank
///   receives every piece, so its traffic grows with the rank count: fine where latency rules.
/// - **slices** (large models): the parameters are cut into R cache-line-aligned slices; an
///   all-to-all gives rank q slice q of every piece (with every piece's loss and flags), rank q
///   finishes the tree on its slice, and an all-gather of the finished slices gives everyone the
///   root. Two collectives, and about a ring all-reduce's traffic, 2(R−1)/R of the gradient per rank.
///
/// Each element's sum runs the same tree either way, whichever rank computes it. Buffers are kept
/// between steps.
struct PieceExchange {
    /// Flag bit: a rank was asked to stop (a signal); every rank stops after this step.
    static let stopRequested: UInt64 = 1
    /// The parameter count from which the slices variant is used.
    static let slicesFrom = 1 << 16
    private var send: [UInt8] = []
    private var receive: [UInt8] = []

    /// Exchanges, finishes (`finish(elements)` runs the tree's top over those elements) and
    /// returns the loss sum and the combined flags.
    mutating func reduce<Scalar: TrainingScalar>(_ split: TreeSplit, cluster: Cluster, slots: SharedBuffer<Scalar>, stride: Int, count: Int,
                                                 losses: SharedBuffer<Double>, flags: UInt64,
                                                 finish: (Range<Int>) -> Void) -> (loss: Double, flags: UInt64) {
        guard let communicator = cluster.communicator, cluster.size > 1 else {
            finish(0..<count)
            return (split.finish(losses), flags)
        }
        if count >= Self.slicesFrom {
            return slices(split, communicator: communicator, slots: slots, stride: stride, count: count, losses: losses, flags: flags,
                          finish: finish)
        }
        let combined = gather(split, communicator: communicator, slots: slots, stride: stride, losses: losses, flags: flags)
        finish(0..<count)
        return (split.finish(losses), combined)
    }

    private mutating func reserve(_ sendBytes: Int, _ receiveBytes: Int) {
        if send.count < sendBytes { send = [UInt8](repeating: 0, count: sendBytes) }
        if receive.count < receiveBytes { receive = [UInt8](repeating: 0, count: receiveBytes) }
    }

    private mutating func gather<Scalar>(_ split: TreeSplit, communicator: any Communicator, slots: SharedBuffer<Scalar>, stride: Int,
                                         losses: SharedBuffer<Double>, flags: UInt64) -> UInt64 {
        let gradientBytes = stride * MemoryLayout<Scalar>.stride, record = gradientBytes + 16
        let counts = split.pieces.map { $0.count * record }
        let rank = communicator.rank
        let sendBytes = counts[rank], total = counts.reduce(0, +)
        reserve(sendBytes, total)
        send.withUnsafeMutableBytes { out in
            for (k, piece) in split.pieces[rank].enumerated() {
                pack(out.baseAddress! + k * record, slots.base + piece.lo * stride, gradientBytes, losses[piece.lo], flags)
            }
        }
        var combined = flags
        send.withUnsafeBytes { out in
            receive.withUnsafeMutableBytes { into in
                communicator.allGather(UnsafeRawBufferPointer(rebasing: out[..<sendBytes]), counts: counts,
                                       into: UnsafeMutableRawBufferPointer(rebasing: into[..<total]))
                var offset = 0
                for r in 0..<split.ranks {
                    for piece in split.pieces[r] {
                        defer { offset += record }
                        guard r != rank else { continue }
                        combined |= unpack(UnsafeRawPointer(into.baseAddress! + offset), slots.base + piece.lo * stride, gradientBytes,
                                           &losses[piece.lo])
                    }
                }
            }
        }
        return combined
    }

    private mutating func slices<Scalar>(_ split: TreeSplit, communicator: any Communicator, slots: SharedBuffer<Scalar>, stride: Int,
                                         count: Int, losses: SharedBuffer<Double>, flags: UInt64,
                                         finish: (Range<Int>) -> Void) -> (loss: Double, flags: UInt64) {
        let ranks = split.ranks, rank = communicator.rank, scalar = MemoryLayout<Scalar>.stride
        let width = ((count + ranks - 1) / ranks + 15) / 16 * 16
        func slice(_ q: Int) -> Range<Int> { min(q * width, count)..<min((q + 1) * width, count) }
        func record(_ q: Int) -> Int { slice(q).count * scalar + 16 }
        // counts[r][q]: the bytes rank r sends rank q, its pieces' slice q.
        let counts = (0..<ranks).map { r in (0..<ranks).map { q in split.pieces[r].count * record(q) } }
        let sendBytes = counts[rank].reduce(0, +), receiveBytes = counts.map { $0[rank] }.reduce(0, +)
        reserve(max(sendBytes, slice(rank).count * scalar), max(receiveBytes, count * scalar))
        send.withUnsafeMutableBytes { out in
            var offset = 0
            for q in 0..<ranks {
                for piece in split.pieces[rank] {
                    pack(out.baseAddress! + offset, slots.base + piece.lo * stride + slice(q).lowerBound, slice(q).count * scalar,
                         losses[piece.lo], flags)
                    offset += record(q)
                }
            }
        }
        var combined = flags
        let mine = slice(rank)
        send.withUnsafeBytes { out in
            receive.withUnsafeMutableBytes { into in
                communicator.allToAll(UnsafeRawBufferPointer(rebasing: out[..<sendBytes]), counts: counts,
                                      into: UnsafeMutableRawBufferPointer(rebasing: into[..<receiveBytes]))
                var offset = 0
                for r in 0..<ranks {
                    for piece in split.pieces[r] {
                        defer { offset += record(rank) }
                        guard r != rank else { continue }
                        combined |= unpack(UnsafeRawPointer(into.baseAddress! + offset), slots.base + piece.lo * stride + mine.lowerBound,
                                           mine.count * scalar, &losses[piece.lo])
                    }
                }
            }
        }
        finish(mine)
        // Every rank's finished slice, into slot 0 (slices are consecutive: the gather lands in place).
        send.withUnsafeMutableBytes { $0.baseAddress!.copyMemory(from: slots.base + mine.lowerBound, byteCount: mine.count * scalar) }
        send.withUnsafeBytes { out in
            communicator.allGather(UnsafeRawBufferPointer(rebasing: out[..<(mine.count * scalar)]), counts: (0..<ranks).map { slice($0).count * scalar },
                                   into: UnsafeMutableRawBufferPointer(start: slots.base, count: count * scalar))
        }
        return (split.finish(losses), combined)
    }
}

/// A piece's record: `bytes` of gradient, then its loss and the flag word.
private func pack<Scalar>(_ at: UnsafeMutableRawPointer, _ gradient: UnsafePointer<Scalar>, _ bytes: Int, _ loss: Double, _ flags: UInt64) {
    at.copyMemory(from: gradient, byteCount: bytes)
    at.storeBytes(of: loss, toByteOffset: bytes, as: Double.self)
    at.storeBytes(of: flags, toByteOffset: bytes + 8, as: UInt64.self)
}

/// Places a record's gradient at `gradient` and its loss in `loss`; returns its flags.
private func unpack<Scalar>(_ at: UnsafeRawPointer, _ gradient: UnsafeMutablePointer<Scalar>, _ bytes: Int, _ loss: inout Double) -> UInt64 {
    UnsafeMutableRawPointer(gradient).copyMemory(from: at, byteCount: bytes)
    loss = at.loadUnaligned(fromByteOffset: bytes, as: Double.self)
    return at.loadUnaligned(fromByteOffset: bytes + 8, as: UInt64.self)
}
