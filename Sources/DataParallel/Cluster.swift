import Models

/// The processes of one fit: one process (the default), or R ranks (Open MPI's, through the
/// `MPICluster` module, or any other transport that can gather bytes), each with pinned workers
/// of its own.
///
/// A fit on a cluster cuts every minibatch into the very chunks one process would (their size
/// depends on the global minibatch only); rank r computes the contiguous run of chunks
/// `r·m/R ..< (r+1)·m/R`, its workers sharing them as they do in one process. The partials are
/// summed by the same fixed pairwise tree over the chunk index: each rank sums the
/// largest aligned subtrees that tile its run, one gather gives every rank every rank's subtree
/// sums, and every rank finishes the top of the tree itself. So the gradient on every rank is
/// bitwise the one-process gradient, every rank takes the same optimizer step, and the weights
/// after training are the same for any number of ranks and workers. Metrics (validation, early
/// stopping, plateau schedules) are gathered the same way, and a stop request (a signal on any
/// rank) travels in the step's gather, so every rank stops at the same minibatch.
///
/// (A plain `MPI_Allreduce` would not do: MPI lets it reorder the sums, and Open MPI's result
/// changes with the rank count and its algorithm.)
public struct Cluster: Sendable, Equatable {
    /// The transport; nil for one process.
    public let communicator: (any Communicator)?

    /// One process: nothing to gather.
    public static var single: Cluster { Cluster(communicator: nil) }

    /// The ranks that `communicator` connects.
    public init(_ communicator: any Communicator) {
        self.communicator = communicator
    }

    private init(communicator: (any Communicator)?) {
        self.communicator = communicator
    }

    /// From this many parameters up, a step's exchange is by slices (an all-to-all of the
    /// pieces' slices, each rank finishing the tree on its slice, an all-gather of the slices:
    /// about a ring all-reduce's traffic); below, one all-gather of the pieces. Same bits.
    public static let slicedExchangeFrom = PieceExchange.slicesFrom

    /// This process's rank, from 0.
    public var rank: Int { communicator?.rank ?? 0 }
    /// How many processes take part.
    public var size: Int { communicator?.size ?? 1 }

    public static func == (a: Cluster, b: Cluster) -> Bool {
        a.communicator.map(ObjectIdentifier.init) == b.communicator.map(ObjectIdentifier.init)
    }
}

/// What a cluster's transport does: one collective, an all-gather of bytes in rank order.
///
/// Every rank calls it the same number of times, in the same order (the fit does, since every
/// decision it takes comes from gathered values). A transport that fails must not return: it
/// ends the job (Open MPI's `MPI_Abort`), since the ranks can no longer agree.
public protocol Communicator: AnyObject, Sendable {
    /// This process's rank, 0 ..< size.
    var rank: Int { get }
    /// How many ranks there are.
    var size: Int { get }
    /// Every rank's `send` bytes, concatenated in rank order into `receive`. Rank r sends
    /// `counts[r]` bytes; every rank passes the same `counts`, and `receive` holds their sum.
    func allGather(_ send: UnsafeRawBufferPointer, counts: [Int], into receive: UnsafeMutableRawBufferPointer)
    /// Personalized exchange: `counts[r][q]` bytes go from rank r to rank q (every rank passes the
    /// same matrix). `send` holds this rank's bytes for rank 0, 1, ... in turn; `receive` gets
    /// those from rank 0, 1, ... in turn. A default built on ``allGather(_:counts:into:)`` moves
    /// every rank's bytes to every rank; `MPI_Alltoallv` moves only what each needs.
    func allToAll(_ send: UnsafeRawBufferPointer, counts: [[Int]], into receive: UnsafeMutableRawBufferPointer)
}

extension Communicator {
    public func allToAll(_ send: UnsafeRawBufferPointer, counts: [[Int]], into receive: UnsafeMutableRawBufferPointer) {
        let totals = counts.map { $0.reduce(0, +) }
        let all = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, totals.reduce(0, +)), alignment: 64)
        defer { all.deallocate() }
        allGather(send, counts: totals, into: UnsafeMutableRawBufferPointer(rebasing: all[..<totals.reduce(0, +)]))
        var start = 0, into = 0
        for r in 0..<size {
            let offset = start + counts[r][..<rank].reduce(0, +), bytes = counts[r][rank]
            if bytes > 0 { (receive.baseAddress! + into).copyMemory(from: all.baseAddress! + offset, byteCount: bytes) }
            into += bytes
            start += totals[r]
        }
    }
}

