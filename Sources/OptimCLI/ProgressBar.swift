import DataParallel
import Foundation

/// A one-line progress bar, redrawn in place at most ten times a second: the epoch, its share
/// done, rows per second, the last minibatch's loss, and the time left; cut to the terminal's
/// width (so that it never wraps, which would leave a trail of lines), and cleared as wide.
final class ProgressBar {
    let enabled: Bool
    let epochs: Int
    private let start = ContinuousClock.now
    private var lastDraw = ContinuousClock.now
    private var drawn = 0

    init(enabled: Bool, epochs: Int) {
        self.enabled = enabled
        self.epochs = epochs
    }

    /// The terminal's columns (80 when it does not say).
    static var columns: Int {
        var size = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init) ?? 80
    }

    func update(_ progress: BatchProgress) {
        guard enabled, ContinuousClock.now - lastDraw > .milliseconds(100) else { return }
        lastDraw = ContinuousClock.now
        let position = progress.position
        let doneInEpoch = Double(position.batch + 1) / Double(progress.batchesPerEpoch)
        let overall = (Double(position.epoch - 1) + doneInEpoch) / Double(epochs)
        let elapsed = seconds(ContinuousClock.now - start)
        let rate = Double(progress.rowsDone) / max(elapsed, 1e-9)
        let eta = overall > 0 ? elapsed * (1 - overall) / overall : 0
        let text = " epoch \(position.epoch)/\(epochs) \(Int(doneInEpoch * 100))%  \(Format.rate(rate)) rows/s  loss \(Format.general(progress.loss))  ETA \(Format.seconds(eta))"
        let columns = Self.columns - 1  // the last column would wrap on some terminals
        let width = max(0, min(24, columns - text.count - 2))
        let filled = Int(doneInEpoch * Double(width))
        let bar = width > 0 ? "[" + String(repeating: "=", count: filled) + (filled < width ? ">" : "")
            + String(repeating: " ", count: max(0, width - filled - 1)) + "]" : ""
        let line = String((bar + text).prefix(columns))
        print("\r" + line + String(repeating: " ", count: max(0, drawn - line.count)), terminator: "")
        fflush(nil)
        drawn = line.count
    }

    func clear() {
        guard drawn > 0 else { return }
        print("\r" + String(repeating: " ", count: drawn) + "\r", terminator: "")
        fflush(nil)
        drawn = 0
    }
}
