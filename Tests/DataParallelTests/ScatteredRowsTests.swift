@testable import DataParallel
import Datasets
import Foundation
import Testing

extension DataParallelTests {
@Suite("Scattered rows")
struct ScatteredRowsTests {
    /// A table with what real files hold: blank lines, a missing value (skipped), text labels that
    /// start as numbers, a weight column, an ignored text column long enough that some ranks'
    /// parts hold no line start.
    static func table(rows: Int) throws -> String {
        var text = "a,b,c,note,w,label\n"
        for i in 0..<rows {
            let a = Double((i * 7919) % 1000) / 10, b = Double((i * 104_729) % 997) - 500, c = Double(i % 13) * 0.25
            let label = i < rows / 3 ? "2" : ["cat", "dog", "2"][i % 3]
            let note = i == rows / 2 ? String(repeating: "x", count: 60_000) : "n\(i)"
            text += i == 17 ? "\(a),,\(c),\(note),1,\(label)\n" : "\(a),\(b),\(c),\(note),\(Double(i % 4) + 0.5),\(label)\n"
            if i % 1000 == 5 { text += "\n" }
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("scattered-\(UUID().uuidString).csv")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    static let options: CSV.Options = {
        var options = CSV.Options(target: "label", ignoring: ["note"], skippingIncompleteRows: true)
        options.weight = "w"
        return options
    }()

    @Test("R ranks, each parsing its part of a CSV, make the one-process table, standardization and copies", arguments: [1, 2, 3, 5, 8])
    func partsMakeTheTable(ranks: Int) throws {
        let path = try Self.table(rows: 9000)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let whole = try CSV.read(path: path, options: Self.options, as: Double.self)
        let data = whole.data, d = data.features
        let training = Array(stride(from: 0, to: data.rows, by: 2)) + [data.rows - 1]
        let scaler = Standardization(of: data, rows: training, workers: 2, bind: false)
        let order = (0..<data.rows).map { ($0 * 7 + 3) % data.rows }  // every row once, scattered
        let copied = try data.gathered(rows: order, name: "copy", standardization: scaler, workers: 2, bind: false)
        let expected = Unchecked((data, copied, whole))
        let failures = ThreadGroup(size: ranks).run { communicator -> [String] in
            var failures: [String] = []
            do {
                let (data, copied, whole) = expected.value
                let cluster = Cluster(communicator)
                let part = try CSV.readPart(path: path, options: Self.options, part: cluster.rank, of: ranks, as: Double.self)
                let (table, rows) = try ScatteredRows.merge(part, path: path, cluster: cluster)
                let merged = table.data
                if merged.y.array != data.y.array { failures.append("targets") }
                if merged.labels != data.labels || table.notes != whole.notes || table.skippedRows != whole.skippedRows { failures.append("labels, notes or skipped rows") }
                if table.weights != whole.weights || table.featureNames != whole.featureNames { failures.append("weights or names") }
                for row in rows.held where (0..<d).contains(where: { merged.feature(row, $0) != data.feature(row, $0) }) {
                    failures.append("held row \(row)")
                    break
                }
                if Standardization(of: rows, rows: training, workers: 2, bind: false) != scaler { failures.append("standardization") }
                // Each rank copies a different share of the shuffled rows.
                let pending = try merged.pendingGather(rows: order, name: "copy", standardization: scaler, workers: 2, bind: false,
                                                       scattered: true, source: rows)
                let share = [(cluster.rank * 613) % data.rows..<min(data.rows, (cluster.rank * 613) % data.rows + 2000), 0..<5]
                    .sorted { $0.lowerBound < $1.lowerBound }
                pending.fill(rows: share)
                for i in share.flatMap({ $0 }) where (0..<d).contains(where: { pending.dataset.feature(i, $0) != copied.feature(i, $0) }) {
                    failures.append("copied row \(i)")
                    break
                }
                // In many small exchanges: the same rows.
                let some = order.prefix(3000 + 500 * cluster.rank).map { $0 }
                let fetched = rows.fetch(some, roundBytes: 4096)
                for (i, row) in some.enumerated() where (0..<d).contains(where: { fetched.row(i)[$0] != data.feature(row, $0) }) {
                    failures.append("fetched row \(row)")
                    break
                }
                // In place (no copy): the rows a rank reads, fetched into the data set.
                let start = (cluster.rank * 1103 + 500) % (data.rows - 100), wanted = [start..<(start + 100)]
                rows.inPlace().fill(rows: wanted)
                for row in wanted[0] where (0..<d).contains(where: { merged.feature(row, $0) != data.feature(row, $0) }) {
                    failures.append("row \(row) in place")
                    break
                }
            } catch {
                failures.append("\(error)")
            }
            return failures
        }
        for (rank, list) in failures.enumerated() { #expect(list.isEmpty, "rank \(rank): \(list)") }
    }

    @Test("A bad line in a later part is reported with its line in the whole file")
    func errorsKeepTheirLines() throws {
        let path = try Self.table(rows: 3000)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var text = try String(contentsOfFile: path, encoding: .utf8)
        text = text.replacingOccurrences(of: ",n2500,", with: ",n2500,1,2,")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        var wholeMessage = ""
        do { _ = try CSV.read(path: path, options: Self.options, as: Float.self) } catch { wholeMessage = error.description }
        #expect(wholeMessage.contains("line 2505"), "\(wholeMessage)")
        var found: [String] = []
        for part in 0..<4 {
            do { _ = try CSV.readPart(path: path, options: Self.options, part: part, of: 4, as: Float.self) } catch { found.append(error.description) }
        }
        #expect(found == [wholeMessage])
    }

    @Test("R ranks, each parsing its part of a libsvm file, make the dense rows one process reads", arguments: [1, 2, 3, 7])
    func libsvmParts(ranks: Int) throws {
        var text = ""
        for i in 0..<5000 {
            if i % 700 == 3 { text += "# a comment\n\n" }
            let entries = (0..<12).filter { ($0 * 31 + i * 17) % 5 < 2 }.map { "\($0 + (i == 4321 ? 40 : 0)):\(Double((i + $0) % 97) / 8)" }
            text += "\(i % 3 == 0 ? 1 : 0) " + entries.joined(separator: " ") + "\n"
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("scattered-\(UUID().uuidString).svm")
        try text.write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        let path = url.path
        let (whole, base) = try LibSVM.read(path: path, as: Float.self)
        var narrow = ""
        do { _ = try LibSVM.read(path: path, features: 20, as: Float.self) } catch { narrow = error.description }
        let expected = Unchecked(whole), narrowMessage = narrow
        let outcomes = ThreadGroup(size: ranks).run { communicator -> [String] in
            let whole = expected.value, cluster = Cluster(communicator)
            var failures: [String] = []
            do {
                let part = try LibSVM.readPart(path: path, base: nil, part: cluster.rank, of: ranks, as: Float.self, workers: 2, bind: false)
                let shape = try ScatteredRows<Float>.shape(of: part, path: path, features: nil, base: nil, cluster: cluster)
                if shape.base != base || shape.features != whole.features || shape.rows != whole.rows { failures.append("shape \(shape)") }
                let rows = try ScatteredRows.expand(part, shape: shape, path: path, cluster: cluster)
                if rows.dataset.y.array != whole.y.array { failures.append("targets") }
                for row in rows.held where (0..<whole.features).contains(where: { rows.dataset.feature(row, $0) != whole.feature(row, $0) }) {
                    failures.append("row \(row)")
                    break
                }
                do throws(DataFileError) {
                    _ = try ScatteredRows<Float>.shape(of: part, path: path, features: 20, base: nil, cluster: cluster)
                    failures.append("no error for 20 features")
                } catch {
                    if error.description != narrowMessage { failures.append("\(error.description) ≠ \(narrowMessage)") }
                }
            } catch {
                failures.append("\(error)")
            }
            return failures
        }
        #expect(narrow.contains("line 4336"), "\(narrow)")
        for (rank, list) in outcomes.enumerated() { #expect(list.isEmpty, "rank \(rank): \(list)") }
    }
}
}
