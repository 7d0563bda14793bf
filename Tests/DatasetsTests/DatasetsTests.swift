@testable import Datasets
import Foundation
import Testing

@Suite("Datasets")
struct DatasetsTests {
    @Test("Synthetic rows are a pure function of (seed, row): generating in pieces gives the same data",
          arguments: SyntheticRegression.Task.allCases)
    func counterBased(task: SyntheticRegression.Task) throws {
        let spec = try SyntheticRegression(task: task, rows: 50, features: 13, outputs: task == .multiclass ? 4 : 1, seed: 9)
        let whole = try spec.generate()
        let x = FloatStorage(count: 50 * 13), y = FloatStorage(count: 50 * spec.targetsPerRow)
        let weights = spec.trueWeights
        for range in [30..<50, 0..<7, 7..<30] { spec.fill(rows: range, x: x.base, y: y.base, weights: weights) }
        #expect(x.array == whole.x.array)
        #expect(y.array == whole.y.array)
        let other = try SyntheticRegression(task: task, rows: 50, features: 13, outputs: task == .multiclass ? 4 : 1, seed: 10).generate()
        #expect(other.x.array != whole.x.array, "another seed gives other data")
        #expect(Set(spec.trueShapes.map(\.name)) == Set(weights.keys))
    }

    @Test("Synthetic data looks like what it claims: standard normal features, targets from the true model")
    func statistics() throws {
        let spec = try SyntheticRegression(task: .linear, rows: 20_000, features: 4, noise: 0, seed: 1)
        let data = try spec.generate()
        let values = data.x.array.map(Double.init)
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)
        #expect(abs(mean) < 0.02 && abs(variance - 1) < 0.03, "mean \(mean), variance \(variance)")
        let w = spec.trueWeights["weight"]!, b = spec.trueWeights["bias"]![0]
        for row in [0, 17, 19_999] {
            let predicted = (0..<4).reduce(Float(0)) { $0 + w[$1] * data.x[row * 4 + $1] } + b
            #expect(abs(predicted - data.y[row]) < 1e-5)
        }
        let labels = try SyntheticRegression(task: .multiclass, rows: 3000, features: 5, outputs: 3, seed: 2).generate().y.array
        #expect(Set(labels) == [0, 1, 2])
        let binary = try SyntheticRegression(task: .logistic, rows: 3000, features: 5, seed: 2).generate().y.array
        let positives = binary.filter { $0 == 1 }.count
        #expect(Set(binary) == [0, 1] && positives > 500 && positives < 2500)
    }

    @Test("Text formats: a byte-order mark, CRLF, quotes; libsvm comments, blank lines, qid, 0- and 1-based indices")
    func textFormats() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let csv = directory.url.appendingPathComponent("d.csv")
        try Data("\u{FEFF}\"size\",rooms,price\r\n120, 3 ,250000\r\n80,2,\"150000\"\r\n\r\n".utf8).write(to: csv)
        let table = try CSV.load(path: csv.path, target: "price")
        #expect(table.rows == 2 && table.features == 2 && table.x.array == [120, 3, 80, 2] && table.y.array == [250000, 150000])
        #expect(try CSV.load(path: csv.path, target: "size").y.array == [120, 80], "the first column is found despite the BOM")

        let svm = directory.url.appendingPathComponent("d.svm")
        try Data("# a comment\n1 qid:1 1:0.5 3:2 # trailing\n\n-1 qid:1 2:1.5\n".utf8).write(to: svm)
        let sparse = try LibSVM.load(path: svm.path)
        #expect(sparse.rows == 2 && sparse.features == 3 && sparse.x.array == [0.5, 0, 2, 0, 1.5, 0] && sparse.y.array == [1, -1])
        let zeroBased = directory.url.appendingPathComponent("z.svm")
        try Data("0 0:1 2:3\n1 1:4\n".utf8).write(to: zeroBased)
        #expect(try LibSVM.load(path: zeroBased.path).x.array == [1, 0, 3, 0, 4, 0])
        do {
            _ = try LibSVM.load(path: svm.path, features: 2)
            Issue.record("an index beyond --features was accepted")
        } catch {
            #expect(error.description.hasSuffix("d.svm, line 2: index 3 is out of range for 2 features (1-based indices)"))
        }
    }

    @Test("Numbers in text files parse to the Float that Float(String) gives, bit for bit, fast path or not")
    func numberParsing() {
        func parsed(_ text: String) -> Float? {
            Array(text.utf8).withUnsafeBufferPointer { parseFloat($0) }
        }
        var texts = ["0", "-0", "+1", "1.", ".5", "-.5e-3", "00012.5000", "1e10", "1E+22", "1e23", "1e-45", "1e-46", "3.4028235e38",
                     "3.4028236e38", "1e400", "-1e400", "inf", "-Infinity", "nan", "0x1p3", "123456789012345678901234", "0.30000000000000004",
                     // Exactly halfway between two Floats: ties go to the even one.
                     "16777217", "16777219", "-33554434", "1.00000005960464477539062500", "8388608.5",
                     // Short decimals just off a halfway point whose nearest Double is that point:
                     // rounding through the Double would tie; the decimal itself does not.
                     "4.724792006527423e-6", "1.051546169037465e-4", "1.026688925921917e-1", "1.539407730102539e+2",
                     "4.65603232383728e+0", "-7.505458086143335e-7", "5.223202460911125e-4",
                     // Not numbers.
                     "", "-", ".", "e5", "1e", "1e+", "1.2.3", "1,5", " 1", "1 ", "0x", "--1", "1e5x", "nanx"]
        var state: UInt64 = 12345
        func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 11
        }
        for _ in 0..<20_000 {
            let double = Double(bitPattern: next() & 0x3FFF_FFFF_FFFF_FFFF | (next() & 1 == 0 ? 0 : 1 << 63))
            let float = Float(bitPattern: UInt32(truncatingIfNeeded: next()) & 0x7F7F_FFFF)
            texts.append("\(double)")                                   // shortest round-trip, up to 17 digits
            texts.append("\(float)")
            texts.append(String(Double(next() % 100_000_000) / 1000))   // short decimals, as CSV writers print them
            texts.append("\(next() % 1_000_000_000)e\(Int(next() % 60) - 30)")
        }
        for text in texts {
            let expected = Float(text), got = parsed(text)
            #expect(got?.bitPattern == expected?.bitPattern || (got?.isNaN == true && expected?.isNaN == true),
                    "'\(text)': \(String(describing: got)), Float(String) gives \(String(describing: expected))")
        }
    }

    @Test("CSV: quoted names and values, blank lines, and a message for each way a row can be wrong")
    func csvDetails() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        func load(_ text: String, target: String = "y") throws(DataFileError) -> Dataset<Float> {
            let url = directory.url.appendingPathComponent("\(UUID().uuidString).csv")
            try? Data(text.utf8).write(to: url)
            return try CSV.load(path: url.path, target: target)
        }
        let quoted = try load("\"area, m2\",\"say \"\"hi\"\"\",y\n\n1.5,\"2\",3\n\n\n-4e1 , 5,6\n")
        #expect(quoted.rows == 2 && quoted.x.array == [1.5, 2, -40, 5] && quoted.y.array == [3, 6])
        #expect(try load("\"area, m2\",\"say \"\"hi\"\"\",y\n1,2,3\n", target: "say \"hi\"").y.array == [2], "a name with a quote in it")
        #expect(try load("a,y\n1,2", target: "a").y.array == [1], "no newline at the end")
        func message(_ text: String) -> String {
            do { _ = try load(text); return "loaded" } catch { return error.message }
        }
        #expect(message("a,b,y\n1,2,3\n1,2\n") == "2 field(s), the header has 3")
        #expect(message("a,b,y\n1,2,3,\n") == "4 field(s), the header has 3")
        #expect(message("a,b,y\n1,2,3,4,5\n") == "5 field(s), the header has 3")
        #expect(message("a,b,y\n1, ,3\n") == "column 'b' is empty: a missing value")
        #expect(message("a,b,y\n1,NA,3\n") == "column 'b': 'NA' is a missing value")
        #expect(message("a,b,y\n1,two,3\n") == "column 'b': 'two' is not a number")
        #expect(message("a,b,y\n1,\"2\"x,3\n") == "text after the closing quote at byte 6")
        #expect(message("a,b,y,\n1,2,3,4\n") == "column 4 of 4 has no name (a separator at the end of the header?)")
        #expect(message("a\tb\ty\n1\t2\t3\n").hasSuffix("(fields are separated by ','; this header has tabs: use --delimiter tab, or name the file .tsv)"))

        // Leaving columns out, and skipping the rows with a missing value in a column used.
        let table = "id,size,kind,price\n1,120,flat,250\n2,,house,300\n3,80,NA,150\n4,95,flat,NaN\n5,70,flat,90\n"
        let url = directory.url.appendingPathComponent("table.csv")
        try Data(table.utf8).write(to: url)
        let (kept, skipped) = try CSV.read(path: url.path, target: "price", ignoring: ["id", "kind"], skippingIncompleteRows: true)
        #expect(skipped == 2 && kept.rows == 3 && kept.features == 1 && kept.x.array == [120, 80, 70] && kept.y.array == [250, 150, 90])
        #expect(throws: DataFileError(url.path, "line 1", "no column named 'colour' to ignore (the columns are id, size, kind, price)")) {
            try CSV.read(path: url.path, target: "price", ignoring: ["colour"])
        }
        #expect(throws: DataFileError(url.path, "line 2", "column 'kind': 'flat' is not a number")) {
            try CSV.read(path: url.path, target: "price", ignoring: ["id"], skippingIncompleteRows: true)
        }
    }

    @Test("libsvm: a sparse index too large to hold dense is refused before anything is allocated; out-of-range rows are named")
    func libsvmLimits() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let url = directory.url.appendingPathComponent("s.svm")
        try Data("1 1:1\n\n# note\n0 2:1 4000000000000:2\n".utf8).write(to: url)
        #expect(throws: DataFileError(url.path, "line 4", "index 4000000000000 is beyond the 2147483647 features sparse data can have")) {
            try LibSVM.readSparse(path: url.path, as: Float.self)
        }
        // The widest index sparse data takes: 16 rows of it are 128 GiB as dense floats, 100 bytes as CSR.
        try Data(("0 2:1 2147483647:2\n" + String(repeating: "1 1:1\n", count: 15)).utf8).write(to: url)
        #expect(throws: DataFileError(url.path, "line 1", "index 2147483647 makes every row 2147483647 features wide: "
                                      + "16 rows × 2147483647 dense floats needs 128.0 GiB, more than " + MemoryBudget.current.source
                                      + " allows (--max-memory sets the limit); read it as sparse data (`LibSVM.readSparse`, or `optim train --sparse`)")) {
            try LibSVM.load(path: url.path)
        }
        let (sparse, base) = try LibSVM.readSparse(path: url.path, as: Float.self)
        #expect(base == 1 && sparse.features == 2_147_483_647 && sparse.rows == 16 && sparse.nonZeros == 17)
        #expect(sparse.row(0).map(\.column) == [1, 2_147_483_646] && sparse.row(0).map(\.value) == [1, 2] && sparse.target(0) == 0)
        try Data("1 1:1\n\n0 2:1 3:1 # x\n1 1:1\n".utf8).write(to: url)
        #expect(throws: DataFileError(url.path, "line 3", "index 3 is out of range for 2 features (1-based indices)")) {
            try LibSVM.load(path: url.path, features: 2)
        }
    }

    @Test("Bad data is refused with a message naming the row and column")
    func badInput() throws {
        do {
            try Dataset(x: [1, 2, 3, 4, 5, .nan], y: [0, 1], features: 3).validateFinite()
            Issue.record("NaN accepted")
        } catch {
            #expect(error.description == "in-memory data: feature at row 1, column 2 is nan; data must be finite")
        }
        do {
            try Dataset(x: [1, 2, 3, 4], y: [0, .infinity], features: 2).validateFinite()
            Issue.record("infinity accepted")
        } catch {
            #expect(error.description == "in-memory data: target at row 1, column 0 is inf; data must be finite")
        }
        #expect(throws: DatasetError.self) { try Dataset(x: [1, 2, 3, 4], y: [0], features: 2) }
        #expect(throws: DatasetError.self) { try Dataset(x: [1, 2, 3], y: [0], features: 2) }
        #expect(throws: DatasetError.self) { try Dataset<Float>(x: [], y: [], features: 2) }
        #expect(throws: DatasetError.self) { try SyntheticRegression(task: .multiclass, rows: 10, features: 2, outputs: 1) }
        #expect(throws: DatasetError.self) { try SyntheticRegression(task: .linear, rows: 0, features: 2) }
        let data = try Dataset(x: [1, 2, 3, 4, 5, 6, 7, 8], y: [0, 1, 2, 3], features: 2)
        let (training, validation) = try data.split(validationFraction: 0.25)
        #expect(training.rows == 3 && validation?.rows == 1 && validation?.y[0] == 3)
        #expect(throws: DatasetError.self) { try data.split(validationFraction: 1) }
    }

    @Test("The finite scan finds the first NaN or infinity wherever it falls: either side of a block edge, in the vector body or the tail")
    func finiteScan() throws {
        let count = 3 * 4096 + 21
        for index in [0, 15, 16, 4095, 4096, 4097, 2 * 4096 + 7, count - 21, count - 1] {
            for bad in [Float.nan, .infinity, -.infinity] {
                let storage = FloatStorage(count: count)
                storage.base[index] = bad
                storage.base[min(index + 5, count - 1)] = .nan  // a later one is not reported
                #expect(storage.firstNonFinite() == index, "value \(bad) at \(index)")
            }
        }
        let finite = FloatStorage((0..<count).map { Float($0) * -1e30 })
        #expect(finite.firstNonFinite() == nil)
        // Rows with their target inside (stride 3: two features, then the target): a NaN target
        // is not a feature's, and a NaN feature after it is still found.
        let x = FloatStorage(count: 3 * 5000)
        x.base[3 * 100 + 2] = .nan
        let strided = try Dataset(name: "strided", x: x, y: x.view(2..<x.count), rows: 5000, features: 2,
                                  rowStride: 3, targetStride: 3)
        do {
            try strided.validateFinite()
            Issue.record("NaN target accepted")
        } catch {
            #expect(error.description == "strided: target at row 100, column 0 is nan; data must be finite")
        }
        x.base[3 * 4000 + 1] = .infinity
        do {
            try strided.validateFinite()
            Issue.record("infinite feature accepted")
        } catch {
            #expect(error.description == "strided: feature at row 4000, column 1 is inf; data must be finite")
        }
    }

    @Test("Large storages are page-mapped: zero, aligned to 2 MiB, and writable end to end")
    func largeStorage() {
        let count = (8 << 20) / 4 + 3
        let storage = FloatStorage(count: count)
        #expect(UInt(bitPattern: storage.base) % UInt(2 << 20) == 0)
        #expect(storage.firstNonFinite() == nil)
        #expect(storage[0] == 0 && storage[count / 2] == 0 && storage[count - 1] == 0)
        storage.base[count - 1] = 7
        let window = storage.view(count - 4..<count)
        #expect(window.array == [0, 0, 0, 7])
        let small = FloatStorage(count: 10)
        #expect(UInt(bitPattern: small.base) % 64 == 0 && small.array == Array(repeating: 0, count: 10))
    }

    @Test("The vectorized Box-Muller matches the same transform in Double with libm")
    func boxMullerAccuracy() {
        var state: UInt64 = 0x1234_5678
        func next() -> UInt32 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt32(truncatingIfNeeded: state >> 29)
        }
        var worst = 0.0
        for round in 0..<20_000 {
            var u = SIMD8<UInt32>(), v = SIMD8<UInt32>()
            for j in 0..<8 { u[j] = next(); v[j] = next() }
            if round == 0 { u[0] = 0; v[0] = 0; u[1] = .max; v[1] = .max }  // the extremes of U and of the angle
            let (c, s) = Philox4x32.boxMuller(u, v)
            for j in 0..<8 {
                let unit = (Double(u[j]) * 0x1p21 + Double(v[j] >> 11) + 0.5) * 0x1p-53
                let radius = (-2 * Foundation.log(Double(Float(unit)))).squareRoot()
                let angle = 2 * Double.pi * (Double(v[j] >> 8) + 0.5) * 0x1p-24
                worst = max(worst, abs(Double(c[j]) - radius * Foundation.cos(angle)), abs(Double(s[j]) - radius * Foundation.sin(angle)))
            }
        }
        #expect(worst < 2e-6, "largest deviation from the Double transform: \(worst)")
        // The far tail: the smallest U gives a radius of √(−2 ln 2^-54) ≈ 8.65.
        let (c, s) = Philox4x32.boxMuller(SIMD8(repeating: 0), SIMD8(repeating: 0))
        #expect(abs((c[0] * c[0] + s[0] * s[0]).squareRoot() - 8.65) < 0.01)
    }
}

/// A fresh directory for one test's files, and its removal when the test ends.
final class TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("datasets-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// Removes the directory; tests call it in a `defer`, which also keeps this object alive until then.
    func remove() { try? FileManager.default.removeItem(at: url) }
}
