import DataParallel
import Foundation
import ModelIO
import Models
import Optim

/// Writes checkpoints as a fit offers them: every one, or with an interval at most one per
/// interval — always the last offered (written when the fit ends, its state unchanged since) and
/// any at an interruption.
final class CheckpointWriter {
    let path: String
    let interval: Double
    let write: (TrainingPosition) throws -> Void
    private var last = ContinuousClock.now
    private var pending: TrainingPosition?
    private(set) var written = 0
    private(set) var totalSeconds = 0.0

    init(path: String, interval: Double, write: @escaping (TrainingPosition) throws -> Void) {
        self.path = path
        self.interval = interval
        self.write = write
    }

    func offer(_ position: TrainingPosition, final: Bool) throws {
        guard final || interval <= 0 || seconds(ContinuousClock.now - last) >= interval else {
            pending = position
            return
        }
        try store(position)
    }

    /// Writes the last position offered and not yet written.
    func flush() throws {
        if let pending { try store(pending) }
    }

    private func store(_ position: TrainingPosition) throws {
        let start = ContinuousClock.now
        try write(position)
        totalSeconds += seconds(ContinuousClock.now - start)
        written += 1
        last = ContinuousClock.now
        pending = nil
    }
}

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
