#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// How much memory one run may hold at once: the machine's physical memory, or less where a
/// control group (a container, a batch scheduler's job) or `--max-memory` sets a lower limit.
///
/// Every reader asks it before it allocates what a file implies (rows × columns as float32, a
/// member an archive will unpack to, a libsvm file's dense expansion), so that a file too large
/// is one line naming the file and the figure, not an abort in the allocator or the kernel's OOM
/// killer ending the process without a word.
public enum MemoryBudget {
    /// The limit and where it comes from, for messages ("this machine's 23.4 GiB of memory").
    public struct Limit: Sendable, Equatable {
        public var bytes: Int
        public var source: String
    }

    private static let chosen = Mutex<Limit?>(nil)

    /// Holds this process to `bytes` (`--max-memory`), or back to the machine's limit with nil.
    public static func limit(to bytes: Int?, source: String = "--max-memory") {
        chosen.withLock { $0 = bytes.map { Limit(bytes: $0, source: "the \(formatBytes($0)) of \(source)") } }
    }

    /// The limit in force: `--max-memory` when given, else the smaller of physical memory and
    /// the control group's (cgroup v2 `memory.max`, v1 `memory.limit_in_bytes`).
    public static var current: Limit {
        if let limit = chosen.withLock({ $0 }) { return limit }
        return machine
    }

    /// The machine's own limit, read once.
    public static let machine: Limit = {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
        let physical = pages > 0 && pageSize > 0 ? pages.multipliedReportingOverflow(by: pageSize) : (partialValue: Int.max, overflow: true)
        var limit = Limit(bytes: physical.overflow ? Int.max : physical.partialValue, source: "")
        limit.source = "this machine's \(formatBytes(limit.bytes)) of memory"
        for file in controlGroupLimitFiles() {
            if let group = readNumber(file), group > 0, group < limit.bytes {
                limit = Limit(bytes: group, source: "the \(formatBytes(group)) limit of this process's control group (\(file))")
            }
        }
        return limit
    }()

    /// Whether `bytes` may be held at once; a negative or overflowed count never fits.
    public static func allows(_ bytes: Int) -> Bool { bytes >= 0 && bytes <= current.bytes }

    /// The bytes of rows × columns float32 values; nil when that does not fit in an Int.
    public static func floatBytes(rows: Int, columns: Int) -> Int? { valueBytes(rows: rows, columns: columns, size: 4) }

    /// rows × columns floats (4 bytes each) when that fits the budget, else nil.
    public static func floats(rows: Int, columns: Int) -> Int? { values(rows: rows, columns: columns, size: 4) }

    /// The bytes of rows × columns values of `size` bytes, or nil when that overflows.
    public static func valueBytes(rows: Int, columns: Int, size: Int) -> Int? {
        let (count, overflow) = rows.multipliedReportingOverflow(by: columns)
        guard !overflow, count >= 0, size > 0, count <= Int.max / size else { return nil }
        return count * size
    }

    /// rows × columns values of `size` bytes when that fits the budget, else nil.
    public static func values(rows: Int, columns: Int, size: Int) -> Int? {
        guard let bytes = valueBytes(rows: rows, columns: columns, size: size), allows(bytes) else { return nil }
        return bytes / size
    }

    /// "... needs 12.0 GiB; this machine's 23.4 GiB of memory (set another with --max-memory)":
    /// the end of a message refusing `bytes` (nil: more than any machine has).
    public static func refusal(_ bytes: Int?) -> String {
        let needed = bytes.map { "needs \(formatBytes($0))" } ?? "needs more bytes than any machine has"
        let limit = current
        return "\(needed), more than \(limit.source) allows" + (limit.source.hasSuffix("--max-memory") ? "" : " (--max-memory sets the limit)")
    }

    /// The files that may hold this process's memory limit: its control group's and every
    /// ancestor's (a limit set on a parent binds the children), for cgroup v2 (`memory.max`) and
    /// v1 (`memory.limit_in_bytes`), from /proc/self/cgroup.
    static func controlGroupLimitFiles() -> [String] {
        guard let text = readText("/proc/self/cgroup") else { return [] }
        var files: [String] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3, fields[2].hasPrefix("/") else { continue }
            let (root, name): (String, String)
            if fields[0] == "0" && fields[1].isEmpty {
                (root, name) = ("/sys/fs/cgroup", "memory.max")
            } else if fields[1].split(separator: ",").contains("memory") {
                (root, name) = ("/sys/fs/cgroup/memory", "memory.limit_in_bytes")
            } else {
                continue
            }
            var path = Substring(fields[2])
            while true {
                files.append(root + (path == "/" ? "" : String(path)) + "/" + name)
                guard let slash = path.lastIndex(of: "/"), path != "/" else { break }
                path = slash == path.startIndex ? "/" : path[..<slash]
            }
        }
        return files
    }

    /// A small file's text (at most 64 KiB), nil when it cannot be read.
    private static func readText(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var filled = 0
        while filled < buffer.count {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + filled, $0.count - filled) }
            guard count > 0 else { break }
            filled += count
        }
        return String(decoding: buffer[..<filled], as: UTF8.self)
    }

    /// The first number in a small file (a cgroup's limit; "max" is no limit).
    private static func readNumber(_ path: String) -> Int? {
        guard let text = readText(path) else { return nil }
        return text.split(whereSeparator: { $0 == "\n" || $0 == " " }).first.flatMap { Int($0) }
    }
}

/// Bytes for people: "512 B", "3.2 MiB", "12.0 GiB".
public func formatBytes(_ bytes: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
    var value = Double(bytes), unit = 0
    while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
    if unit == 0 { return "\(bytes) B" }
    let tenths = (value * 10).rounded() / 10
    return "\(tenths) \(units[unit])"
}

/// Parses a size such as `512M`, `2G`, `1.5GiB`, `4096` (bytes); nil when it is not one.
public func parseBytes(_ text: String) -> Int? {
    let trimmed = text.trimmingSpaces.uppercased()
    let suffixes: [(String, Double)] = [("TIB", 0x1p40), ("GIB", 0x1p30), ("MIB", 0x1p20), ("KIB", 0x1p10),
                                        ("TB", 0x1p40), ("GB", 0x1p30), ("MB", 0x1p20), ("KB", 0x1p10),
                                        ("T", 0x1p40), ("G", 0x1p30), ("M", 0x1p20), ("K", 0x1p10), ("B", 1)]
    var number = Substring(trimmed), scale = 1.0
    if let (suffix, factor) = suffixes.first(where: { trimmed.hasSuffix($0.0) }) {
        number = trimmed.dropLast(suffix.count)
        scale = factor
    }
    guard let value = Double(number.trimmingSpaces), value.isFinite, value > 0 else { return nil }
    let bytes = value * scale
    guard bytes < 0x1p62 else { return nil }
    return Int(bytes)
}