extension Cluster {
    /// Every rank's `values`, in rank order (each rank may send a different number of them; the
    /// counts are gathered first when `counts` is not given).
    func gather<T: BitwiseCopyable>(_ values: [T], counts: [Int]? = nil) -> [T] {
        guard let communicator, size > 1 else { return values }
        let counts = counts ?? gather([values.count], counts: Array(repeating: 1, count: size))
        // Every rank knows every count, so every rank skips an empty gather alike.
        guard counts.contains(where: { $0 > 0 }) else { return [] }
        return [T](unsafeUninitializedCapacity: counts.reduce(0, +)) { buffer, initialized in
            values.withUnsafeBytes { send in
                communicator.allGather(send, counts: counts.map { $0 * MemoryLayout<T>.stride }, into: UnsafeMutableRawBufferPointer(buffer))
            }
            initialized = buffer.count
        }
    }

    /// Runs `body` on every rank and agrees on the outcome: when it threw on some rank, the
    /// lowest such rank rethrows its error and the others throw `peerFailed(thatRank)`, so that
    /// one message reaches the user and every rank stops at the same point. Every rank must call it.
    public func agree<T, E: Error>(_ body: () throws(E) -> T, peerFailed: (Int) -> E) throws(E) -> T {
        var outcome: Result<T, E>
        do throws(E) { outcome = .success(try body()) } catch { outcome = .failure(error) }
        guard size > 1 else { return try outcome.get() }
        let failed: Int32 = if case .failure = outcome { 1 } else { 0 }
        let statuses = gather([failed], counts: Array(repeating: 1, count: size))
        if let first = statuses.firstIndex(of: 1) {
            if case .failure(let error) = outcome, first == rank { throw error }
            throw peerFailed(first)
        }
        return try outcome.get()
    }

    /// Every rank's `word`, in rank order (what a caller agrees on beyond ``agree(_:peerFailed:)``:
    /// e.g. whether every rank met the same error). Every rank must call it.
    public func words(_ word: UInt64) -> [UInt64] { gather([word], counts: Array(repeating: 1, count: size)) }

    /// ``agree(_:peerFailed:)`` for a fit's checks.
    func agree<T>(_ body: () throws(TrainingError) -> T) throws(TrainingError) -> T {
        try agree(body) { .peerFailed(rank: $0) }
    }

    /// Whether every rank holds the same `values` (a hash of their bits gathered): replicas that
    /// drifted apart (different binaries or C libraries on different hosts) are caught here.
    func replicasAgree<Scalar: TrainingScalar>(_ values: [Scalar]) -> Bool {
        guard size > 1 else { return true }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a over the values' bits, a word at a time
        values.withUnsafeBytes { bytes in
            let words = bytes.count / 8
            for i in 0..<words { hash = (hash ^ bytes.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)) &* 0x100_0000_01b3 }
            for byte in bytes[(words * 8)...] { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        }
        return Set(gather([hash], counts: Array(repeating: 1, count: size))).count == 1
    }
}

/// A node of the fixed pairwise tree over chunk indices: chunks `lo ..< lo + size`, with `size` a
/// power of two and `lo` a multiple of it. ``reduceTree(_:stride:count:elements:)`` over those
/// chunks alone (count `size`) gives exactly the node's bits in the whole tree.
struct TreeNode: Hashable, Sendable {
    let lo: Int
    let size: Int
}

/// How R ranks split a minibatch's m chunks, and how the tree is finished from their pieces.
///
/// Rank r computes chunks `r·m/R ..< (r+1)·m/R` (the worker split of ``ShardPlan``, applied to
/// ranks) and cuts them into the largest aligned tree nodes that tile them, left to right: at
/// most about 2·log₂(m/R) of them, one when m/R is a power of two. Everything here is a function
/// of (m, R), so every rank knows every rank's pieces without asking.
///
/// `finish` then runs ``reduceTree(_:stride:count:elements:)``'s loop with each piece's sum in the
/// slot of its first chunk, skipping every addition inside a piece (already done by its rank):
/// a node of the tree is read only at the level where it is whole, and a piece's first slot
/// holds exactly that node, so the root's bits are the one-process tree's.
struct TreeSplit: Sendable {
    let chunkCount: Int
    let ranks: Int
    /// Each rank's pieces, left to right.
    let pieces: [[TreeNode]]
    /// For each chunk, the first chunk of the piece holding it.
    private let pieceStart: [Int]

    init(chunkCount m: Int, ranks: Int) {
        chunkCount = m
        self.ranks = ranks
        pieces = (0..<ranks).map { r in TreeSplit.nodes(tiling: TreeSplit.chunks(rank: r, of: ranks, chunkCount: m)) }
        var start = [Int](repeating: 0, count: m)
        for node in pieces.joined() {
            for c in node.lo..<(node.lo + node.size) { start[c] = node.lo }
        }
        pieceStart = start
    }

    /// The chunks rank r computes.
    func chunks(rank r: Int) -> Range<Int> { TreeSplit.chunks(rank: r, of: ranks, chunkCount: chunkCount) }

