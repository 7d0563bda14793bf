import DataParallel
import Foundation
import ModelIO
import Models
import Optim

/// The loss became infinite or NaN: what to change.
struct DivergedError: Error, CustomStringConvertible {
    let epoch: Int, batch: Int, loss: Double, hint: String, epochs: Int
    var description: String {
        "the loss diverged (\(loss)) at epoch \(epoch), minibatch \(batch): \(hint)"
    }
}

/// `value` as compact JSON text (metadata values are strings).
func jsonText(_ value: Any) -> String {
    guard let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed]) else { return "\(value)" }
    return String(decoding: data, as: UTF8.self)
}

/// Class names in a line: all of them when few.
enum TargetSummaryList {
    static func text(_ names: [String]) -> String {
        names.count <= 8 ? names.joined(separator: ", ") : names.prefix(6).joined(separator: ", ") + ", ... (\(names.count))"
    }
}

/// A model as a JSON object (kind, sizes, loss).
enum ModelDescriptionText {
    static func object(_ model: any Model) -> [String: Any] {
        guard let description = ModelDescription(model), let data = try? JSONEncoder.canonical.encode(description),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return ["description": model.description] }
        return object
    }
}

/// Training (or another long command) stopped on Ctrl-C or SIGTERM.
struct InterruptedError: Error, CustomStringConvertible {
    let checkpoint: String?
    var message: String?
    init(checkpoint: String?, message: String? = nil) {
        self.checkpoint = checkpoint
        self.message = message
    }
    var description: String {
        message ?? "interrupted" + (checkpoint.map { "; resume with --resume \($0)" } ?? " (no --checkpoint was given: progress is lost)")
    }
}
