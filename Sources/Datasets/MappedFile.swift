#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A file mapped read-only into memory: the page cache holds the data, so a data set larger than
/// free memory still trains (pages come and go), and reading never holds a second copy.
public final class MappedFile {
    public let path: String
    public let bytes: UnsafeRawPointer
    public let count: Int

    public init(path: String) throws(DataFileError) {
        self.path = path
        // O_NONBLOCK: opening a FIFO (a named pipe) would otherwise wait for a writer forever.
        let fd = open(path, O_RDONLY | O_NONBLOCK)
        guard fd >= 0 else { throw DataFileError(path, nil, "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw DataFileError(path, nil, "cannot read its size: \(String(cString: strerror(errno)))") }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw DataFileError(path, nil, (info.st_mode & S_IFMT) == S_IFIFO
                ? "is a pipe, not a regular file (to stream data in, use --data - and a shell pipe)" : "not a regular file")
        }
        count = Int(info.st_size)
        guard count > 0 else { throw DataFileError(path, nil, "the file is empty") }
        guard let mapping = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0), mapping != MAP_FAILED else {
            throw DataFileError(path, nil, "cannot map it into memory: \(String(cString: strerror(errno)))")
        }
        bytes = UnsafeRawPointer(mapping)
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: bytes), count) }
}

/// Writes a file so that it is either complete or absent: into a temporary file beside it,
/// flushed to disk, then renamed over the destination. A crash or an error leaves no half file.
public struct AtomicFileWriter {
    public let path: String
    private let temporaryPath: String
    private let fd: Int32
    private var buffer: [UInt8] = []

    public init(path: String) throws(DataFileError) {
        self.path = path
        temporaryPath = path + ".partial-\(getpid())"
        Self.removeStalePartials(of: path)
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw DataFileError(path, nil, "cannot create: \(String(cString: strerror(errno)))") }
    }

    public mutating func write(_ bytes: some Sequence<UInt8>) throws(DataFileError) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 22 { try flush() }
    }

    public mutating func write(raw pointer: UnsafeRawBufferPointer) throws(DataFileError) {
        try flush()
        guard writeAll(pointer) else { throw failure("cannot write: \(String(cString: strerror(errno)))") }
    }

    private func writeAll(_ pointer: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < pointer.count {
            let written = Glibc.write(fd, pointer.baseAddress! + offset, pointer.count - offset)
            guard written > 0 else { return false }
            offset += written
        }
        return true
    }

    private mutating func flush() throws(DataFileError) {
        guard !buffer.isEmpty else { return }
        let pending = buffer
        buffer.removeAll(keepingCapacity: true)
        guard pending.withUnsafeBytes({ writeAll($0) }) else { throw failure("cannot write: \(String(cString: strerror(errno)))") }
    }

    private func failure(_ message: String) -> DataFileError {
        close(fd)
        unlink(temporaryPath)
        return DataFileError(path, nil, message)
    }

    /// Flushes, syncs and renames into place.
    public mutating func commit() throws(DataFileError) {
        try flush()
        guard fsync(fd) == 0 else { throw failure("cannot sync to disk: \(String(cString: strerror(errno)))") }
        close(fd)
        guard rename(temporaryPath, path) == 0 else {
            unlink(temporaryPath)
            throw DataFileError(path, nil, "cannot move into place: \(String(cString: strerror(errno)))")
        }
        // The rename itself reaches the disk with the folder's entry.
        let folder = open(Self.folder(of: path), O_RDONLY | O_DIRECTORY)
        if folder >= 0 {
            fsync(folder)
            close(folder)
        }
    }

    static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// The paths whose folder this process has already swept (once per path: a checkpoint written
    /// every epoch into a folder of thousands of files would otherwise read the folder each time).
    private static let swept = Mutex<Set<String>>([])

    /// Removes `path.partial-PID` files whose process is gone (a run killed mid-write); those of
    /// live processes (another run writing the same file) are left alone. Once per path and process.
    static func removeStalePartials(of path: String) {
        guard swept.withLock({ $0.insert(path).inserted }) else { return }
        let folder = folder(of: path)
        let prefix = String(path[(path.lastIndex(of: "/").map { path.index(after: $0) } ?? path.startIndex)...]) + ".partial-"
        guard let directory = opendir(folder) else { return }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
            guard name.hasPrefix(prefix), let pid = Int32(name.dropFirst(prefix.count)), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { unlink(folder + "/" + name) }
        }
    }

    /// Abandons the file: the destination is untouched.
    public func discard() {
        close(fd)
        unlink(temporaryPath)
    }
}
