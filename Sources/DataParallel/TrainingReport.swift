/// One epoch of a fit.
public struct EpochReport: Sendable, Equatable, Codable {
    /// 1 for the first epoch.
    public var epoch: Int
    /// Mean of the minibatch losses of the epoch (each computed before its step).
    public var trainingLoss: Double
    /// Metrics on the validation data after the epoch, if there is any.
    public var validation: Metrics?
    /// The learning rate of group 0 during the epoch.
    public var learningRate: Double
    /// Wall time of the epoch's training (not its validation).
    public var seconds: Double
    /// Rows trained on per second during the epoch.
    public var rowsPerSecond: Double
}

/// Why a fit ended.
public enum StopReason: String, Sendable, Codable {
    /// Every epoch ran.
    case completed
    /// The validation loss stopped improving (early stopping); the best weights were kept.
    case earlyStopped = "early_stopped"
    /// A ``CancellationFlag`` was raised; the weights are those after the last full step.
    case cancelled
    /// The training objective stopped improving by the tolerance (``FitConfiguration/Convergence``).
    case converged
}

/// What a fit did and how fast.
public struct TrainingReport: Sendable, Equatable, Codable {
    public var epochs: [EpochReport] = []
    public var stopReason: StopReason = .completed
    /// Metrics on the validation data (or, without any, the training data) at the end.
    public var finalMetrics: Metrics?
    /// ‖θ − θ*‖ / ‖θ*‖ against the weights that generated the data, when known.
    public var trueWeightDistance: Double?
    /// Rows processed by minibatch steps (per epoch × epochs).
    public var rowsProcessed = 0
    /// Bytes of features and targets those steps read.
    public var bytesRead = 0
    /// Rows per partial gradient: fits with the same value (and everything else the same) end
    /// with bitwise the same weights, whatever their worker counts.
    public var chunkRows = 0
    /// Wall time of training, excluding validation.
    public var trainingSeconds = 0.0
    /// Time in the parallel gradient kernels.
    public var computeSeconds = 0.0
    /// Time reducing partial gradients.
    public var reduceSeconds = 0.0
    /// Time in the optimizer's own update.
    public var stepSeconds = 0.0
    /// Where the workers ran.
    public var placement = Placement(workers: 1, units: [], pinned: false, note: nil)

    /// Rows per second of training.
    public var rowsPerSecond: Double { trainingSeconds > 0 ? Double(rowsProcessed) / trainingSeconds : 0 }
    /// Bytes of data read per second of training.
    public var bytesPerSecond: Double { trainingSeconds > 0 ? Double(bytesRead) / trainingSeconds : 0 }
}

/// Why a fit could not run or did not finish.
public enum TrainingError: Error, Equatable, CustomStringConvertible {
    /// A setting is out of range (batch size 0, no epochs, ...).
    case invalidConfiguration(String)
    /// The data does not fit the model (shapes, targets, non-finite values).
    case incompatibleData(String)
    /// The loss became NaN or infinite; the parameters hold the last weights with a finite loss.
    case diverged(epoch: Int, batch: Int, loss: Double, report: TrainingReport)
    /// The checkpoint callback failed (the message says why); training stopped there.
    case checkpointFailed(String)
    /// Another rank of the cluster failed before training (it reported why); this one stopped with it.
    case peerFailed(rank: Int)
    /// The ranks' weights differ after an epoch (different binaries or C libraries on different hosts?).
    case replicasDiffer(epoch: Int)

    public var description: String {
        switch self {
        case .invalidConfiguration(let why): "invalid configuration: \(why)"
        case .incompatibleData(let why): why
        case let .diverged(epoch, batch, loss, _):
            "training diverged: the loss was \(loss) at epoch \(epoch), minibatch \(batch); the weights of the last finite loss were kept (try a lower learning rate)"
        case .checkpointFailed(let why): "cannot write the checkpoint: \(why)"
        case .peerFailed(let rank): "rank \(rank) of the cluster failed (its message says why)"
        case .replicasDiffer(let epoch):
            "the ranks' weights differ after epoch \(epoch): every host must run the same optim binary on the same C library"
        }
    }
}
