@testable import DataParallel
import Datasets
import Foundation
import Testing

/// A libsvm file of `rows` rows with what real files hold: comments, blank lines, CRLF line
/// ends, query ids, rows with no entries, explicit zeros, a byte-order mark; `lines` replaced.
private func libsvmText(rows: Int, seed: UInt64, replacing lines: [Int: String] = [:]) -> String {
    var state = seed
    func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state >> 33
    }
    var out = ["\u{FEFF}# a header comment"]
    for r in 0..<rows {
        var line = "\(Int(next() % 3) - 1)"
        if r % 97 == 5 { line += " qid:\(r / 97)" }
        var index = Int(next() % 4)
        for _ in 0..<Int(next() % 30) {
            line += " \(index):\(r % 53 == 0 ? "0" : String(Double(Int(next() % 20_000) - 10_000) / 997))"
            index += 1 + Int(next() % 200)
        }
        if r % 41 == 3 { line += " # a trailing comment: with a colon" }
        if r % 13 == 1 { line += "\r" }
        out.append(line)
        if r % 29 == 7 { out.append(r % 2 == 0 ? "" : "   # a comment line") }
    }
    for (number, text) in lines { out[number - 1] = text }
    return out.joined(separator: "\n") + (seed % 2 == 0 ? "\n" : "")
}

private func write(_ text: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("reading-\(UUID().uuidString).svm")
    try text.write(to: url, atomically: true, encoding: .utf8)
    return url
}

/// The bytes of `count` values at `base`.
private func bytes<T>(_ base: UnsafeMutablePointer<T>, _ count: Int) -> [UInt8] {
    Array(UnsafeRawBufferPointer(start: base, count: count * MemoryLayout<T>.stride))
}

private func same<Scalar>(_ a: SparseDataset<Scalar>, _ b: SparseDataset<Scalar>) -> Bool {
    a.rows == b.rows && a.features == b.features && a.offsets.array == b.offsets.array && a.columns.array == b.columns.array
        && bytes(a.values.base, a.values.count) == bytes(b.values.base, b.values.count) && bytes(a.y.base, a.y.count) == bytes(b.y.base, b.y.count)
}

extension DataParallelTests {
@Suite("Parallel libsvm reading")
struct ParallelReadingTests {
    @Test("Read on 1, 2, 3, 4 and 8 workers, in pieces of a few hundred bytes, the rows are bitwise what one thread reads",
          arguments: [UInt64(1), 2])
    func sameRows(seed: UInt64) throws {
        let url = try write(libsvmText(rows: 3000, seed: seed))
        defer { try? FileManager.default.removeItem(at: url) }
        let (one, base) = try LibSVM.readSparse(path: url.path, as: Double.self)
        #expect(one.rows == 3000 && base == 0)
        for workers in [1, 2, 3, 4, 8] {
            let ((many, manyBase), _) = try LibSVM.readSparseLocated(path: url.path, features: nil, base: nil, as: Double.self,
                                                                    workers: workers, bind: false, pieceBytes: 300)
            #expect(manyBase == base)
            #expect(same(one, many), "\(workers) workers")
        }
        let (floats, _) = try LibSVM.readSparse(path: url.path, as: Float.self, workers: 2, bind: false)
        #expect(same(floats, try LibSVM.readSparse(path: url.path, as: Float.self).data))
        // The dense rows expand the same rows.
        let dense = try LibSVM.read(path: url.path, as: Float.self, workers: 3, bind: false).data
        #expect(dense.x.array == (try LibSVM.read(path: url.path, as: Float.self).data.x.array))
    }

    @Test("An error is the first in the file, with its line, whichever piece holds it")
    func firstError() throws {
        let cases: [([Int: String], String)] = [
            ([2900: "1 3:0.5 2:0.25"], "line 2900: indices must ascend: 2 after 3"),
            ([1200: "1 3:x", 2500: "oops 1:2"], "line 1200: '3:x' is not index:value"),
            ([3050: "1 7:inf"], "line 3050: value inf at index 7 is not finite"),
            ([40: "1 -4:1"], "line 40: index -4 is negative"),
        ]
        for (lines, expected) in cases {
            let url = try write(libsvmText(rows: 3000, seed: 4, replacing: lines))
            defer { try? FileManager.default.removeItem(at: url) }
            let serial = #expect(throws: DataFileError.self) { try LibSVM.readSparse(path: url.path, as: Float.self) }
            #expect(serial?.description.contains(expected) == true, "\(serial?.description ?? "")")
            for workers in [2, 3, 8] {
                let parallel = #expect(throws: DataFileError.self) {
                    try LibSVM.readSparseLocated(path: url.path, features: nil, base: nil, as: Float.self, workers: workers, bind: false,
                                                 pieceBytes: 300)
                }
                #expect(parallel?.description == serial?.description, "\(workers) workers")
            }
        }
        // An index beyond --features: the line of the first row that has one.
        let url = try write(libsvmText(rows: 3000, seed: 4, replacing: [2222: "1 1:1 500000:2"]))
        defer { try? FileManager.default.removeItem(at: url) }
        for workers in [1, 4] {
            let error = #expect(throws: DataFileError.self) {
                try LibSVM.readSparseLocated(path: url.path, features: 100_000, base: nil, as: Float.self, workers: workers, bind: false,
                                             pieceBytes: 300)
            }
            #expect(error?.description.contains("line 2222: index 500000 is out of range for 100000 features") == true, "\(error?.description ?? "")")
        }
    }

    @Test("Pieces start at line starts and cover the file; counts match what parsing finds")
    func pieces() throws {
        let text = Array(libsvmText(rows: 500, seed: 3).utf8)
        try text.withUnsafeBufferPointer { bytes in
            let whole = LibSVM.count(bytes, piece: 3..<bytes.count)
            for count in [1, 2, 7, 64, 10_000] {
                let pieces = LibSVM.pieces(bytes, count: count)
                #expect(pieces.first?.lowerBound == 3 && pieces.last?.upperBound == bytes.count)
                #expect(zip(pieces, pieces.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound && bytes[$1.lowerBound - 1] == 0x0A })
                let counts = pieces.map { LibSVM.count(bytes, piece: $0) }
                #expect(counts.map(\.rows).reduce(0, +) == whole.rows && counts.map(\.entries).reduce(0, +) == whole.entries)
                #expect(counts.map(\.lines).reduce(0, +) == whole.lines)
            }
            #expect(whole.rows == 500)
            #expect(whole.lines == text.split(separator: 0x0A, omittingEmptySubsequences: false).count - (text.last == 0x0A ? 1 : 0))
        }
    }
}
}
