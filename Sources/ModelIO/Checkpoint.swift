import Datasets
import Foundation
import Models
import Optim

/// A training checkpoint in one safetensors file: the parameters as tensors; the optimizer's
/// state dict and the schedule's state (torch's layouts, as JSON), the position to resume from,
/// and what identifies the run, as metadata. Written atomically, so an interrupted write leaves
/// the previous checkpoint intact.
public struct Checkpoint {
    /// The epoch (from 1) and minibatch (from 0) to resume at.
    public var epoch: Int
    public var batch: Int
    /// The optimizer's `state_dict()` as JSON.
    public var optimizerState: Data
    /// The schedule's state as JSON, if there is a schedule.
    public var schedulerState: Data?
    /// Early stopping's state as JSON (best loss, its weights, epochs since), if the run stops early.
    public var earlyStoppingState: Data?
    /// What must match on resume (data, model, optimizer, batch size, seed).
    public var identity: [String: String]
    /// The convergence test's state as JSON, if the run stops on a tolerance.
    public var convergenceState: Data?

    public init(epoch: Int, batch: Int, optimizerState: Data, schedulerState: Data?, earlyStoppingState: Data? = nil,
                identity: [String: String]) {
        self.epoch = epoch; self.batch = batch; self.optimizerState = optimizerState
        self.schedulerState = schedulerState; self.earlyStoppingState = earlyStoppingState; self.identity = identity
    }

    /// Writes the checkpoint with `parameters` of `model`.
    public func save(_ model: any Model, _ parameters: Parameters<Float>, to path: String) throws {
        var notes = identity.mapKeys { "identity." + $0 }
        notes["checkpoint.epoch"] = "\(epoch)"
        notes["checkpoint.batch"] = "\(batch)"
        notes["checkpoint.optimizer"] = String(decoding: optimizerState, as: UTF8.self)
        if let schedulerState { notes["checkpoint.scheduler"] = String(decoding: schedulerState, as: UTF8.self) }
        if let earlyStoppingState { notes["checkpoint.early_stopping"] = String(decoding: earlyStoppingState, as: UTF8.self) }
        if let convergenceState { notes["checkpoint.convergence"] = String(decoding: convergenceState, as: UTF8.self) }
        try Weights.save(model, parameters, notes: notes, to: path)
    }

    /// Reads a checkpoint: the parameters (with their model) and the rest.
    public static func load(_ path: String) throws -> (model: any Model, parameters: Parameters<Float>, checkpoint: Checkpoint) {
        let (model, parameters, metadata) = try Weights.load(path)
        guard let epoch = metadata["checkpoint.epoch"].flatMap(Int.init), let batch = metadata["checkpoint.batch"].flatMap(Int.init),
              let optimizer = metadata["checkpoint.optimizer"] else {
            throw DataFileError(path, nil, "not a checkpoint (no position or optimizer state; was it written by optim train --checkpoint?)")
        }
        var identity: [String: String] = [:]
        for (key, value) in metadata where key.hasPrefix("identity.") { identity[String(key.dropFirst(9))] = value }
        var checkpoint = Checkpoint(epoch: epoch, batch: batch, optimizerState: Data(optimizer.utf8),
                                    schedulerState: metadata["checkpoint.scheduler"].map { Data($0.utf8) },
                                    earlyStoppingState: metadata["checkpoint.early_stopping"].map { Data($0.utf8) },
                                    identity: identity)
        checkpoint.convergenceState = metadata["checkpoint.convergence"].map { Data($0.utf8) }
        return (model, parameters, checkpoint)
    }
}

/// An optimizer's state dict as JSON, whatever the optimizer.
public enum OptimizerState {
    public static func encode(_ optimizer: any Optimizer<Float>) throws -> Data {
        func open<O: Optimizer>(_ o: O) throws -> Data { try JSONEncoder().encode(o.stateDict()) }
        return try open(optimizer)
    }

    /// Loads JSON written by ``encode(_:)`` into `optimizer` (of the same kind).
    public static func load(_ data: Data, into optimizer: any Optimizer<Float>) throws {
        func open<O: Optimizer>(_ o: O) throws {
            try o.loadStateDict(JSONDecoder().decode(OptimizerStateDict<O.Options>.self, from: data))
        }
        try open(optimizer)
    }
}

extension Dictionary where Key == String {
    func mapKeys(_ transform: (String) -> String) -> [String: Value] {
        Dictionary(uniqueKeysWithValues: map { (transform($0.key), $0.value) })
    }
}
