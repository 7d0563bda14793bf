import Datasets
import Synchronization
import VectorMath

extension LibSVM {
    /// `LibSVM.readSparse(path:features:base:as:)` on `workers` threads: the file cut into
    /// pieces at line starts, counted and then parsed in parallel, each piece's rows written
    /// straight to their place in the CSR arrays (the pieces are laid out in
    /// Datasets' LibSVMPieces.swift). The data is bitwise what one thread reads, and an error is
    /// the first in the file, with its line, as one thread would report it.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func readSparse<Scalar: VectorScalar>(path: String, features: Int? = nil, base: Int? = nil, as _: Scalar.Type,
                                                        workers: Int, bind: Bool = true) throws(DataFileError)
        -> (data: SparseDataset<Scalar>, base: Int)
    {
        try readSparseLocated(path: path, features: features, base: base, as: Scalar.self, workers: workers, bind: bind).0
    }

    /// `LibSVM.read(path:features:base:as:)` (dense rows) read on `workers` threads.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func read<Scalar: VectorScalar>(path: String, features: Int? = nil, base: Int? = nil, as _: Scalar.Type,
                                                  workers: Int, bind: Bool = true) throws(DataFileError) -> (data: Dataset<Scalar>, base: Int)
    {
        let ((sparse, base), line) = try readSparseLocated(path: path, features: features, base: base, as: Scalar.self, workers: workers, bind: bind)
        return (try expand(sparse, path: path, base: base, maxIndexLine: line), base)
    }

    /// - Parameter pieceBytes: the smallest piece (tests make it small, to cut small files).
    static func readSparseLocated<Scalar: VectorScalar>(path: String, features: Int?, base: Int?, as _: Scalar.Type, workers: Int, bind: Bool,
                                                        pieceBytes: Int = 1 << 20) throws(DataFileError) -> ((data: SparseDataset<Scalar>, base: Int), maxIndexLine: Int)
    {
        let file = try MappedFile(path: path)
        defer { withExtendedLifetime(file) {} }
        let bytes = UnsafeBufferPointer(start: file.bytes.assumingMemoryBound(to: UInt8.self), count: file.count)
        let parsed = try parsePieces(bytes, path: path, range: 0..<file.count, linesBefore: 0, base: base, as: Scalar.self,
                                     workers: workers, bind: bind, pieceBytes: pieceBytes)
        return try finish(bytes, path: path, layout: parsed.layout, summaries: parsed.summaries, features: features, base: base,
                          labels: parsed.labels, offsets: parsed.offsets, columns: parsed.columns, values: parsed.values)
    }

    /// The lines of `range` of a file (the whole, or a cluster rank's part), counted and parsed in
    /// pieces by `workers` threads; the indices as in the file.
    static func parsePieces<Scalar: VectorScalar>(_ bytes: UnsafeBufferPointer<UInt8>, path: String, range: Range<Int>, linesBefore: Int,
                                                  base: Int?, as _: Scalar.Type, workers: Int, bind: Bool, pieceBytes: Int = 1 << 20,
                                                  allowingEmpty: Bool = false) throws(DataFileError) -> ParsedPieces<Scalar> {
        let text = SharedBuffer(UnsafeMutablePointer(mutating: bytes.baseAddress!), count: bytes.count)
        // Pieces of at least 1 MiB, several per worker, claimed in file order as workers free up.
        let workers = max(1, min(workers, range.count / max(pieceBytes, 1)))
        let pieces = self.pieces(UnsafeBufferPointer(rebasing: bytes[range]), count: workers == 1 ? 1 : min(workers * 8, range.count / max(pieceBytes, 1)))
            .map { ($0.lowerBound + range.lowerBound)..<($0.upperBound + range.lowerBound) }
        let pool = WorkerPool(workers: workers, bind: bind)
        defer { pool.release() }

        let counts = SharedBuffer<PieceCount>.allocate(count: pieces.count, repeating: PieceCount())
        defer { counts.deallocate() }
        let next = Counter(), n = pieces.count
        pool.run { _ in
            let bytes = UnsafeBufferPointer(start: text.base, count: text.count)
            while true {
                let p = next.value.add(1, ordering: .relaxed).oldValue
                guard p < n else { return }
                counts[p] = count(bytes, piece: pieces[p])
            }
        }
        let layout = Layout(pieces: pieces, counts: (0..<n).map { counts[$0] }, linesBefore: linesBefore)
        let (labels, offsets, columns, values) = try storage(path: path, layout: layout, as: Scalar.self, allowingEmpty: allowingEmpty)

        let summaries = SharedBuffer<PieceSummary>.allocate(count: n, repeating: PieceSummary())
        let errors = SharedBuffer<DataFileError?>.allocate(count: n, repeating: nil)
        defer { summaries.deallocate(); errors.deallocate() }
        let ls = SharedBuffer<Scalar>(labels.base, count: labels.count), os = SharedBuffer<Int64>(offsets.base, count: offsets.count)
        let cs = SharedBuffer<Int32>(columns.base, count: columns.count), vs = SharedBuffer<Scalar>(values.base, count: values.count)
        // Pieces after one that failed need not be parsed; every piece before it is (one of
        // them may hold an earlier error).
        let claim = Counter(), failed = Counter()
        failed.value.store(n, ordering: .relaxed)
        pool.run { _ in
            let bytes = UnsafeBufferPointer(start: text.base, count: text.count)
            while true {
                let p = claim.value.add(1, ordering: .relaxed).oldValue
                guard p < n, p < failed.value.load(ordering: .relaxed) else { return }
                do throws(DataFileError) {
                    summaries[p] = try parse(bytes, path: path, layout: layout, piece: p, base: base, labels: ls.base, offsets: os.base,
                                             columns: cs.base, values: vs.base)
                } catch {
                    errors[p] = error
                    _ = failed.value.min(p, ordering: .relaxed)
                }
            }
        }
        if let error = (0..<n).lazy.compactMap({ errors[$0] }).first { throw error }
        return ParsedPieces(layout: layout, summaries: (0..<n).map { summaries[$0] }, labels: labels, offsets: offsets, columns: columns, values: values)
    }
}

/// A libsvm file's pieces as parsed, before their base and width are settled.
struct ParsedPieces<Scalar: VectorScalar> {
    let layout: LibSVM.Layout
    let summaries: [LibSVM.PieceSummary]
    let labels: ScalarStorage<Scalar>
    let offsets: IndexStorage<Int64>
    let columns: IndexStorage<Int32>
    let values: ScalarStorage<Scalar>
}
