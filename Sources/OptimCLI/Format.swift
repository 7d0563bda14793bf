import Foundation

/// Numbers as people read them in a terminal.
enum Format {
    static func fixed(_ x: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", x) }
    static func general(_ x: Double) -> String { String(format: "%.6g", x) }
    /// A share as a percentage with two significant digits ("0.16%").
    static func percent(_ x: Double) -> String { String(format: "%.2g%%", x * 100) }
    static func rate(_ x: Double) -> String {
        x >= 1e9 ? fixed(x / 1e9, 2) + "G" : x >= 1e6 ? fixed(x / 1e6, 2) + "M" : x >= 1e3 ? fixed(x / 1e3, 1) + "k" : fixed(x, 0)
    }
    static func seconds(_ x: Double) -> String { x >= 10 ? fixed(x, 1) + "s" : x >= 0.1 ? fixed(x, 2) + "s" : fixed(x * 1000, 1) + "ms" }

    /// `text` padded with spaces to `width` (on the left when `right`).
    static func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        let padding = String(repeating: " ", count: max(0, width - text.count))
        return right ? padding + text : text + padding
    }

    /// One JSON object on one line, keys sorted (JSON lines).
    static func jsonLine(_ object: [String: Any]) -> String {
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .fragmentsAllowed])
        return String(decoding: data, as: UTF8.self)
    }
}
