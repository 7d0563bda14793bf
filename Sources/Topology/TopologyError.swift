/// Why the machine's topology could not be read.
public enum TopologyError: Error, Equatable, Sendable, CustomStringConvertible {
    /// hwloc could not load the topology (the message says which call failed).
    case unavailable(String)

    public var description: String {
        switch self {
        case .unavailable(let why): "hwloc: \(why)"
        }
    }
}
