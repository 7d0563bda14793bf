import Datasets
import Foundation
import ModelIO
import Testing

/// A file of Tests/CLITests/SparseNPZ (tools/make_sparse_npz_fixtures.py).
private func fixture(_ name: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("SparseNPZ/\(name)").path
}

/// Row-major values of a sparse data set, densified.
private func denseValues(_ data: SparseDataset<Double>) -> [Double] {
    var out = [Double](repeating: 0, count: data.rows * data.features)
    for r in 0..<data.rows {
        for e in data.entryStart(r)..<data.entryStart(r + 1) { out[r * data.features + Int(data.columns.base[e])] = data.values.base[e] }
    }
    return out
}

/// The features and the target column of a dense fixture (rows × (features + 1), float64).
private func reference(_ name: String) throws -> (x: [Double], y: [Double]) {
    let dense = try NPY.load(path: fixture(name), as: Double.self)
    return ((0..<dense.rows).flatMap { r in (0..<dense.features).map { dense.feature(r, $0) } }, (0..<dense.rows).map { dense.target($0) })
}

@Suite("scipy sparse matrices (.npz from save_npz)")
struct SparseNPZTests {
    @Test("csr, csc, coo and coo with coords, compressed or not, read as the same CSR rows as the dense matrix; targets from the archive, .npy or text",
          arguments: [("csr.npz", "y.npy"), ("csc.npz", "y.txt"), ("coo.npz", "y.npy"), ("coo-coords.npz", "y.npy"), ("csr-with-y.npz", nil)])
    func formats(file: String, labels: String?) throws {
        let (x, y) = try reference("dense.npy")
        let data = try NPZ.loadSparse(path: fixture(file), labels: labels.map(fixture), as: Double.self)
        #expect(data.rows == 60 && data.features == 40)
        #expect(denseValues(data) == x)
        #expect(data.y.array == y, "targets differ")
        // Canonical rows: columns strictly ascending (what the engine's kernels assume).
        for r in 0..<data.rows where data.entryStart(r + 1) - data.entryStart(r) > 1 {
            let columns = (data.entryStart(r)..<data.entryStart(r + 1)).map { data.columns.base[$0] }
            #expect(zip(columns, columns.dropFirst()).allSatisfy { $0 < $1 }, "row \(r)")
        }
    }

    @Test("Unsorted columns are sorted and a column given twice is summed, as scipy's sum_duplicates does; float32 values and int64 indices")
    func canonicalForm() throws {
        let (x, _) = try reference("dense-unsorted-float32.npy")
        let data = try NPZ.loadSparse(path: fixture("csr-unsorted-float32.npz"), labels: fixture("y.npy"), as: Double.self)
        #expect(denseValues(data) == x)
        #expect(data.nonZeros == (try NPZ.loadSparse(path: fixture("csr.npz"), labels: fixture("y.npy"), as: Double.self)).nonZeros)
    }

    @Test("Damaged or unsupported archives and missing targets are refused, saying what to do")
    func refusals() throws {
        let cases: [(String, String?, String)] = [
            ("bsr.npz", "y.npy", "scipy format 'bsr' is not read here (csr, csc and coo are): save X.tocsr()"),
            ("bad-index.npz", "y.npy", "bad-index.npz/indices.npy, element 7: index 43 is outside 0..<40"),
            ("bad-pointers.npz", "y.npy", "indptr.npy, element 11: pointers descend"),
            ("csr.npz", nil, "a scipy sparse matrix holds no targets: give them with --labels FILE"),
            // Found by the fuzzer: a shape of 2^45 rows around two entries (refused, not allocated).
            ("huge-shape.npz", "y.npy", "huge-shape.npz/shape.npy: 35184372088832 rows "),
            ("csr.npz", "csr.npz", "line 1: "),
        ]
        for (file, labels, message) in cases {
            let error = #expect(throws: DataFileError.self) { try NPZ.loadSparse(path: fixture(file), labels: labels.map(fixture), as: Float.self) }
            #expect(error?.description.contains(message) == true, "\(file): \(error?.description ?? "no error")")
        }
        let short = try temporaryDirectory().appendingPathComponent("short.txt")
        defer { try? FileManager.default.removeItem(at: short.deletingLastPathComponent()) }
        try "1\n0\n1\n".write(to: short, atomically: true, encoding: .utf8)
        let error = #expect(throws: DataFileError.self) { try NPZ.loadSparse(path: fixture("csr.npz"), labels: short.path, as: Float.self) }
        #expect(error?.description.contains("3 labels for the 60 rows") == true, "\(error?.description ?? "")")
    }

    @Test("optim trains on a save_npz matrix with --labels: sparse rows by default, and with --dense the weights of the same data as .npy, bit for bit")
    func command() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let common = ["--optimizer", "adam", "--lr", "0.05", "--epochs", "5", "--batch-size", "16", "--workers", "2"]
        let sparse = try optim(["train", "--data", fixture("csc.npz"), "--labels", fixture("y.npy"), "--sparse"] + common + ["--save", path("s.safetensors")])
        #expect(sparse.status == 0 && sparse.stdout.contains("a scipy sparse matrix: 60 rows × 40 features") && sparse.stdout.contains("sparse rows ("),
                "\(sparse.stdout) \(sparse.stderr)")
        let expanded = try optim(["train", "--data", fixture("csr.npz"), "--labels", fixture("y.txt"), "--dense"] + common + ["--save", path("d.safetensors")])
        let npy = try optim(["train", "--data", fixture("dense.npy")] + common + ["--save", path("n.safetensors")])
        #expect(expanded.status == 0 && npy.status == 0, "\(expanded.stderr) \(npy.stderr)")
        let a = try SafeTensors.read(path("d.safetensors")).tensors.mapValues(\.values)
        let b = try SafeTensors.read(path("n.safetensors")).tensors.mapValues(\.values)
        #expect(a == b)

        // predict needs no targets; evaluate takes them from --labels.
        let predicted = try optim(["predict", "--weights", path("s.safetensors"), "--data", fixture("csr.npz")])
        #expect(predicted.status == 0 && predicted.stdout.split(separator: "\n").count == 61, "\(predicted.stderr)")
        let evaluated = try optim(["evaluate", "--weights", path("s.safetensors"), "--data", fixture("coo.npz"), "--labels", fixture("y.npy")])
        #expect(evaluated.status == 0 && evaluated.stdout.contains("60 rows"), "\(evaluated.stdout) \(evaluated.stderr)")

        let missing = try optim(["train", "--data", fixture("csr.npz")])
        #expect(missing.status != 0 && missing.stderr.contains("--labels FILE"), "\(missing.stderr)")
        let misplaced = try optim(["train", "--data", fixture("dense.npy"), "--labels", fixture("y.npy")])
        #expect(misplaced.status == 2 && misplaced.stderr.contains("--labels applies to a scipy sparse matrix"), "\(misplaced.stderr)")
    }
}
