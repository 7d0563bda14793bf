import DataParallel
import Foundation

/// What `optim train` prints: a line or a JSON object per epoch, and the summary.
extension Train {
    func epochLine(_ epoch: EpochReport, of total: Int, rates: Bool = true) -> String {
        var line = "epoch \(epoch.epoch)/\(total)  loss \(Format.general(epoch.trainingLoss))"
        if let v = epoch.validation {
            line += "  val_loss \(Format.general(v.loss))"
            if let r2 = v.r2 { line += "  val_r2 \(Format.fixed(r2, 4))" }
            if let accuracy = v.accuracy { line += "  val_accuracy \(Format.fixed(accuracy, 4))" }
        }
        line += "  lr \(Format.general(epoch.learningRate))  \(Format.seconds(epoch.seconds))"
        if rates { line += "  \(Format.rate(epoch.rowsPerSecond)) rows/s" }
        return line
    }

    func epochObject(_ epoch: EpochReport) -> [String: Any] {
        var object: [String: Any] = ["event": "epoch", "epoch": epoch.epoch, "loss": epoch.trainingLoss, "lr": epoch.learningRate,
                                     "epoch_seconds": epoch.seconds, "rows_per_second": epoch.rowsPerSecond]
        if let v = epoch.validation { object.merge(metricsObject(v, prefix: "val_")) { a, _ in a } }
        return object
    }

    func metricsObject(_ m: Metrics, prefix: String) -> [String: Any] {
        var object: [String: Any] = ["\(prefix)loss": m.loss]
        if let x = m.mse { object["\(prefix)mse"] = x }
        if let x = m.r2 { object["\(prefix)r2"] = x }
        if let x = m.accuracy { object["\(prefix)accuracy"] = x }
        if let x = m.logLoss { object["\(prefix)log_loss"] = x }
        return object
    }

    func summaryObject(_ report: TrainingReport) -> [String: Any] {
        var object: [String: Any] = [
            "event": "done", "epochs": report.epochs.count, "stop_reason": report.stopReason.rawValue,
            "training_seconds": report.trainingSeconds, "rows_per_second": report.rowsPerSecond,
            "bytes_per_second": report.bytesPerSecond, "compute_seconds": report.computeSeconds,
            "reduce_seconds": report.reduceSeconds, "step_seconds": report.stepSeconds,
            "workers": report.placement.workers, "processing_units": report.placement.units, "pinned": report.placement.pinned,
            "chunk_rows": report.chunkRows,
        ]
        if let m = report.finalMetrics { object.merge(metricsObject(m, prefix: "final_")) { a, _ in a } }
        if let d = report.trueWeightDistance { object["true_weight_distance"] = d }
        if let note = report.placement.note { object["placement_note"] = note }
        return object
    }

    func printSummary(_ report: TrainingReport, scoredOn: String, startEpoch: Int, rates: Bool) {
        let last = report.epochs.last?.epoch ?? startEpoch - 1
        let epochs = startEpoch > 1 ? "\(last) epoch(s), \(report.epochs.count) of them in this run," : "\(report.epochs.count) epoch(s)"
        var line = "done: \(epochs) (\(report.stopReason.rawValue)) in \(Format.seconds(report.trainingSeconds))"
        if rates {
            line += ", \(Format.rate(report.rowsPerSecond)) rows/s, \(Format.fixed(report.bytesPerSecond / 1e9, 2)) GB/s; compute \(Format.seconds(report.computeSeconds)), reduce \(Format.seconds(report.reduceSeconds)), step \(Format.seconds(report.stepSeconds))"
        }
        print(line)
        if let m = report.finalMetrics {
            var line = "final (on \(scoredOn)): loss \(Format.general(m.loss))"
            if let r2 = m.r2 { line += ", mse \(Format.general(m.mse!)), r2 \(Format.fixed(r2, 4))" }
            if let accuracy = m.accuracy { line += ", accuracy \(Format.fixed(accuracy, 4)), log_loss \(Format.general(m.logLoss!))" }
            if let d = report.trueWeightDistance { line += "; distance to the true weights \(Format.general(d))" }
            print(line)
        }
        let placement = report.placement
        print("workers: \(placement.workers), \(placement.pinned ? "pinned to PUs \(placement.units)" : "unpinned")\(placement.note.map { " (\($0))" } ?? ""); chunks of \(report.chunkRows) rows")
    }
}
