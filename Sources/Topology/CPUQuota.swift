#if canImport(Glibc)
import Glibc
#endif

/// The CPU time this process may use, in CPUs, from its cgroup's CPU limit (`docker --cpus`,
/// Kubernetes CPU limits), which hwloc does not see: a cgroup limits time, not which CPUs. The
/// trainer uses no more workers than this by default.
public enum CPUQuota {
    /// The quota in CPUs (1.5 for "150000 100000"), the smallest along this process's cgroup and
    /// its ancestors; nil where there is none (or no cgroup file system, as on macOS).
    public static func current() -> Double? {
        #if os(Linux)
        var quotas: [Double] = []
        // /proc/self/cgroup: "0::/path" (v2), "N:cpu,cpuacct:/path" (v1); a limit may be set at
        // the process's own cgroup or at any ancestor.
        for line in readFile("/proc/self/cgroup")?.split(separator: "\n") ?? [] {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            if fields[0] == "0" && fields[1].isEmpty {
                for directory in ancestors(of: String(fields[2])) {
                    if let text = readFile("/sys/fs/cgroup\(directory)/cpu.max"), let quota = parse(cpuMax: text) { quotas.append(quota) }
                }
            } else if fields[1].split(separator: ",").contains("cpu") {
                for directory in ancestors(of: String(fields[2])) {
                    if let quota = readFile("/sys/fs/cgroup/cpu\(directory)/cpu.cfs_quota_us"),
                       let period = readFile("/sys/fs/cgroup/cpu\(directory)/cpu.cfs_period_us"),
                       let value = parse(quota: quota, period: period) {
                        quotas.append(value)
                    }
                }
            }
        }
        return quotas.min()
        #else
        return nil
        #endif
    }

    /// cgroup v2's `cpu.max`: "QUOTA PERIOD" in microseconds, or "max PERIOD" for no limit.
    public static func parse(cpuMax text: String) -> Double? {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.count == 2, fields[0] != "max" else { return nil }
        return parse(quota: String(fields[0]), period: String(fields[1]))
    }

    /// cgroup v1's `cpu.cfs_quota_us` (−1 for no limit) over `cpu.cfs_period_us`.
    public static func parse(quota: String, period: String) -> Double? {
        func number(_ s: String) -> Double? { Double(s.trimmingWhitespace) }
        guard let q = number(quota), let p = number(period), q > 0, p > 0 else { return nil }
        return q / p
    }

    /// The number of workers a quota leaves room for: the quota rounded up (a quota of 1.5 CPUs
    /// keeps two workers busy part of the time), at least 1; `limit` without a quota.
    public static func workers(within limit: Int, quota: Double? = current()) -> Int {
        guard let quota else { return max(1, limit) }
        return max(1, min(limit, Int(quota.rounded(.up))))
    }

    /// "/a/b" → ["/a/b", "/a", ""]: the cgroup and its ancestors, as paths below the mount point.
    static func ancestors(of path: String) -> [String] {
        var result: [String] = []
        var current = path.hasSuffix("/") ? String(path.dropLast()) : path
        while !current.isEmpty {
            result.append(current)
            current = current.lastIndex(of: "/").map { String(current[..<$0]) } ?? ""
        }
        return result + [""]
    }

    #if os(Linux)
    /// A small text file's contents (cgroup files are a line), or nil.
    private static func readFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        return String(decoding: buffer[..<count], as: UTF8.self)
    }
    #endif
}

extension String {
    fileprivate var trimmingWhitespace: Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return self[first...last]
    }
}
