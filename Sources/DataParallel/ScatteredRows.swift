import Datasets
import Models

/// A data set read by the ranks of a cluster, each rank parsing its own part of the file: every
/// rank holds every row's target (and weight), and the features of its part's rows only, a
/// contiguous run in file order (`rank`'s of ``offsets``). The rest of ``dataset``'s feature rows
/// are unwritten pages (zero) until ``fetch(_:)`` or ``inPlace()`` bring the rows a rank needs
/// from the ranks that hold them.
///
/// The rows are those of the whole file in the same order, so the split, the shuffle, the
/// standardization and every minibatch are the ones one process makes of it, and so are the
/// weights after training. The rows a rank needs (its share of every minibatch's chunks, of the
/// standardization's chunks) are scattered over the file, since a minibatch holds rows from
/// everywhere; they travel once, by all-to-all exchanges.
public final class ScatteredRows<Scalar: TrainingScalar> {
    public let cluster: Cluster
    /// Rank r holds the features of rows `offsets[r] ..< offsets[r + 1]`.
    public let offsets: [Int]
    /// Every row's targets; features of the rows held (and of the rows fetched in place).
    public let dataset: Dataset<Scalar>

    /// The rows this rank holds.
    public var held: Range<Int> { offsets[cluster.rank]..<offsets[cluster.rank + 1] }

    init(cluster: Cluster, offsets: [Int], dataset: Dataset<Scalar>) {
        self.cluster = cluster
        self.offsets = offsets
        self.dataset = dataset
    }

