import Foundation
import ModelIO
import Testing

/// The real data sets of `RealData/` (scikit-learn's bundled sets, exported as users export them
/// by `tools/make_real_data_fixtures.py`, with scikit-learn's scores on the same test rows).
enum RealData {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("RealData")

    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    struct Reference: Decodable {
        let metric: String
        let logistic_regression: Double?
        let standardized_logistic_regression: Double?
        let linear_regression: Double?
        let test_rows: Int
        /// Each row's cross-validation fold (0-4), and scikit-learn's score on each fold.
        let folds: [Int]
        let fold_scores: [Double]
    }

    static let reference: [String: Reference] = {
        let data = (try? Data(contentsOf: directory.appendingPathComponent("reference.json"))) ?? Data()
        return (try? JSONDecoder().decode([String: Reference].self, from: data)) ?? [:]
    }()

    /// One export of one set: the training file, its test file, and whether it is CSV (needs --target).
    struct Export: CustomTestStringConvertible, Sendable {
        let set: String
        let recipe: String
        var testDescription: String { "\(set) as \(recipe)" }
        var isCSV: Bool { recipe.hasPrefix("csv") || recipe == "sorted" }
        var trainFile: String {
            switch recipe {
            case "csv": "\(set)-train.csv"
            case "csv with index": "\(set)-train-index.csv"
            case "sorted": "\(set)-train-sorted.csv"
            case "npy": "\(set)-train.npy"
            case "svm zero-based": "\(set)-train-0.svm"
            default: "\(set)-train-1.svm"
            }
        }
        var testFile: String {
            switch recipe {
            case "csv with index": "\(set)-test-index.csv"
            case "sorted": "\(set)-test.csv"
            default: trainFile.replacingOccurrences(of: "-train", with: "-test")
            }
        }
    }

    static let exports: [Export] = {
        var all: [Export] = []
        for set in ["iris", "wine", "breast_cancer", "digits", "diabetes"] {
            let textLabels = set == "iris" || set == "breast_cancer"
            let recipes = ["csv", "csv with index", "sorted"] + (textLabels ? [] : ["npy", "svm zero-based", "svm one-based"])
            all += recipes.map { Export(set: set, recipe: $0) }
        }
        return all
    }()
}

