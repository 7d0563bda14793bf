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

    @Test("SIGKILL at random moments while checkpoints are written: the checkpoint there always loads, and resuming ends bitwise as an uninterrupted run; a second run on the same checkpoint is refused")
    func killedWhileCheckpointing() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        // A checkpoint every epoch, epochs of a few tens of milliseconds.
        let common = ["train", "--rows", "30000", "--features", "32", "--model", "mlp", "--hidden", "64", "--task", "nonlinear",
                      "--optimizer", "adam", "--epochs", "30", "--tol", "0", "--batch-size", "512", "-q"]
        let straight = try optim(common + ["--save", path("straight.safetensors")])
        #expect(straight.status == 0, "\(straight.stderr)")
        var random = TestRandom(seed: 5)
        var killed = 0
        for round in 0..<8 {
            let process = Process()
            process.executableURL = optimBinary()
            let resuming = FileManager.default.fileExists(atPath: path("run.ckpt"))
            process.arguments = common + ["--checkpoint", path("run.ckpt")] + (resuming ? ["--resume", path("run.ckpt")] : [])
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            if round == 0 {
                // Meanwhile, a second run onto the same checkpoint.
                Thread.sleep(forTimeInterval: 0.3)
                let second = try optim(common + ["--checkpoint", path("run.ckpt")])
                #expect(second.status == 1 && second.stderr.contains("another optim run (pid \(process.processIdentifier)) is writing this checkpoint"), "\(second.stderr)")
            }
            Thread.sleep(forTimeInterval: 0.2 + random.uniform() * 0.5)
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                killed += 1
            }
            process.waitUntilExit()
            if FileManager.default.fileExists(atPath: path("run.ckpt")) {
                #expect(throws: Never.self, "round \(round): the checkpoint left by SIGKILL does not load") { _ = try Checkpoint.load(path("run.ckpt")) }
            }
        }
        #expect(killed > 0, "no run was killed mid-way")
        let finished = try optim(common + ["--checkpoint", path("run.ckpt"), "--resume", path("run.ckpt"), "--save", path("resumed.safetensors")])
        #expect(finished.status == 0, "\(finished.stderr)")
        let a = try SafeTensors.read(path("straight.safetensors")).tensors, b = try SafeTensors.read(path("resumed.safetensors")).tensors
        #expect(a == b, "after \(killed) SIGKILLs and resumes the weights differ from an uninterrupted run's")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains(".partial") || $0.hasSuffix(".lock") }
        #expect(leftovers.isEmpty, "left behind: \(leftovers)")
    }

    @Test("A pipe as --data is refused at once instead of waiting for a writer")
    func fifo() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let fifo = directory.appendingPathComponent("data").path
        #expect(mkfifo(fifo, 0o644) == 0)
        for name in [fifo] {
            let run = try optim(["train", "--data", name])
            #expect(run.status == 1 && run.stderr.contains("is a pipe, not a regular file"), "\(run.stderr)")
        }
    }

    @Test("A full disk: a clear error, no partial file, the previous checkpoint intact; a read-only folder is refused before any work")
    func fullDiskAndReadOnly() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let disk = directory.appendingPathComponent("disk").path
        try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
        // A 300 KiB file system: room for one checkpoint of this MLP (206 KB) and not a second.
        guard shell("mount -t tmpfs -o size=300k tmpfs '\(disk)'") == 0 else {
            print("skipped: cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)")
            return
        }
        defer { _ = shell("umount '\(disk)'") }
        let run = ["train", "--rows", "2000", "--features", "64", "--model", "mlp", "--hidden", "256", "--epochs", "2"]
        let first = try optim(run + ["--checkpoint", directory.appendingPathComponent("c.ckpt").path, "-q"])
        #expect(first.status == 0, "\(first.stderr)")
        let previous = try Data(contentsOf: directory.appendingPathComponent("c.ckpt"))
        try previous.write(to: URL(fileURLWithPath: disk + "/c.ckpt"))
        _ = shell("dd if=/dev/zero of='\(disk)/fill' bs=1k 2>/dev/null")  // fills the rest
        let full = try optim(run + ["--checkpoint", disk + "/c.ckpt", "--save", disk + "/w.safetensors"])
        #expect(full.status == 1 && full.stderr.contains("No space left on device"), "exit \(full.status): \(full.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: disk + "/c.ckpt")) == previous, "the previous checkpoint changed")
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: disk)) == ["c.ckpt", "fill"], "left behind on the full disk")

        #expect(shell("mount -o remount,ro '\(disk)'") == 0)
        for output in [["--save", disk + "/w.safetensors"], ["--checkpoint", disk + "/new.ckpt"]] {
            let readOnly = try optim(run + output)
            #expect(readOnly.status == 1 && readOnly.stderr.contains("is not writable (Read-only file system)"), "\(readOnly.stderr)")
            #expect(!readOnly.stdout.contains("epoch "), "trained before refusing a read-only folder")
        }
    }

    @Test("Memory budgets: a file whose dense form, or a model that, needs more than --max-memory, or a control group's limit, is refused naming the figure")
    func memoryBudgets() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // Three rows, one index of 10,000,000: 114 MiB as dense floats, from 40 bytes.
        let file = directory.appendingPathComponent("wide.svm").path
        try Data("1 1:0.5\n0 10000000:1\n1 2:3\n".utf8).write(to: URL(fileURLWithPath: file))
        let limited = try optim(["train", "--data", file, "--max-memory", "64M", "--dense"])
        #expect(limited.status == 1 && limited.stderr.contains("\(file): 3 rows × 10000000 dense values")
                && limited.stderr.contains("needs 114.4 MiB, more than the 64.0 MiB of --max-memory allows"), "\(limited.stderr)")
        // As sparse rows (the default for such a file) the data is 40 bytes; the model's 10M
        // weights with their gradient and optimizer state are what does not fit.
        let sparse = try optim(["train", "--data", file, "--max-memory", "64M"])
        #expect(sparse.status == 2 && sparse.stderr.contains("the logistic model for 10000000 features has 10000001 parameters")
                && sparse.stderr.contains("needs 305.2 MiB, more than the 64.0 MiB of --max-memory allows"), "\(sparse.stderr)")
        for bad in ["lots", "-1G", "0", "1e30"] {
            let run = try optim(["train", "--data", file, "--max-memory=\(bad)"])
            #expect(run.status == 2 && run.stderr.contains("--max-memory takes a size"), "\(bad): \(run.stderr)")
        }
        // Under a 64 MiB memory control group (a container's limit) the same file is refused by
        // itself, where it would otherwise be killed by the kernel without a word.
        let group = "/sys/fs/cgroup/memory/optim-test-\(getpid())"
        guard (try? FileManager.default.createDirectory(atPath: group, withIntermediateDirectories: false)) != nil else {
            print("skipped: cannot create a cgroup v1 memory group here (needs root and a writable /sys/fs/cgroup/memory)")
            return
        }
        defer { _ = rmdir(group) }
        try Data("64M".utf8).write(to: URL(fileURLWithPath: group + "/memory.limit_in_bytes"))
        let contained = try optim([], executable: "/bin/sh",
                                  arguments: ["-c", "echo $$ > \(group)/cgroup.procs && exec '\(optimBinary().path)' train --data '\(file)'"])
        #expect(contained.status == 2 && contained.stderr.contains("needs 305.2 MiB, more than the 64.0 MiB limit of this process's control group"),
                "exit \(contained.status): \(contained.stderr)")
    }
}

/// Runs `command` with /bin/sh; its exit status.
private func shell(_ command: String) -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return -1 }
    process.waitUntilExit()
    return process.terminationStatus
}
