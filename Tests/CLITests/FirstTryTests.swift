import Foundation
import ModelIO
import Testing

/// The rough edges a new user meets between a file and a model, each through the binary.
@Suite("optim on users' files")
struct FirstTryTests {
    /// The saved tensors' bytes, for comparing runs.
    func tensorBytes(_ path: String) throws -> [String: [Float]] {
        try SafeTensors.read(path).tensors.mapValues(\.values)
    }

    @Test("gzip-compressed files and standard input train as the plain file does (same weights); the temporary copy is gone")
    func gzipAndStandardInput() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let plain = try Data(contentsOf: URL(fileURLWithPath: RealData.path("wine-train.csv")))
        try plain.write(to: URL(fileURLWithPath: path("wine.csv")))
        let gzip = Process()
        gzip.executableURL = URL(fileURLWithPath: "/bin/gzip")
        gzip.arguments = ["-k", path("wine.csv")]
        try gzip.run()
        gzip.waitUntilExit()
        #expect(gzip.terminationStatus == 0)
        let common = ["--target", "target", "-q"]
        #expect(try optim(["train", "--data", path("wine.csv"), "--save", path("a.safetensors")] + common).status == 0)
        let compressed = try optim(["train", "--data", path("wine.csv.gz"), "--save", path("b.safetensors")] + common)
        #expect(compressed.status == 0, "\(compressed.stderr)")
        let piped = try optim(["train", "--data", "-", "--save", path("c.safetensors")] + common, input: plain)
        #expect(piped.status == 0, "\(piped.stderr)")
        let a = try tensorBytes(path("a.safetensors")), b = try tensorBytes(path("b.safetensors")), c = try tensorBytes(path("c.safetensors"))
        #expect(a == b && a == c)
        let svm = try Data(contentsOf: URL(fileURLWithPath: RealData.path("wine-train-1.svm")))
        let pipedSVM = try optim(["train", "--data", "-", "-q"], input: svm)
        #expect(pipedSVM.status == 0 && pipedSVM.stdout.contains("accuracy"), "a libsvm stream is recognized by its content: \(pipedSVM.stderr)")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory()).filter { $0.hasPrefix("optim-data-") }
        #expect(leftovers.isEmpty, "temporary copies left: \(leftovers)")
    }

    @Test("--json writes only JSON to stdout, an event on every object, the whole configuration first; -q leaves the final object")
    func jsonOutput() throws {
        let run = try optim(["train", "--data", RealData.path("breast_cancer-train.csv"), "--target", "target", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let objects = try run.stdout.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] ?? [:] }
        #expect(objects.allSatisfy { $0["event"] is String })
        let config = try #require(objects.first)
        #expect(config["event"] as? String == "config" && config["optimizer"] as? String == "lbfgs")
        #expect((config["classes"] as? [String]) == ["benign", "malignant"] && (config["columns"] as? [String])?.count == 30)
        let hyperparameters = config["hyperparameters"] as? [String: String] ?? [:]
        #expect(hyperparameters["history_size"] == "10" && hyperparameters["line_search_fn"] == "\"strong_wolfe\"", "\(hyperparameters)")
        #expect((config["l2"] as? Double ?? 0) > 0 && config["standardize"] as? Bool == true && config["target"] as? String == "target")
        #expect(objects.last?["event"] as? String == "done" && objects.last?["metrics_on"] as? String == "the 43 held-out rows")
        #expect(run.stderr.contains("full-batch lbfgs"), "the messages go to stderr")
        let quiet = try optim(["train", "--data", RealData.path("breast_cancer-train.csv"), "--target", "target", "--json", "-q"])
        #expect(quiet.stdout.split(separator: "\n").count == 1 && quiet.stdout.contains("\"event\":\"done\"") && quiet.stderr.isEmpty,
                "\(quiet.stdout) \(quiet.stderr)")
    }

    @Test(".npy of integers, big-endian floats and Fortran order, and .npz with a 2-D y, train on the values they hold")
    func numpyLayouts() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        // 40 rows: x, 2x + 1 (as the target); the same table in each layout.
        let rows = (0..<40).map { Float($0 % 10) }
        func header(_ descr: String, fortran: Bool) -> String { "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': (40, 2), }" }
        func bytes<T>(_ values: [T]) -> Data { values.withUnsafeBytes { Data($0) } }
        let cOrder = rows.flatMap { [$0, 2 * $0 + 1] }, fortran = rows + rows.map { 2 * $0 + 1 }
        var files: [String: Data] = [:]
        files["int.npy"] = npyBytes(header: header("<i4", fortran: false), payload: []) + bytes(cOrder.map { Int32($0) })
        files["big.npy"] = npyBytes(header: header(">f4", fortran: false), payload: []) + bytes(cOrder.map { $0.bitPattern.bigEndian })
        files["fortran.npy"] = npyBytes(header: header("<f8", fortran: true), payload: []) + bytes(fortran.map { Double($0) })
        var weights: [[Float]] = []
        for (name, data) in files.sorted(by: { $0.key < $1.key }) {
            try data.write(to: URL(fileURLWithPath: path(name)))
            let run = try optim(["train", "--data", path(name), "--model", "linear", "--no-standardize", "--save", path(name + ".safetensors"), "-q"])
            #expect(run.status == 0, "\(name): \(run.stderr)")
            let saved = try tensorBytes(path(name + ".safetensors"))
            weights.append((saved["weight"] ?? []) + (saved["bias"] ?? []))
        }
        for w in weights { #expect(w.count == 2 && abs(w[0] - 2) < 1e-3 && abs(w[1] - 1) < 1e-3, "y = 2x + 1 was learned as \(w)") }
        let x = npyBytes(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (40, 1), }", payload: rows)
        let y = npyBytes(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (40, 2), }", payload: rows.flatMap { [2 * $0 + 1, -$0] })
        try npzBytes(["X.npy": x, "y.npy": y]).write(to: URL(fileURLWithPath: path("two.npz")))
        let two = try optim(["train", "--data", path("two.npz"), "--save", path("two.safetensors"), "-q"])
        #expect(two.status == 0, "\(two.stderr)")
        #expect(try SafeTensors.read(path("two.safetensors")).tensors["weight"]?.shape == [2, 1], "a 2-D y is multi-output regression")
    }

    @Test("Labels as they come: ±1 and any two numbers, booleans; the classes are saved and predict answers in them")
    func labels() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let xs = (0..<60).map { Double($0) / 10 - 3 }
        for (name, labels) in [("pm", ["-1", "1"]), ("two", ["3.5", "7"]), ("bool", ["False", "True"])] {
            let table = "x,label\n" + xs.map { "\($0),\($0 > 0.05 ? labels[1] : labels[0])" }.joined(separator: "\n")
            try table.write(toFile: path("\(name).csv"), atomically: true, encoding: .utf8)
            let run = try optim(["train", "--data", path("\(name).csv"), "--target", "label", "--save", path("\(name).safetensors")])
            #expect(run.status == 0 && run.stdout.contains("logistic regression"), "\(name): \(run.stdout) \(run.stderr)")
            let saved = try SafeTensors.read(path("\(name).safetensors")).metadata
            #expect(saved["classes"] == "[\"\(labels[0])\",\"\(labels[1])\"]", "\(saved["classes"] ?? "none")")
            try "x\n-2\n2\n".write(toFile: path("new.csv"), atomically: true, encoding: .utf8)
            let predicted = try optim(["predict", "--weights", path("\(name).safetensors"), "--data", path("new.csv")])
            let lines = predicted.stdout.split(separator: "\n")
            #expect(lines.count == 3 && lines[1].hasPrefix(labels[0] + ",") && lines[2].hasPrefix(labels[1] + ","), "\(predicted.stdout) \(predicted.stderr)")
            let evaluated = try optim(["evaluate", "--weights", path("\(name).safetensors"), "--data", path("\(name).csv"), "--json"])
            #expect(evaluated.status == 0 && evaluated.stdout.contains("\"accuracy\":1"), "\(evaluated.stdout) \(evaluated.stderr)")
        }
    }

    @Test("libsvm: evaluate and predict read a file with fewer trailing features, in the base the model was trained with; --validation-data")
    func libsvmWidths() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let weights = path("w.safetensors")
        let trained = try optim(["train", "--data", RealData.path("digits-train-0.svm"), "--validation-data", RealData.path("digits-test-0.svm"),
                                 "--save", weights])
        #expect(trained.status == 0, "\(trained.stderr)")
        #expect(trained.stdout.contains("(1347 training rows, 450 validation)") && trained.stdout.contains("on the validation file"), "\(trained.stdout)")
        // Rows whose last features are all zero (so the file's largest index is smaller).
        try "3 1:0.5 2:16\n7 10:4\n".write(toFile: path("short.svm"), atomically: true, encoding: .utf8)
        let predicted = try optim(["predict", "--weights", weights, "--data", path("short.svm")])
        #expect(predicted.status == 0 && predicted.stdout.split(separator: "\n").count == 3, "\(predicted.stderr)")
        let evaluated = try optim(["evaluate", "--weights", weights, "--data", path("short.svm")])
        #expect(evaluated.status == 0, "\(evaluated.stderr)")
        let npy = try optim(["predict", "--weights", weights, "--data", path("short.svm"), "--output", path("p.npy")])
        #expect(npy.status == 0, "\(npy.stderr)")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path("p.npy")))
        #expect(String(decoding: bytes.prefix(80), as: UTF8.self).contains("'shape': (2, 10)"), "probabilities for 10 classes")
    }

    @Test("On a terminal the progress bar fits its width (80 columns and 60) and leaves no trail; tiny data prints no rates")
    func progressBar() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else {
            print("skipped: no /usr/bin/script to give optim a terminal")
            return
        }
        for columns in [80, 60] {
            let command = "stty cols \(columns); \(optimBinary().path) train --rows 300000 --features 64 --model mlp --hidden 128 --epochs 1 --batch-size 512 --optimizer adam"
            let run = try optim([], environment: [:], executable: "/usr/bin/script", arguments: ["-qec", command, "/dev/null"])
            #expect(run.status == 0, "\(run.stderr)")
            let segments = run.stdout.split(whereSeparator: { $0 == "\r" || $0 == "\n" })
            let bars = segments.filter { $0.contains("ETA") }
            #expect(!bars.isEmpty, "no progress bar drawn: \(run.stdout.prefix(300))")
            for bar in bars { #expect(bar.count < columns, "a bar of \(bar.count) columns on a \(columns)-column terminal") }
            let epochLine = segments.first { $0.hasPrefix("epoch 1/1") }
            #expect(epochLine != nil && !epochLine!.contains("ETA"), "the bar is cleared before the epoch's line")
        }
        let tiny = try optim(["train", "--data", RealData.path("iris-train.csv"), "--target", "target"])
        #expect(!tiny.stdout.contains("rows/s"), "\(tiny.stdout)")
    }

    @Test("Weights in the loss: --class-weight balanced lifts a rare class's recall; --sample-weight 0 silences rows (and evaluate and predict leave the column out)")
    func weights() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        var random = TestRandom(seed: 11)
        var table = "x1,x2,w,label\n"
        for i in 0..<400 {
            let a = random.normal(), b = random.normal()
            let rare = a + b > 1.8 ? 1 : 0
            // Every other row has weight 0 and its label flipped: noise the weights must silence.
            table += "\(a),\(b),\(i % 2),\(i % 2 == 1 ? rare : 1 - rare)\n"
        }
        try table.write(toFile: path("rows.csv"), atomically: true, encoding: .utf8)
        let clean = table.split(separator: "\n").enumerated().filter { $0.offset == 0 || $0.offset % 2 == 0 }.map(\.element).joined(separator: "\n") + "\n"
        try clean.write(toFile: path("clean.csv"), atomically: true, encoding: .utf8)

        func recall(_ weights: String, class index: Int) throws -> Double {
            let result = try optim(["evaluate", "--weights", weights, "--data", path("clean.csv"), "--ignore", "w", "--json"])
            let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] ?? [:]
            return ((object["per_class"] as? [[String: Any]])?[index]["recall"] as? Double) ?? -1
        }
        #expect(try optim(["train", "--data", path("clean.csv"), "--target", "label", "--ignore", "w", "--save", path("plain.safetensors"), "-q"]).status == 0)
        let balanced = try optim(["train", "--data", path("clean.csv"), "--target", "label", "--ignore", "w", "--class-weight", "balanced",
                                  "--save", path("balanced.safetensors")])
        #expect(balanced.status == 0 && balanced.stdout.contains("class weights: 0 "), "\(balanced.stdout) \(balanced.stderr)")
        let rarePlain = try recall(path("plain.safetensors"), class: 1), rareBalanced = try recall(path("balanced.safetensors"), class: 1)
        #expect(rareBalanced > rarePlain || rareBalanced == 1, "balanced weights: recall of the rare class \(rareBalanced), unweighted \(rarePlain)")

        let weighted = try optim(["train", "--data", path("rows.csv"), "--target", "label", "--sample-weight", "w", "--save", path("w.safetensors")])
        #expect(weighted.status == 0 && weighted.stdout.contains("rows weighted by the column 'w'"), "\(weighted.stdout) \(weighted.stderr)")
        let unweighted = try optim(["train", "--data", path("rows.csv"), "--target", "label", "--ignore", "w", "--save", path("u.safetensors"), "-q"])
        #expect(unweighted.status == 0)
        func accuracy(_ weights: String, _ extra: [String]) throws -> Double {
            let result = try optim(["evaluate", "--weights", weights, "--data", path("clean.csv"), "--json"] + extra)
            #expect(result.status == 0, "\(result.stderr)")
            return (try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])?["accuracy"] as? Double ?? -1
        }
        let withWeights = try accuracy(path("w.safetensors"), []), without = try accuracy(path("u.safetensors"), ["--ignore", "w"])
        #expect(withWeights > 0.95 && withWeights > without + 0.1, "weighted \(withWeights), unweighted \(without)")
        let predicted = try optim(["predict", "--weights", path("w.safetensors"), "--data", path("clean.csv")])
        #expect(predicted.status == 0 && predicted.stdout.split(separator: "\n").count == 201, "\(predicted.stderr)")
        let notClassifier = try optim(["train", "--data", RealData.path("diabetes-train.csv"), "--target", "target", "--class-weight", "balanced"])
        #expect(notClassifier.status == 2 && notClassifier.stderr.contains("--class-weight applies to classifiers"), "\(notClassifier.stderr)")
    }

    @Test("--raw-penalty trains on standardized features to the raw features' optimum: the same model as without standardization")
    func rawPenalty() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let common = ["train", "--data", RealData.path("iris-train.csv"), "--target", "target", "--tol", "1e-12", "--epochs", "300", "-q"]
        #expect(try optim(common + ["--raw-penalty", "--save", path("a.safetensors")]).status == 0)
        #expect(try optim(common + ["--no-standardize", "--save", path("b.safetensors")]).status == 0)
        #expect(try optim(common + ["--save", path("c.safetensors")]).status == 0)
        let a = try tensorBytes(path("a.safetensors"))["weight"] ?? [], b = try tensorBytes(path("b.safetensors"))["weight"] ?? []
        let c = try tensorBytes(path("c.safetensors"))["weight"] ?? []
        let size = b.map(abs).max() ?? 0
        let same = zip(a, b).map { abs($0 - $1) }.max() ?? .infinity, other = zip(c, b).map { abs($0 - $1) }.max() ?? 0
        #expect(same <= 1e-2 * size, "the raw-penalty fit's weights differ from the raw fit's by \(same) (largest \(size))")
        #expect(other > 10 * same, "the standardized penalty is another objective (difference \(other))")
    }

    @Test("Files as pandas and numpy write them: an old index re-saved as 'Unnamed: 0', True/False columns, np.savez(features, labels)")
    func pandasAndNumpyShapes() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        // read_csv(...).to_csv(): the unnamed index comes back named "Unnamed: 0".
        let indexed = try String(contentsOfFile: RealData.path("wine-train-index.csv"), encoding: .utf8)
        try ("Unnamed: 0" + indexed).write(toFile: path("resaved.csv"), atomically: true, encoding: .utf8)
        let plain = try optim(["train", "--data", RealData.path("wine-train.csv"), "--target", "target", "--save", path("a.safetensors"), "-q"])
        let resaved = try optim(["train", "--data", path("resaved.csv"), "--target", "target", "--save", path("b.safetensors")])
        #expect(plain.status == 0 && resaved.status == 0, "\(resaved.stderr)")
        #expect(resaved.stdout.contains("'Unnamed: 0' is pandas' name for an unnamed column"), "\(resaved.stdout)")
        let a = try tensorBytes(path("a.safetensors")), b = try tensorBytes(path("b.safetensors"))
        #expect(a == b, "the re-saved file trains as the plain one")
        // A boolean feature column, as pandas writes it.
        let table = "flag,x,y\n" + (0..<40).map { "\($0 % 2 == 0 ? "True" : "False"),\($0),\($0 % 2 == 0 ? 1 : 0)" }.joined(separator: "\n")
        try table.write(toFile: path("flags.csv"), atomically: true, encoding: .utf8)
        let flags = try optim(["train", "--data", path("flags.csv"), "--target", "y", "--save", path("f.safetensors"), "-q"])
        #expect(flags.status == 0 && flags.stdout.contains("accuracy 1.0000"), "\(flags.stdout) \(flags.stderr)")
        // np.savez(features, labels): arrays arr_0 and arr_1.
        let x = npyBytes(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (40, 1), }", payload: (0..<40).map { Float($0) })
        let y = npyBytes(header: "{'descr': '<i8', 'fortran_order': False, 'shape': (40,), }", payload: [])
            + (0..<40).map { Int64($0 < 20 ? 0 : 1) }.withUnsafeBytes { Data($0) }
        try npzBytes(["arr_0.npy": x, "arr_1.npy": y]).write(to: URL(fileURLWithPath: path("positional.npz")))
        let positional = try optim(["train", "--data", path("positional.npz"), "-q"])
        #expect(positional.status == 0 && positional.stdout.contains("accuracy"), "\(positional.stderr)")
    }

    @Test("TSV and --delimiter read as the CSV does; --features widens a libsvm file; --format names a file without an extension")
    func separatorsAndWidths() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let csv = try String(contentsOfFile: RealData.path("wine-train.csv"), encoding: .utf8)
        try csv.replacingOccurrences(of: ",", with: "\t").write(toFile: path("wine.tsv"), atomically: true, encoding: .utf8)
        try csv.replacingOccurrences(of: ",", with: ";").write(toFile: path("wine.csv"), atomically: true, encoding: .utf8)
        try csv.write(toFile: path("wine-table"), atomically: true, encoding: .utf8)
        let plain = try optim(["train", "--data", RealData.path("wine-train.csv"), "--target", "target", "--save", path("a.safetensors"), "-q"])
        let tsv = try optim(["train", "--data", path("wine.tsv"), "--target", "target", "--save", path("b.safetensors"), "-q"])
        let semicolons = try optim(["train", "--data", path("wine.csv"), "--target", "target", "--delimiter", ";", "--save", path("c.safetensors"), "-q"])
        let named = try optim(["train", "--data", path("wine-table"), "--format", "csv", "--target", "target", "--save", path("d.safetensors"), "-q"])
        #expect(plain.status == 0 && tsv.status == 0 && semicolons.status == 0 && named.status == 0, "\(tsv.stderr) \(semicolons.stderr) \(named.stderr)")
        let a = try tensorBytes(path("a.safetensors"))
        for other in ["b", "c", "d"] { #expect(try tensorBytes(path("\(other).safetensors")) == a, "\(other) trains otherwise") }
        let wide = try optim(["train", "--data", RealData.path("wine-train-1.svm"), "--features", "20", "--save", path("w.safetensors"), "-q"])
        #expect(wide.status == 0, "\(wide.stderr)")
        #expect(try SafeTensors.read(path("w.safetensors")).tensors["weight"]?.shape == [3, 20])
        let narrow = try optim(["train", "--data", RealData.path("wine-train-1.svm"), "--features", "5"])
        #expect(narrow.status == 1 && narrow.stderr.contains("is out of range for 5 features"), "\(narrow.stderr)")
    }
}

/// Seeded normal draws for test tables (Box–Muller).
struct TestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func uniform() -> Double {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return (Double(state >> 11) + 0.5) * 0x1p-53
    }
    mutating func normal() -> Double { (-2 * Foundation.log(uniform())).squareRoot() * Foundation.cos(2 * Double.pi * uniform()) }
}