@Suite("Real data on the first try")
struct RealDataTests {
    @Test("With only --data (and --target for CSV), train reaches scikit-learn's LogisticRegression() / LinearRegression() on the same test rows",
          arguments: RealData.exports)
    func firstTry(export: RealData.Export) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let weights = directory.appendingPathComponent("w.safetensors").path
        let trained = try optim(["train", "--data", RealData.path(export.trainFile)] + (export.isCSV ? ["--target", "target"] : [])
                                + ["--save", weights])
        #expect(trained.status == 0, "\(trained.stderr)")
        #expect(!trained.stderr.contains("warning"), "a first try warns: \(trained.stderr)")
        let evaluated = try optim(["evaluate", "--weights", weights, "--data", RealData.path(export.testFile), "--json"])
        #expect(evaluated.status == 0, "\(evaluated.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(evaluated.stdout.utf8)) as? [String: Any] ?? [:]
        let reference = try #require(RealData.reference[export.set], "reference.json lacks \(export.set)")
        if reference.metric == "accuracy" {
            let accuracy = try #require(object["accuracy"] as? Double, "\(evaluated.stdout)")
            let oneRow = 1 / Double(reference.test_rows)
            // Within 0.02 of the standardized pipeline; of the raw one within 0.02 or one test row
            // (iris: 1 of 38 rows is 0.026).
            #expect(accuracy >= reference.standardized_logistic_regression! - 0.02 - 1e-9, "accuracy \(accuracy), scikit-learn \(reference)")
            #expect(accuracy >= reference.logistic_regression! - max(0.02, oneRow) - 1e-9, "accuracy \(accuracy), scikit-learn \(reference)")
        } else {
            let r2 = try #require(object["r2"] as? Double, "\(evaluated.stdout)")
            #expect(r2 >= reference.linear_regression! - 0.02 - 1e-9, "R² \(r2), scikit-learn \(reference.linear_regression!)")
            #expect(object["mae"] is Double)
        }
    }

    @Test("Five-fold cross-validation: with only --data and --target, the mean held-out score is within 0.02 of scikit-learn's on the same folds",
          arguments: ["iris", "wine", "breast_cancer", "digits", "diabetes"])
    func crossValidated(set: String) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let reference = try #require(RealData.reference[set])
        let lines = try String(contentsOfFile: RealData.path("\(set).csv"), encoding: .utf8).split(separator: "\n").map(String.init)
        let header = lines[0], rows = Array(lines.dropFirst())
        try #require(rows.count == reference.folds.count, "\(set).csv and reference.json disagree")
        var scores: [Double] = []
        for fold in 0..<5 {
            let train = directory.appendingPathComponent("train-\(fold).csv"), test = directory.appendingPathComponent("test-\(fold).csv")
            try ([header] + rows.indices.filter { reference.folds[$0] != fold }.map { rows[$0] }).joined(separator: "\n")
                .write(to: train, atomically: true, encoding: .utf8)
            try ([header] + rows.indices.filter { reference.folds[$0] == fold }.map { rows[$0] }).joined(separator: "\n")
                .write(to: test, atomically: true, encoding: .utf8)
            let weights = directory.appendingPathComponent("w-\(fold).safetensors").path
            let trained = try optim(["train", "--data", train.path, "--target", "target", "--save", weights, "-q"])
            #expect(trained.status == 0, "\(trained.stderr)")
            let evaluated = try optim(["evaluate", "--weights", weights, "--data", test.path, "--json"])
            let object = try JSONSerialization.jsonObject(with: Data(evaluated.stdout.utf8)) as? [String: Any] ?? [:]
            scores.append(try #require(object[reference.metric] as? Double, "\(evaluated.stdout) \(evaluated.stderr)"))
        }
        let mean = scores.reduce(0, +) / 5, theirs = reference.fold_scores.reduce(0, +) / 5
        #expect(mean >= theirs - 0.02, "\(set): optim \(mean) (folds \(scores)), scikit-learn \(theirs) (folds \(reference.fold_scores))")
    }

    @Test("The defaults say what they chose and why: the model from the targets, the split, the standardization, the optimizer")
    func saysWhy() throws {
        let iris = try optim(["train", "--data", RealData.path("iris-train-sorted.csv"), "--target", "target"])
        #expect(iris.status == 0, "\(iris.stderr)")
        #expect(iris.stdout.contains("softmax regression, 4 → 3 classes") && iris.stdout.contains("3 text labels (setosa, versicolor, virginica)"))
        #expect(iris.stdout.contains("stratified by class") && iris.stdout.contains("features standardized"))
        #expect(iris.stdout.contains("full-batch lbfgs") && iris.stdout.contains("(converged)"), "\(iris.stdout)")
        // Sorted by species, the held-out rows still hold every class: accuracy far above a third.
        let accuracy = iris.stdout.split(separator: "\n").first { $0.hasPrefix("final") }.flatMap { line in
            line.split(separator: " ").drop { $0 != "accuracy" }.dropFirst().first.flatMap { Double($0.trimmingCharacters(in: .punctuationCharacters)) }
        }
        #expect((accuracy ?? 0) > 0.8, "\(iris.stdout)")
        let diabetes = try optim(["train", "--data", RealData.path("diabetes-train.csv"), "--target", "target"])
        #expect(diabetes.stdout.contains("linear regression") && diabetes.stdout.contains("distinct whole numbers, more than 20 classes"), "\(diabetes.stdout)")
        // Whole numbers that hardly repeat (body weights of 20 people) are values, not 16 classes.
        let weights = FileManager.default.temporaryDirectory.appendingPathComponent("weights-\(UUID().uuidString).csv")
        defer { try? FileManager.default.removeItem(at: weights) }
        try ("chins,weight\n" + (0..<20).map { "\($0 % 7),\(140 + 5 * $0 + $0 % 3)" }.joined(separator: "\n")).write(to: weights, atomically: true, encoding: .utf8)
        let few = try optim(["train", "--data", weights.path, "--target", "weight"])
        #expect(few.stdout.contains("linear regression") && few.stdout.contains("too few repeats to be classes"), "\(few.stdout)")
        let wine = try optim(["train", "--data", RealData.path("wine-train.npy")])
        #expect(wine.stdout.contains("3 distinct whole numbers (0, 1, 2)") && wine.stdout.contains("float64, Fortran order: converted once"), "\(wine.stdout)")
        let minibatch = try optim(["train", "--data", RealData.path("breast_cancer-train.csv"), "--target", "target", "--optimizer", "sgd", "--epochs", "2"])
        #expect(minibatch.status == 0 && minibatch.stderr.contains("too few to converge"), "\(minibatch.stderr)")
        let wide = try optim(["train", "--data", RealData.path("iris-train.csv"), "--target", "target", "--optimizer", "adam", "--batch-size", "100000"])
        #expect(wide.stderr.contains("--batch-size 100000 is more than the 100 training rows"), "\(wide.stderr)")
        let mlp = try optim(["train", "--data", RealData.path("iris-train.csv"), "--target", "target", "--model", "mlp"])
        #expect(mlp.status == 0 && mlp.stdout.contains("MLP 4 → 32 → 3, relu, cross_entropy"), "\(mlp.stdout)")
    }

    @Test("predict gives labels and probabilities equal to sigmoid/softmax of the saved weights on raw features (numpy), ids passed through")
    func predictMatchesReference() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        for set in ["breast_cancer", "iris"] {
            let weights = directory.appendingPathComponent("\(set).safetensors").path
            let predictions = directory.appendingPathComponent("\(set).csv").path
            let trained = try optim(["train", "--data", RealData.path("\(set)-train-index.csv"), "--target", "target", "--save", weights, "-q"])
            #expect(trained.status == 0, "\(trained.stderr)")
            // The test file still has its target column: predict leaves it out.
            let predicted = try optim(["predict", "--weights", weights, "--data", RealData.path("\(set)-test.csv"), "--output", predictions])
            #expect(predicted.status == 0, "\(predicted.stderr)")
            let check = try python("""
                import csv, json, sys
                import numpy as np
                from safetensors import safe_open
                from safetensors.numpy import load_file
                t = load_file(sys.argv[1])
                with safe_open(sys.argv[1], "np") as f: meta = f.metadata()
                classes = json.loads(meta["classes"])
                rows = list(csv.DictReader(open(sys.argv[2])))
                x = np.array([[float(r[c]) for c in json.loads(meta["columns"])] for r in rows], dtype=np.float64)
                z = x @ t["weight"].T.astype(np.float64) + t["bias"].astype(np.float64)
                if z.shape[1] == 1:
                    p1 = 1 / (1 + np.exp(-z[:, 0])); p = np.stack([1 - p1, p1], axis=1)
                else:
                    e = np.exp(z - z.max(axis=1, keepdims=True)); p = e / e.sum(axis=1, keepdims=True)
                out = list(csv.DictReader(open(sys.argv[3])))
                assert len(out) == len(rows), (len(out), len(rows))
                got = np.array([[float(r["probability_" + c]) for c in classes] for r in out])
                err = np.abs(got - p).max()
                assert err < 1e-5, err
                labels = [classes[i] for i in p.argmax(axis=1)]
                agree = sum(a == r["label"] for a, r in zip(labels, out))
                assert agree >= len(out) - 1, (agree, len(out))
                print("max difference", err)
                """, [weights, RealData.path("\(set)-test.csv"), predictions])
            #expect(check.status == 0, "numpy disagrees with optim predict on \(set) (run bash tools/setup.sh --tests): \(check.stdout) \(check.stderr)")
        }
        // An id column passed through, to standard output.
        let weights = directory.appendingPathComponent("breast_cancer.safetensors").path
        let lines = try String(contentsOfFile: RealData.path("breast_cancer-test.csv"), encoding: .utf8).split(separator: "\n")
        let withID = directory.appendingPathComponent("new.csv")
        try (["patient," + lines[0]] + lines.dropFirst().enumerated().map { "p\($0.offset)," + $0.element }).joined(separator: "\n")
            .write(to: withID, atomically: true, encoding: .utf8)
        let withIDs = try optim(["predict", "--weights", weights, "--data", withID.path, "--id", "patient"])
        #expect(withIDs.status == 0, "\(withIDs.stderr)")
        let output = withIDs.stdout.split(separator: "\n")
        #expect(output.first == "id,label,probability_benign,probability_malignant" && output.count == lines.count, "\(output.prefix(2))")
        #expect(output.dropFirst().first?.hasPrefix("p0,") == true)
    }

    @Test("evaluate --held-out re-scores exactly the rows train held out; it reports per-class metrics and ROC AUC")
    func heldOut() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let weights = directory.appendingPathComponent("w.safetensors").path
        let trained = try optim(["train", "--data", RealData.path("breast_cancer-train.csv"), "--target", "target", "--save", weights, "--json"])
        #expect(trained.status == 0, "\(trained.stderr)")
        let done = trained.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .first { $0["event"] as? String == "done" }
        let evaluated = try optim(["evaluate", "--weights", weights, "--data", RealData.path("breast_cancer-train.csv"), "--held-out", "--json"])
        #expect(evaluated.status == 0, "\(evaluated.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(evaluated.stdout.utf8)) as? [String: Any] ?? [:]
        #expect(object["rows"] as? Int == 43)
        let trainedAccuracy = done?["final_accuracy"] as? Double, heldOutAccuracy = object["accuracy"] as? Double
        #expect(trainedAccuracy != nil && trainedAccuracy == heldOutAccuracy, "train said \(trainedAccuracy ?? -1), evaluate --held-out \(heldOutAccuracy ?? -1)")
        #expect((object["roc_auc"] as? Double ?? 0) > 0.95 && (object["confusion_matrix"] as? [[Int]])?.count == 2)
        #expect((object["per_class"] as? [[String: Any]])?.map { $0["class"] as? String } == ["benign", "malignant"])
        let text = try optim(["evaluate", "--weights", weights, "--data", RealData.path("breast_cancer-test.csv")])
        #expect(text.stdout.contains("confusion matrix") && text.stdout.contains("precision") && text.stdout.contains("roc_auc"), "\(text.stdout)")
    }

    @Test("Shuffled, standardized and penalized fits give bitwise the same weights for 1, 2, 3 and 4 workers")
    func determinism() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let runs: [[String]] = [
            ["--data", RealData.path("digits-train.csv"), "--target", "target", "--l1", "0.0001", "--class-weight", "balanced"],
            ["--rows", "30000", "--features", "16", "--task", "logistic", "--shuffle", "--standardize", "--l2", "0.001", "--l1", "0.0001",
             "--optimizer", "adam", "--lr", "0.01", "--epochs", "3", "--batch-size", "1024"],
        ]
        for (index, run) in runs.enumerated() {
            var saved: [Data] = []
            for workers in 1...4 {
                let path = directory.appendingPathComponent("\(index)-\(workers).safetensors").path
                let trained = try optim(["train"] + run + ["--workers", "\(workers)", "--save", path, "-q"])
                #expect(trained.status == 0, "\(trained.stderr)")
                saved.append(try SafeTensors.read(path).tensors.sorted { $0.key < $1.key }.map { $0.value.values }
                    .reduce(into: Data()) { data, values in values.withUnsafeBytes { data.append(contentsOf: $0) } })
            }
            #expect(Set(saved).count == 1, "run \(index): the weights differ between worker counts")
        }
    }
}
