import Foundation
import ModelIO
import Testing

/// Nothing the user has is lost: outputs checked before work, signals, divergence, half-written files.
@Suite("optim keeps the user's files")
struct FileSafetyTests {
    /// An output onto an input (or another output), in its many spellings: refused at once, every file as it was.
    @Test("An output that is an input, a directory or in a missing folder is refused before any work; the files stay byte for byte")
    func outputsChecked() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let data = npyBytes(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (200, 3), }", payload: (0..<600).map { Float($0 % 7) })
        try data.write(to: URL(fileURLWithPath: path("x.npy")))
        let trained = try optim(["train", "--data", path("x.npy"), "--save", path("w.safetensors"), "-q"])
        #expect(trained.status == 0, "\(trained.stderr)")
        let weights = try Data(contentsOf: URL(fileURLWithPath: path("w.safetensors")))
        try FileManager.default.createDirectory(atPath: path("folder"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: path("folder.npy"), withIntermediateDirectories: true)
        let cases: [([String], Int32, String)] = [
            (["train", "--data", path("x.npy"), "--save", path("x.npy")], 2, "--save \(path("x.npy")) is the same file as --data"),
            (["train", "--data", path("x.npy"), "--checkpoint", directory.path + "/./x.npy"], 2, "is the same file as --data"),
            (["train", "--data", path("x.npy"), "--save", path("a.safetensors"), "--checkpoint", path("a.safetensors")], 2, "are the same file"),
            (["train", "--data", path("x.npy"), "--resume", path("w.safetensors"), "--save", path("w.safetensors")], 2, "is the same file as --resume"),
            (["evaluate", "--weights", path("w.safetensors"), "--data", path("x.npy"), "--predictions", path("x.npy")], 2, "is the same file as --data"),
            (["evaluate", "--weights", path("w.safetensors"), "--data", path("x.npy"), "--predictions", path("w.safetensors")], 2, "is the same file as --weights"),
            (["predict", "--weights", path("w.safetensors"), "--data", path("x.npy"), "--output", path("x.npy")], 2, "is the same file as --data"),
            (["train", "--data", path("x.npy"), "--save", path("folder")], 1, "is a directory: --save takes a file name"),
            (["train", "--data", path("x.npy"), "--save", path("missing/w.safetensors")], 1, "cannot create: the folder"),
            (["generate", "--rows", "10", "--output", path("folder.npy")], 1, "is a directory"),
        ]
        for (arguments, status, message) in cases {
            let start = Date()
            let run = try optim(arguments)
            #expect(run.status == status && run.stderr.contains(message), "\(arguments): exit \(run.status), \(run.stderr)")
            #expect(!run.stdout.contains("epoch "), "\(arguments): trained before refusing")
            #expect(Date().timeIntervalSince(start) < 10)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path("x.npy"))) == data, "the data file changed")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path("w.safetensors"))) == weights, "the weights file changed")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains(".partial") }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }

    @Test("A diverging fit still saves the weights of its last finite loss where --save points, and says so")
    func divergenceSaves() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let save = directory.appendingPathComponent("w.safetensors").path
        let run = try optim(["train", "--rows", "2000", "--features", "4", "--optimizer", "sgd", "--lr", "1e6", "--epochs", "3", "--save", save])
        #expect(run.status == 1 && run.stderr.contains("the loss diverged") && run.stderr.contains("saved the weights of the last finite loss"), "\(run.stderr)")
        let tensors = try SafeTensors.read(save).tensors
        #expect(tensors["weight"]?.values.allSatisfy(\.isFinite) == true && tensors["bias"]?.values.allSatisfy(\.isFinite) == true)
    }

    @Test("SIGTERM checkpoints like Ctrl-C; Ctrl-C during generate leaves neither the file nor a .partial; stale .partial files of dead runs are removed")
    func signalsAndPartials() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        func start(_ arguments: [String]) throws -> (Process, Pipe) {
            let process = Process()
            process.executableURL = optimBinary()
            process.arguments = arguments
            process.standardOutput = FileHandle.nullDevice
            let errors = Pipe()
            process.standardError = errors
            try process.run()
            return (process, errors)
        }
        let (training, errors) = try start(["train", "--rows", "400000", "--features", "8", "--epochs", "40", "--batch-size", "256",
                                            "--optimizer", "adam", "--checkpoint", path("run.checkpoint")])
        Thread.sleep(forTimeInterval: 1.5)
        training.terminate()  // SIGTERM
        training.waitUntilExit()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(training.terminationStatus == 130 || training.terminationStatus == 0, "exit \(training.terminationStatus): \(message)")
        if training.terminationStatus == 130 {
            #expect(message.contains("interrupted; resume with --resume"))
            #expect((try? Checkpoint.load(path("run.checkpoint"))) != nil, "no loadable checkpoint after SIGTERM")
        }

        let (generating, _) = try start(["generate", "--rows", "20000000", "--features", "32", "--output", path("big.npy")])
        Thread.sleep(forTimeInterval: 1.0)
        generating.interrupt()
        generating.waitUntilExit()
        #expect(generating.terminationStatus == 130, "exit \(generating.terminationStatus)")
        let left = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix("big.npy") }
        #expect(left.isEmpty, "left behind: \(left)")