    /// The table that every rank's `part` of `path` makes (what `CSV.read(path:options:as:)`
    /// gives one process: the same rows, targets, class names, weights, ids and errors) and the
    /// rows as this rank holds them. Every rank calls it, with its own part (part `rank` of
    /// `size`).
    public static func merge(_ part: CSV.Part<Scalar>, path: String, cluster: Cluster) throws(DataFileError)
        -> (table: CSV.Table<Scalar>, rows: ScatteredRows<Scalar>)
    {
        let ranks = cluster.size, d = part.features
        let counts = cluster.gather([part.rows, part.skippedRows, part.targetTexts == nil ? 0 : 1], counts: Array(repeating: 3, count: ranks))
        let rowCounts = stride(from: 0, to: counts.count, by: 3).map { counts[$0] }
        var offsets = [0]
        for count in rowCounts { offsets.append(offsets.last! + count) }
        let n = offsets.last!, skipped = stride(from: 1, to: counts.count, by: 3).reduce(0) { $0 + counts[$1] }
        // Text targets anywhere: every rank's targets as text, the names of all, sorted (numbers
        // read as text where other rows are, as one process writes them back).
        var labels: [String]?
        var local = (0..<part.rows).map { Double(part.y.base[$0]) }
        if stride(from: 2, to: counts.count, by: 3).contains(where: { counts[$0] == 1 }) {
            let texts = part.targetTexts ?? local.map { TargetSummary.name(Float($0)) }
            let names = gatherText(Array(Set(texts)).sorted(), cluster: cluster)
            let classes = Array(Set(names)).sorted()
            let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, Double($0)) })
            local = texts.map { index[$0]! }
            labels = classes
        }
        let y = ScalarStorage<Scalar>(count: n)
        for (i, value) in cluster.gather(local, counts: rowCounts).enumerated() { y.base[i] = Scalar(value) }
        let weights = part.weights.map { values in cluster.gather(values.map { Double($0) }, counts: rowCounts).map { Scalar($0) } }
        let ids = part.ids.map { gatherText($0, cluster: cluster) }
        let cells = n.multipliedReportingOverflow(by: d)
        guard !cells.overflow, !cells.partialValue.multipliedReportingOverflow(by: MemoryLayout<Scalar>.stride).overflow else { throw DataFileError(path, nil, "\(n) rows × \(d) features is more values than this machine addresses") }
        // Every row's place, written only for this rank's rows: the others stay untouched pages.
        let x = ScalarStorage<Scalar>(count: cells.partialValue, hugePages: false)
        (x.base + offsets[cluster.rank] * d).update(from: part.x.base, count: part.rows * d)
        var whole = part
        (whole.x, whole.y, whole.rows, whole.skippedRows, whole.targetTexts) = (x, y, n, skipped, nil)
        (whole.ids, whole.weights) = (ids, weights)
        let table = try whole.table(path: path, labels: labels)
        return (table, ScatteredRows(cluster: cluster, offsets: offsets, dataset: table.data))
    }

    /// Every rank's `lines` (no line holds a newline), in rank order.
    private static func gatherText(_ lines: [String], cluster: Cluster) -> [String] {
        let bytes = Array(lines.joined(separator: "\n").utf8)
        let sizes = cluster.gather([lines.count, bytes.count], counts: Array(repeating: 2, count: cluster.size))
        let all = cluster.gather(bytes, counts: stride(from: 1, to: sizes.count, by: 2).map { sizes[$0] })
        // Each rank's bytes split at their newlines: no lines and one empty line both send no
        // bytes, told apart by the count.
        var result: [String] = [], start = 0
        for rank in 0..<cluster.size {
            let count = sizes[2 * rank], size = sizes[2 * rank + 1]
            defer { start += size }
            guard count > 0 else { continue }
            result += all[start..<(start + size)].split(separator: 0x0A, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        }
        return result
    }

    /// The rank holding `row`.
    func owner(of row: Int) -> Int {
        var low = 0, high = offsets.count - 2
        while low < high {
            let middle = (low + high + 1) / 2
            if offsets[middle] <= row { low = middle } else { high = middle - 1 }
        }
        return low
    }

    /// The features of `rows` (any rows, in any order), in that order: those this rank holds
    /// where they are, the others brought from their ranks. Every rank calls it at the same
    /// point, each with the rows it needs.
    public func fetch(_ rows: [Int]) -> FetchedRows<Scalar> { fetch(rows, roundBytes: 1 << 30) }

    /// `roundBytes`: the most bytes a rank sends or receives in one exchange (tests make it small).
    func fetch(_ rows: [Int], roundBytes: Int) -> FetchedRows<Scalar> {
        let ranks = cluster.size, me = cluster.rank, d = dataset.features
        guard let communicator = cluster.communicator, ranks > 1 else {
            return FetchedRows(source: dataset.x, received: ScalarStorage(count: 1), locations: rows, features: d)
        }
        var requests = [[Int]](repeating: [], count: ranks)
        var locations = [Int](repeating: 0, count: rows.count)
        var remote: [(index: Int, owner: Int, place: Int)] = []
        for (i, row) in rows.enumerated() {
            let q = owner(of: row)
            if q == me {
                locations[i] = row
            } else {
                remote.append((i, q, requests[q].count))
                requests[q].append(row)
            }
        }
        // wanted[r][q]: rows rank r asks of rank q.
        let flat = cluster.gather(requests.map(\.count), counts: Array(repeating: ranks, count: ranks))
        let wanted = (0..<ranks).map { Array(flat[($0 * ranks)..<(($0 + 1) * ranks)]) }
        var firstOf = [Int](repeating: 0, count: ranks)
        for q in 1..<max(ranks, 1) { firstOf[q] = firstOf[q - 1] + requests[q - 1].count }
        for entry in remote { locations[entry.index] = -(firstOf[entry.owner] + entry.place) - 1 }
        let received = ScalarStorage<Scalar>(count: max(remote.count * d, 1), hugePages: false)
        let rowBytes = d * MemoryLayout<Scalar>.stride
        // In rounds of at most about `roundBytes` per rank each way (MPI's counts are 32-bit);
        // every rank derives the same rounds from `wanted`.
        let most = (0..<ranks).map { r in max(wanted[r].reduce(0, +), (0..<ranks).reduce(0) { $0 + wanted[$1][r] }) }.max() ?? 0
        let rounds = max(1, (most * max(rowBytes, 8) + roundBytes - 1) / roundBytes)
        func share(_ count: Int, _ round: Int) -> Range<Int> { (count * round / rounds)..<(count * (round + 1) / rounds) }
        for round in 0..<rounds {
            // The requests: rank r's row numbers for rank q.
            var send: [Int64] = []
            for q in 0..<ranks { send += requests[q][share(requests[q].count, round)].map { Int64($0) } }
            let requestBytes = (0..<ranks).map { r in (0..<ranks).map { q in share(wanted[r][q], round).count * 8 } }
            let asked = [Int64](unsafeUninitializedCapacity: max(1, (0..<ranks).reduce(0) { $0 + share(wanted[$1][me], round).count })) { buffer, count in
                send.withUnsafeBytes { communicator.allToAll($0, counts: requestBytes, into: UnsafeMutableRawBufferPointer(buffer)) }
                count = (0..<ranks).reduce(0) { $0 + share(wanted[$1][me], round).count }
            }
            // The answers: those rows' features, from rank q to rank r.
            let answer = ScalarStorage<Scalar>(count: max(asked.count * d, 1), hugePages: false)
            for (i, row) in asked.enumerated() { (answer.base + i * d).update(from: dataset.x.base + Int(row) * d, count: d) }
            let answerBytes = (0..<ranks).map { q in (0..<ranks).map { r in share(wanted[r][q], round).count * rowBytes } }
            // This round's rows from rank q land after q's earlier rounds, at q's place.
            let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, (0..<ranks).reduce(0) { $0 + answerBytes[$1][me] }), alignment: 64)
            defer { scratch.deallocate() }
            communicator.allToAll(UnsafeRawBufferPointer(start: answer.base, count: asked.count * rowBytes), counts: answerBytes, into: scratch)
            var from = 0
            for q in 0..<ranks where q != me {
                let part = share(requests[q].count, round)
                let bytes = part.count * rowBytes
                if bytes > 0 {
                    UnsafeMutableRawPointer(received.base + (firstOf[q] + part.lowerBound) * d).copyMemory(from: scratch.baseAddress! + from, byteCount: bytes)
                }
                from += bytes
            }
        }
        return FetchedRows(source: dataset.x, received: received, locations: locations, features: d)
    }

    /// Pending features that write, in place, the rows a rank reads of the data set as it is
    /// (not copied: unshuffled, unstandardized): ``PendingFeatures/fill(rows:)`` fetches those
    /// it does not hold. Every rank fills at the same point.
    public func inPlace() -> PendingFeatures<Scalar> {
        PendingFeatures(dataset: dataset) { [self] ranges in
            let held = self.held
            let rows = ranges.flatMap { $0 }.filter { !held.contains($0) }
            let fetched = fetch(rows)
            let d = dataset.features
            for (i, row) in rows.enumerated() { (dataset.x.base + row * d).update(from: fetched.row(i), count: d) }
        }
    }
}