    /// The chunks rank r of `ranks` computes, of `chunkCount`.
    static func chunks(rank r: Int, of ranks: Int, chunkCount m: Int) -> Range<Int> { (r * m / ranks)..<((r + 1) * m / ranks) }

    /// The largest aligned tree nodes that tile `range`, left to right.
    static func nodes(tiling range: Range<Int>) -> [TreeNode] {
        var result: [TreeNode] = [], lo = range.lowerBound
        while lo < range.upperBound {
            var size = 1
            while lo % (size * 2) == 0 && lo + size * 2 <= range.upperBound { size *= 2 }
            result.append(TreeNode(lo: lo, size: size))
            lo += size
        }
        return result
    }

    /// Whether the tree node over chunks lo ..< lo + size lies within one piece.
    private func isWithinPiece(lo: Int, size: Int) -> Bool {
        let last = lo + size - 1
        return last < chunkCount && pieceStart[lo] == pieceStart[last]
    }

    /// Finishes the tree over `elements` of the slots (`stride` apart), each piece's sum in the
    /// slot of its first chunk; the root ends in slot 0.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func finish<Scalar: TrainingScalar>(_ slots: SharedBuffer<Scalar>, stride: Int, elements: Range<Int>) {
        var step = 1
        while step < chunkCount {
            var i = 0
            while i + step < chunkCount {
                if !isWithinPiece(lo: i, size: 2 * step) {
                    let destination = slots.base + i * stride, source = slots.base + (i + step) * stride
                    for j in elements { destination[j] += source[j] }
                }
                i += 2 * step
            }
            step *= 2
        }
    }

    /// The same over `Double` partials, one per chunk; returns the root.
    func finish(_ values: SharedBuffer<Double>) -> Double {
        var step = 1
        while step < chunkCount {
            var i = 0
            while i + step < chunkCount {
                if !isWithinPiece(lo: i, size: 2 * step) { values[i] += values[i + step] }
                i += 2 * step
            }
            step *= 2
        }
        return chunkCount > 0 ? values[0] : 0
    }
}

extension Cluster {
    /// Times the reduction a fit's step does on this cluster, for `parameters` values over
    /// `chunks` chunk partials: each rank sums its tree pieces, one gather, every rank finishes
    /// the tree. With `baseline`, also the plain way to the same (unordered) sum: each rank sums
    /// its chunks, then `baseline` combines the ranks' sums in place (an `MPI_Allreduce`). Every
    /// rank must call it alike. For benchmarks (`optim scale --reduction`).
    ///
    /// - Returns: seconds per reduction, `repeats` of them, for the tree and for the baseline
    ///   (empty without one).
    public func timeReduction(parameters: Int, chunks: Int, repeats: Int,
                              baseline: ((UnsafeMutableBufferPointer<Float>) -> Void)? = nil) -> (tree: [Double], baseline: [Double]) {
        let stride = (parameters + 15) / 16 * 16, chunks = max(1, chunks)
        let split = TreeSplit(chunkCount: chunks, ranks: size)
        let slots = SharedBuffer<Float>.allocate(count: chunks * stride, repeating: 0)
        let losses = SharedBuffer<Double>.allocate(count: chunks, repeating: 0)
        defer { slots.deallocate(); losses.deallocate() }
        let own = split.chunks(rank: rank)
        func refill() {
            for c in own {
                for j in 0..<parameters { slots[c * stride + j] = Float(c &+ j) * 0x1p-10 }
                losses[c] = Double(c)
            }
            _ = gather([0 as UInt8], counts: Array(repeating: 1, count: size))  // every rank starts together
        }
        var exchange = PieceExchange()
        var tree: [Double] = [], plain: [Double] = []
        for _ in 0..<repeats {
            refill()
            let start = ContinuousClock.now
            for piece in split.pieces[rank] {
                reduceTree(SharedBuffer(slots.base + piece.lo * stride, count: piece.size * stride), stride: stride, count: piece.size,
                           elements: 0..<parameters)
                losses[piece.lo] = reduceTree(SharedBuffer(losses.base + piece.lo, count: piece.size), count: piece.size)
            }
            _ = exchange.reduce(split, cluster: self, slots: slots, stride: stride, count: parameters, losses: losses, flags: 0) {
                split.finish(slots, stride: stride, elements: $0)
            }
            tree.append(seconds(ContinuousClock.now - start))
            guard let baseline, !own.isEmpty else { continue }
            refill()
            let plainStart = ContinuousClock.now
            let first = SharedBuffer(slots.base + own.lowerBound * stride, count: own.count * stride)
            reduceTree(first, stride: stride, count: own.count, elements: 0..<parameters)
            baseline(UnsafeMutableBufferPointer(start: first.base, count: parameters))
            plain.append(seconds(ContinuousClock.now - plainStart))
        }
        return (tree, plain)
    }
}
