import ArgumentParser
import Datasets
import Foundation
import Synchronization

/// The files a command reads and the ones it writes, checked before any work: an output that is
/// a directory, whose folder is missing or read-only, or that is the same file as an input (by
/// device and inode, whatever the spelling) or as another output, is refused in the first
/// second, not after the last epoch — and never replaces the user's data.
struct FilePlan {
    var inputs: [(option: String, path: String)] = []
    var outputs: [(option: String, path: String)] = []
    /// (output option, input option) pairs that may name one file: a checkpoint that a run
    /// resumes from and keeps writing.
    var sharing: Set<[String]> = []

    mutating func read(_ option: String, _ path: String?) {
        if let path, path != "-" { inputs.append((option, path)) }
    }

    mutating func write(_ option: String, _ path: String?) {
        if let path { outputs.append((option, path)) }
    }

    /// A file's identity: its device and inode when it exists, else its canonical path.
    static func identity(_ path: String) -> String {
        var info = stat()
        if stat(path, &info) == 0 { return "inode \(info.st_dev):\(info.st_ino)" }
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        let canonical = realpath(folder, nil).map { pointer -> String in
            defer { free(pointer) }
            return String(cString: pointer)
        } ?? folder
        return "path \(canonical)/\(url.lastPathComponent)"
    }

    func check(_ command: ParsableCommand.Type) throws {
        for (option, path) in outputs {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                throw DataFileError(path, nil, "is a directory: \(option) takes a file name (\(path)/...)")
            }
            let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw DataFileError(path, nil, "cannot create: the folder \(folder) does not exist")
            }
            guard access(folder, W_OK) == 0 else {
                throw DataFileError(path, nil, "cannot create: the folder \(folder) is not writable (\(String(cString: strerror(errno))))")
            }
        }
        let inputIDs = inputs.map { ($0.option, $0.path, Self.identity($0.path)) }
        var seen: [String: (String, String)] = [:]
        for (option, path) in outputs {
            let id = Self.identity(path)
            for (inputOption, inputPath, inputID) in inputIDs where inputID == id && !sharing.contains([option, inputOption]) {
                throw UsageError(message: "\(option) \(path) is the same file as \(inputOption) \(inputPath): writing it would replace what this run reads; give another name",
                                 command: command)
            }
            if let (other, otherPath) = seen[id] {
                throw UsageError(message: "\(option) \(path) and \(other) \(otherPath) are the same file; give each its own", command: command)
            }
            seen[id] = (option, path)
        }
    }
}

/// An exclusive claim on a checkpoint path for one run (`PATH.lock`, flock'ed, holding the
/// owner's pid): a second run writing the same checkpoint is refused at once instead of the two
/// overwriting each other's state. Released (and the lock file removed) when the run ends; a
/// lock whose process died is taken over, since the kernel drops flock locks with their process.
final class CheckpointLock {
    let path: String
    private let fd: Int32

    init(checkpoint: String) throws {
        path = checkpoint + ".lock"
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw DataFileError(checkpoint, nil, "cannot create its lock file \(path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            var buffer = [UInt8](repeating: 0, count: 32)
            let count = read(fd, &buffer, 31)
            let owner = count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "?"
            close(fd)
            throw DataFileError(checkpoint, nil, "another optim run (pid \(owner)) is writing this checkpoint; give this run its own --checkpoint")
        }
        ftruncate(fd, 0)
        let pid = Array("\(getpid())\n".utf8)
        _ = pid.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
        // Errors end the process with exit(), past every deinit: remove the lock file then too.
        Self.held.withLock { $0 = path }
        atexit { CheckpointLock.held.withLock { path in if let path { unlink(path) } } }
    }

    /// The lock file this process holds, for the exit handler.
    static let held = Mutex<String?>(nil)

    deinit {
        Self.held.withLock { $0 = nil }
        unlink(path)
        close(fd)
    }
}
