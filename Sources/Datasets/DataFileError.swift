/// A data file that cannot be read: the file, where in it (line or byte offset), and what was
/// expected there.
public struct DataFileError: Error, Equatable, Sendable, CustomStringConvertible {
    public let path: String
    /// "line 12", "byte 80", or nil when the problem is the whole file.
    public let location: String?
    public let message: String

    public init(_ path: String, _ location: String? = nil, _ message: String) {
        self.path = path
        self.location = location
        self.message = message
    }

    public var description: String {
        location.map { "\(path), \($0): \(message)" } ?? "\(path): \(message)"
    }
}
