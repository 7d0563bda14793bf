#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CGzip

/// Data that is not a plain file on disk yet — gzip-compressed, or standard input — written
/// out once to a temporary file that the readers then map like any other. The file is unlinked
/// as soon as it is mapped (a mapping keeps its pages), so nothing is left behind on any exit.
public enum Staging {
    /// A temporary file holding `path` decompressed (a `.gz` file, streamed through zlib), or
    /// standard input (`path` "-"). The caller loads it and then calls ``remove(_:)``.
    public static func stage(_ path: String) throws(DataFileError) -> String {
        let directory = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array("\(directory)/optim-data-XXXXXX".utf8CString)
        let output = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard output >= 0 else { throw DataFileError(path, nil, "cannot create a temporary file in \(directory): \(String(cString: strerror(errno)))") }
        let staged = String(cString: template)
        defer { close(output) }
        do {
            if path == "-" {
                try copy(from: STDIN_FILENO, to: output, name: "standard input")
            } else {
                try gunzip(path, to: output)
            }
        } catch {
            unlink(staged)
            throw error
        }
        return staged
    }

    public static func remove(_ staged: String) { unlink(staged) }

    /// Writes the first `count` bytes of `buffer` to `fd`, throwing with the reason on failure.
    private static func write(_ fd: Int32, _ buffer: [UInt8], _ count: Int, name: String) throws(DataFileError) {
        let failure: Int32 = buffer.withUnsafeBytes { bytes in
            var offset = 0
            while offset < count {
                let written = Glibc.write(fd, bytes.baseAddress! + offset, count - offset)
                if written > 0 { offset += written; continue }
                if written < 0 && errno == EINTR { continue }
                return written < 0 ? errno : ENOSPC
            }
            return 0
        }
        if failure != 0 {
            throw DataFileError(name, nil, "cannot write its temporary copy: \(String(cString: strerror(failure)))")
        }
    }

    private static func copy(from input: Int32, to output: Int32, name: String) throws(DataFileError) {
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress!, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw DataFileError(name, nil, "cannot read: \(String(cString: strerror(errno)))") }
            if count == 0 { return }
            try write(output, buffer, count, name: name)
        }
    }

    private static func gunzip(_ path: String, to output: Int32) throws(DataFileError) {
        let file = try MappedFile(path: path)
        var stream = z_stream()
        // 15 + 32: a zlib or gzip header, detected.
        guard swift_optim_inflate_init(&stream, 15 + 32) == Z_OK else { throw DataFileError(path, nil, "cannot start zlib") }
        defer { inflateEnd(&stream) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var consumed = 0
        while true {
            let chunk = min(file.count - consumed, Int(UInt32.max))
            stream.next_in = UnsafeMutablePointer(mutating: file.bytes.assumingMemoryBound(to: UInt8.self) + consumed)
            stream.avail_in = UInt32(chunk)
            var status: Int32 = Z_OK
            repeat {
                let produced: Int = buffer.withUnsafeMutableBytes { raw in
                    stream.next_out = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
                    stream.avail_out = UInt32(raw.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    return raw.count - Int(stream.avail_out)
                }
                guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                    throw DataFileError(path, "byte \(consumed + chunk - Int(stream.avail_in))", "not valid gzip data (zlib error \(status))")
                }
                if produced > 0 {
                    try write(output, buffer, produced, name: path)
                }
                if status == Z_STREAM_END {
                    // Concatenated gzip members (gzip a b > c) continue.
                    let used = consumed + chunk - Int(stream.avail_in)
                    guard used < file.count else { return }
                    inflateReset(&stream)
                    stream.next_in = UnsafeMutablePointer(mutating: file.bytes.assumingMemoryBound(to: UInt8.self) + used)
                    stream.avail_in = UInt32(min(file.count - used, Int(UInt32.max)))
                    consumed = used
                    status = Z_OK
                    continue
                }
            } while stream.avail_out == 0 || stream.avail_in > 0
            consumed += chunk - Int(stream.avail_in)
            guard consumed < file.count else {
                throw DataFileError(path, "byte \(file.count)", "truncated: the gzip data ends before its end marker")
            }
        }
    }
}