        // A .partial of a run killed mid-write (its process is gone) goes with the next write.
        FileManager.default.createFile(atPath: path("w.safetensors.partial-999999999"), contents: Data("half".utf8))
        let saved = try optim(["train", "--rows", "2000", "--features", "4", "--save", path("w.safetensors"), "-q"])
        #expect(saved.status == 0, "\(saved.stderr)")
        #expect(!FileManager.default.fileExists(atPath: path("w.safetensors.partial-999999999")))
    }

    @Test("--resume continues only the same run: the file compared by content (not its spelling), the scheduler's options, the target")
    func resumeIdentity() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let rows = (0..<300).map { "\(Double($0) / 30),\(Double($0 % 7)),\(Double($0) / 10 + 1)" }
        try ("a,b,y\n" + rows.joined(separator: "\n")).write(toFile: path("d.csv"), atomically: true, encoding: .utf8)
        let common = ["train", "--target", "y", "--optimizer", "adam", "--epochs", "4", "--scheduler", "step", "--gamma", "0.5", "-q"]
        let first = try optim(common + ["--data", path("d.csv"), "--checkpoint", path("c.ckpt")])
        #expect(first.status == 0, "\(first.stderr)")
        // The same file by another spelling: the same run.
        let respelled = try optim(common + ["--data", directory.path + "/./d.csv", "--resume", path("c.ckpt")])
        #expect(respelled.status == 0, "\(respelled.stderr)")
        let otherGamma = try optim(common.map { $0 == "0.5" ? "0.1" : $0 } + ["--data", path("d.csv"), "--resume", path("c.ckpt")])
        #expect(otherGamma.status == 2 && otherGamma.stderr.contains("its scheduler is 'step("), "\(otherGamma.stderr)")
        // Other rows at the same path: another run.
        try ("a,b,y\n" + rows.reversed().joined(separator: "\n")).write(toFile: path("d.csv"), atomically: true, encoding: .utf8)
        let changed = try optim(common + ["--data", path("d.csv"), "--resume", path("c.ckpt")])
        #expect(changed.status == 2 && changed.stderr.contains("its data_file is"), "\(changed.stderr)")
    }

    @Test("Checkpoints are binary (the optimizer's buffers as tensors), versioned and checksummed: a flipped byte is 'checksum mismatch'; --checkpoint-every keeps the last")
    func binaryCheckpoints() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let common = ["train", "--rows", "20000", "--features", "64", "--model", "mlp", "--hidden", "64", "--task", "nonlinear",
                      "--optimizer", "adam", "--epochs", "3", "--batch-size", "1024", "-q"]
        let run = try optim(common + ["--checkpoint", path("c.ckpt"), "--save", path("w.safetensors")])
        #expect(run.status == 0, "\(run.stderr)")
        let (tensors, metadata) = try SafeTensors.read(path("c.ckpt"))
        #expect(metadata["checkpoint.format"] == "2" && metadata["checkpoint.checksum"] != nil)
        #expect(tensors.keys.contains { $0.hasPrefix("optimizer.") && $0.hasSuffix(".exp_avg_sq") }, "\(tensors.keys.sorted())")
        let checkpointSize = try FileManager.default.attributesOfItem(atPath: path("c.ckpt"))[.size] as? Int ?? 0
        let weightsSize = try FileManager.default.attributesOfItem(atPath: path("w.safetensors"))[.size] as? Int ?? 0
        #expect(checkpointSize < 4 * weightsSize, "a checkpoint of \(checkpointSize) bytes for \(weightsSize) bytes of weights")
        // A byte flipped in the tensors, where nothing else would notice.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path("c.ckpt")))
        bytes[bytes.count - 100] ^= 0x40
        try bytes.write(to: URL(fileURLWithPath: path("flipped.ckpt")))
        let flipped = try optim(common + ["--resume", path("flipped.ckpt")])
        #expect(flipped.status == 1 && flipped.stderr.contains("corrupt checkpoint: checksum mismatch"), "\(flipped.stderr)")
        // With an interval longer than the run, only the end is written, and it resumes to the end.
        let sparse = try optim(common + ["--checkpoint", path("s.ckpt"), "--checkpoint-every", "3600"])
        let last = try Checkpoint.load(path("s.ckpt")).checkpoint
        #expect(sparse.status == 0 && last.epoch == 4, "\(sparse.stderr)")
    }
}
