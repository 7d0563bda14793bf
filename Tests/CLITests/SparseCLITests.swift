import Foundation
import ModelIO
import Testing

/// Sparse rows through the binary: a wide libsvm file trains, evaluates and predicts as CSR.
@Suite("optim on sparse files")
struct SparseCLITests {
    @Test("A wide libsvm file trains as sparse rows by itself; the same weights for 1 and 3 workers; evaluate and predict read it sparse")
    func wideFile() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let generated = try optim(["generate", "--sparse", "--task", "logistic", "--rows", "6000", "--features", "400000", "--non-zeros", "12",
                                   "--output", path("wide.svm")])
        #expect(generated.status == 0 && generated.stdout.contains("400000 features"), "\(generated.stderr)")
        // As dense floats this file is 6000 × ~400k × 4 bytes (about 10 GB); as CSR, about 0.6 MB.
        let common = ["train", "--data", path("wide.svm"), "--optimizer", "adam", "--lr", "0.05", "--epochs", "3", "--batch-size", "500"]
        let one = try optim(common + ["--workers", "1", "--save", path("one.safetensors")])
        #expect(one.status == 0 && one.stdout.contains("trained as sparse rows") == false && one.stdout.contains("read as sparse rows")
                && one.stdout.contains("sparse rows ("), "\(one.stdout) \(one.stderr)")
        let three = try optim(common + ["--workers", "3", "--save", path("three.safetensors")])
        #expect(three.status == 0, "\(three.stderr)")
        let a = try SafeTensors.read(path("one.safetensors")).tensors.mapValues(\.values)
        let b = try SafeTensors.read(path("three.safetensors")).tensors.mapValues(\.values)
        #expect(a == b, "1 and 3 workers give the same weights on sparse rows")
        let accuracy = one.stdout.split(separator: "\n").last { $0.hasPrefix("final") }.flatMap { $0.split(separator: "accuracy ").last }
            .flatMap { Double($0.prefix(6)) }
        #expect((accuracy ?? 0) > 0.7, "held-out accuracy \(accuracy ?? -1): \(one.stdout)")

        let evaluated = try optim(["evaluate", "--weights", path("one.safetensors"), "--data", path("wide.svm")])
        #expect(evaluated.status == 0 && evaluated.stdout.contains("6000 rows") && evaluated.stderr.contains("read as sparse rows"),
                "\(evaluated.stdout) \(evaluated.stderr)")
        let predicted = try optim(["predict", "--weights", path("one.safetensors"), "--data", path("wide.svm")])
        let lines = predicted.stdout.split(separator: "\n")
        #expect(predicted.status == 0 && lines.count == 6001 && lines[0] == "label,probability_0,probability_1", "\(predicted.stderr)")

        // Sparse rows refuse what needs dense ones, saying what to do.
        let standardized = try optim(common + ["--standardize"])
        #expect(standardized.status == 2 && standardized.stderr.contains("makes sparse rows dense"), "\(standardized.stderr)")
        // The MLP's first layer takes the sparse rows (an embedding bag's sum of weight columns).
        let mlp = try optim(common + ["--model", "mlp", "--hidden", "8", "--epochs", "1", "--batch-size", "3000", "--workers", "2"])
        #expect(mlp.status == 0 && mlp.stdout.contains("MLP ") && mlp.stdout.contains(" → 8 → 1, relu") && mlp.stdout.contains("sparse rows ("), "\(mlp.stdout) \(mlp.stderr)")
        let csv = directory.appendingPathComponent("t.csv")
        try Data("a,y\n1,0\n2,1\n".utf8).write(to: csv)
        let notLibsvm = try optim(["train", "--data", csv.path, "--target", "y", "--sparse"])
        #expect(notLibsvm.status == 2 && notLibsvm.stderr.contains("sparse rows are read from plain libsvm files and scipy sparse .npz matrices (") && notLibsvm.stderr.contains("t.csv is csv)"), "\(notLibsvm.stderr)")
        // Trust-region Newton on every row: the same weights for 1 and 3 workers; dense rows refused.
        let newtonOne = try optim(["train", "--data", path("wide.svm"), "--optimizer", "newton", "--workers", "1", "--save", path("n1.safetensors")])
        let newtonThree = try optim(["train", "--data", path("wide.svm"), "--optimizer", "newton", "--workers", "3", "--save", path("n3.safetensors")])
        #expect(newtonOne.status == 0 && newtonOne.stdout.contains("newton(") && newtonOne.stdout.contains("(converged)"),
                "\(newtonOne.stdout) \(newtonOne.stderr)")
        #expect(try SafeTensors.read(path("n1.safetensors")).tensors.mapValues(\.values) == SafeTensors.read(path("n3.safetensors")).tensors.mapValues(\.values))
        #expect(newtonThree.status == 0, "\(newtonThree.stderr)")
        let denseNewton = try optim(["train", "--data", csv.path, "--target", "y", "--optimizer", "newton"])
        #expect(denseNewton.status != 0 && denseNewton.stderr.contains("newton takes sparse rows"), "\(denseNewton.stderr)")
        let lazy = try optim(common + ["--optimizer", "sparseadam", "--epochs", "1"])
        #expect(lazy.status == 0 && lazy.stdout.contains("sparseadam("), "\(lazy.stderr)")
    }
}