/// Rows brought together by ``ScatteredRows/fetch(_:)``: row i of the request at ``row(_:)``.
public final class FetchedRows<Scalar: TrainingScalar> {
    private let source: ScalarStorage<Scalar>
    private let received: ScalarStorage<Scalar>
    /// ≥ 0: a row of `source`; < 0: −1 − the place in `received`.
    private let locations: SharedBuffer<Int>
    private let features: Int

    init(source: ScalarStorage<Scalar>, received: ScalarStorage<Scalar>, locations: [Int], features: Int) {
        self.source = source
        self.received = received
        self.locations = SharedBuffer.allocate(count: locations.count, repeating: 0)
        for (i, location) in locations.enumerated() { self.locations[i] = location }
        self.features = features
    }

    deinit { locations.deallocate() }

    /// The features of the request's row i.
    public func row(_ i: Int) -> UnsafeMutablePointer<Scalar> { shared.row(i) }

    /// The same, for workers: valid while this value lives.
    var shared: SharedRows<Scalar> {
        SharedRows(source: SharedBuffer(source.base, count: source.count), received: SharedBuffer(received.base, count: received.count),
                   locations: locations, features: features)
    }
}

/// ``FetchedRows`` as workers read them.
struct SharedRows<Scalar>: Sendable {
    let source: SharedBuffer<Scalar>
    let received: SharedBuffer<Scalar>
    let locations: SharedBuffer<Int>
    let features: Int

    func row(_ i: Int) -> UnsafeMutablePointer<Scalar> {
        let location = locations[i]
        return location >= 0 ? source.base + location * features : received.base + (-1 - location) * features
    }
}
