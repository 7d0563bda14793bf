import Datasets
import VectorMath
import Foundation
import Models
import Optim

/// A training checkpoint in one safetensors file: the parameters and every large piece of state
/// (the optimizer's buffers, early stopping's best weights) as tensors; small scalars (steps,
/// hyperparameters, the position, the schedule) as JSON metadata; what identifies the run; a
/// format version; and a checksum over all of it, checked before anything is used. Written
/// atomically, so an interrupted write leaves the previous checkpoint intact.
public struct Checkpoint {
    /// The format this code writes; older checkpoints (JSON buffers, no checksum) are format 1.
    public static let format = 2

    /// The epoch (from 1) and minibatch (from 0) to resume at.
    public var epoch: Int
    public var batch: Int
    /// The optimizer's state: its `state_dict()` with the tensors taken out (JSON), and them.
    public var optimizerState: OptimizerState.Binary
    /// The schedule's state as JSON, if there is a schedule.
    public var schedulerState: Data?
    /// Early stopping's state as JSON (its best weights in ``tensors``), if the run stops early.
    public var earlyStoppingState: Data?
    /// The convergence test's state as JSON, if the run stops on a tolerance.
    public var convergenceState: Data?
    /// Further named tensors of the run's state (early stopping's best weights, averaged weights).
    public var tensors: [String: [Float]]
    /// How many updates the averaged weights (SWA, EMA) hold, if the run averages.
    public var averageCount: Int?
    /// What must match on resume (data, model, optimizer, batch size, seed, ...).
    public var identity: [String: String]

    public init(epoch: Int, batch: Int, optimizerState: OptimizerState.Binary, schedulerState: Data?, earlyStoppingState: Data? = nil,
                convergenceState: Data? = nil, tensors: [String: [Float]] = [:], averageCount: Int? = nil, identity: [String: String]) {
        self.epoch = epoch; self.batch = batch; self.optimizerState = optimizerState; self.averageCount = averageCount
        self.schedulerState = schedulerState; self.earlyStoppingState = earlyStoppingState
        self.convergenceState = convergenceState; self.tensors = tensors; self.identity = identity
    }

    /// Writes the checkpoint with `parameters` of `model`.
    public func save(_ model: any Model, _ parameters: Parameters<Float>, to path: String) throws {
        guard let description = ModelDescription(model) else { throw DataFileError(path, nil, "cannot describe \(model.description)") }
        var metadata = identity.mapKeys { "identity." + $0 }
        metadata["format"] = "swift-optim checkpoint"
        metadata["checkpoint.format"] = "\(Self.format)"
        metadata["model"] = String(decoding: try JSONEncoder.canonical.encode(description), as: UTF8.self)
        metadata["checkpoint.epoch"] = "\(epoch)"
        metadata["checkpoint.batch"] = "\(batch)"
        metadata["checkpoint.optimizer"] = String(decoding: optimizerState.json, as: UTF8.self)
        metadata["checkpoint.optimizer_tensors"] = String(decoding: try JSONEncoder.canonical.encode(optimizerState.manifest), as: UTF8.self)
        if let schedulerState { metadata["checkpoint.scheduler"] = String(decoding: schedulerState, as: UTF8.self) }
        if let earlyStoppingState { metadata["checkpoint.early_stopping"] = String(decoding: earlyStoppingState, as: UTF8.self) }
        if let convergenceState { metadata["checkpoint.convergence"] = String(decoding: convergenceState, as: UTF8.self) }
        if let averageCount { metadata["checkpoint.average_count"] = "\(averageCount)" }
        var all = parameters.tensors.enumerated().map { index, tensor in
            (name: tensor.name, tensor: SafeTensors.Tensor(shape: tensor.shape, values: parameters.value(at: index)))
        }
        for (name, values) in optimizerState.tensors { all.append((name, SafeTensors.Tensor(shape: [values.count], values: values))) }
        for (name, values) in tensors.sorted(by: { $0.key < $1.key }) {
            all.append(("state." + name, SafeTensors.Tensor(shape: [values.count], values: values)))
        }
        metadata["checkpoint.checksum"] = Self.checksum(tensors: all.map { ($0.name, $0.tensor.values) }, metadata: metadata)
        try SafeTensors.write(all, metadata: metadata, to: path)
    }

    /// A 64-bit checksum over every tensor's name and bytes, in name order, and every metadata
    /// entry but the checksum itself, in key order: FNV-1a's multiply-xor over 8-byte words (the
    /// bytes of a tail one at a time), then a final avalanche — any flipped bit changes it.
    /// (Public for tools that check or repair checkpoints, and for the fuzzers, which reseal
    /// mutated files to reach what lies behind the check.)
    public static func checksum(tensors: [(String, [Float])], metadata: [String: String]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func add(_ bytes: UnsafeRawBufferPointer) {
            let words = bytes.count / 8
            for i in 0..<words { hash = (hash ^ bytes.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)) &* 0x100_0000_01b3 }
            for i in (8 * words)..<bytes.count { hash = (hash ^ UInt64(bytes[i])) &* 0x100_0000_01b3 }
            hash = (hash ^ UInt64(bytes.count)) &* 0x100_0000_01b3
        }
        func add(_ text: String) { var copy = text; copy.withUTF8 { add(UnsafeRawBufferPointer($0)) } }
        for (name, values) in tensors.sorted(by: { $0.0 < $1.0 }) {
            add(name)
            values.withUnsafeBytes { add($0) }
        }
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) where key != "checkpoint.checksum" {
            add(key)
            add(value)
        }
        hash ^= hash >> 33
        hash = hash &* 0xff51_afd7_ed55_8ccd
        hash ^= hash >> 33
        return String(hash, radix: 16)
    }

    /// Reads a checkpoint: the parameters (with their model) and the rest, after checking its
    /// format and checksum.
    public static func load(_ path: String) throws -> (model: any Model, parameters: Parameters<Float>, checkpoint: Checkpoint) {
        let (tensors, metadata) = try SafeTensors.read(path)
        guard let epochText = metadata["checkpoint.epoch"], let batchText = metadata["checkpoint.batch"],
              let optimizer = metadata["checkpoint.optimizer"] else {
            throw DataFileError(path, nil, "not a checkpoint (no position or optimizer state; was it written by optim train --checkpoint?)")
        }
        let format = metadata["checkpoint.format"].flatMap(Int.init) ?? 1
        guard format <= Self.format else {
            throw DataFileError(path, nil, "checkpoint format \(format) is newer than this optim reads (\(Self.format)): update optim")
        }
        if format >= 2 {
            let expected = checksum(tensors: tensors.map { ($0.key, $0.value.values) }, metadata: metadata)
            guard metadata["checkpoint.checksum"] == expected else {
                throw DataFileError(path, nil, "corrupt checkpoint: checksum mismatch (the file changed after it was written)")
            }
        }
        guard let epoch = Int(epochText), (1...(1 << 40)).contains(epoch), let batch = Int(batchText), (0...(1 << 40)).contains(batch) else {
            throw DataFileError(path, nil, "corrupt checkpoint: position epoch '\(epochText)', minibatch '\(batchText)'")
        }
        var averageCount: Int?
        if let text = metadata["checkpoint.average_count"] {
            guard let count = Int(text), (0...(1 << 50)).contains(count) else {
                throw DataFileError(path, nil, "corrupt checkpoint: average count '\(text)'")
            }
            averageCount = count
        }
        let (model, parameters) = try Weights.model(from: tensors, metadata: metadata, path: path)
        var identity: [String: String] = [:]
        for (key, value) in metadata where key.hasPrefix("identity.") { identity[String(key.dropFirst(9))] = value }
        var manifest: [OptimizerState.Binary.Entry] = []
        if let text = metadata["checkpoint.optimizer_tensors"] {
            do { manifest = try JSONDecoder().decode([OptimizerState.Binary.Entry].self, from: Data(text.utf8)) } catch {
                throw DataFileError(path, nil, "corrupt checkpoint: its list of optimizer tensors does not parse")
            }
        }
        var optimizerTensors: [String: [Float]] = [:], stateTensors: [String: [Float]] = [:]
        for entry in manifest {
            for name in entry.names {
                guard let tensor = tensors[name] else { throw DataFileError(path, nil, "corrupt checkpoint: optimizer tensor '\(name)' is missing") }
                optimizerTensors[name] = tensor.values
            }
        }
        for (name, tensor) in tensors where name.hasPrefix("state.") { stateTensors[String(name.dropFirst(6))] = tensor.values }
        let checkpoint = Checkpoint(epoch: epoch, batch: batch,
                                    optimizerState: OptimizerState.Binary(json: Data(optimizer.utf8), manifest: manifest, tensors: optimizerTensors),
                                    schedulerState: metadata["checkpoint.scheduler"].map { Data($0.utf8) },
                                    earlyStoppingState: metadata["checkpoint.early_stopping"].map { Data($0.utf8) },
                                    convergenceState: metadata["checkpoint.convergence"].map { Data($0.utf8) },
                                    tensors: stateTensors, averageCount: averageCount, identity: identity)
        return (model, parameters, checkpoint)
    }
}

/// An optimizer's state dict, whatever the optimizer: as JSON, or with its tensors apart.
public enum OptimizerState {
    /// A state dict with its tensors (`exp_avg`, LBFGS's `old_dirs`, ...) taken out as float32
    /// arrays — exact for a Float optimizer's state — and the rest (steps, hyperparameters) as
    /// JSON, where each moved value is left as an empty list.
    public struct Binary {
        /// Which tensors were moved out of which entry.
        public struct Entry: Codable, Equatable, Sendable {
            /// The parameter's index in the state dict and the state key.
            public var parameter: Int
            public var key: String
            /// The tensor names: one for a tensor, one per element for a list of tensors.
            public var names: [String]
            public var isList: Bool
        }
        public var json: Data
        public var manifest: [Entry]
        public var tensors: [(name: String, values: [Float])]

        public init(json: Data, manifest: [Entry], tensors: [String: [Float]]) {
            self.json = json
            self.manifest = manifest
            self.tensors = tensors.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        }

        init(json: Data, manifest: [Entry], orderedTensors: [(name: String, values: [Float])]) {
            self.json = json
            self.manifest = manifest
            self.tensors = orderedTensors
        }
    }

    public static func encode(_ optimizer: any Optimizer<Float>) throws -> Data {
        func open<O: Optimizer>(_ o: O) throws -> Data { try JSONEncoder.canonical.encode(o.stateDict()) }
        return try open(optimizer)
    }

    /// The state dict with its tensors apart (those exactly representable as Float; any other
    /// stays in the JSON).
    public static func encodeBinary(_ optimizer: any Optimizer<Float>) throws -> Binary {
        func open<O: Optimizer>(_ o: O) throws -> Binary where O.Scalar == Float {
            // The elementwise optimizers hand their buffers over as Floats (left in the dict as
            // empty tensors); any other tensor of the dict goes through the exactness check below.
            var (dict, apart) = o.stateDictSplittingBuffers()
            let apartKeys = Set(apart.map { "\($0.index).\($0.key)" })
            var entries: [(entry: Binary.Entry, values: [[Float]])] = apart.map {
                (Binary.Entry(parameter: $0.index, key: $0.key, names: ["optimizer.\($0.index).\($0.key)"], isList: false), [$0.values])
            }
            /// `values` as Floats when every one converts exactly (one pass, no intermediate arrays).
            func floats(_ values: [Double]) -> [Float]? {
                var exact = true
                let converted = [Float](unsafeUninitializedCapacity: values.count) { buffer, count in
                    values.withUnsafeBufferPointer { source in
                        for i in source.indices {
                            let value = Float(source[i])
                            buffer[i] = value
                            exact = exact && (Double(value) == source[i] || source[i].isNaN)
                        }
                    }
                    count = values.count
                }
                return exact ? converted : nil
            }
            for parameter in dict.state.keys.sorted() {
                for (key, value) in dict.state[parameter]!.sorted(by: { $0.key < $1.key }) where !apartKeys.contains("\(parameter).\(key)") {
                    let base = "optimizer.\(parameter).\(key)"
                    switch value {
                    case .tensor(let values):
                        guard let converted = floats(values) else { continue }
                        entries.append((.init(parameter: parameter, key: key, names: [base], isList: false), [converted]))
                        dict.state[parameter]![key] = .tensor([])
                    case .tensors(let list):
                        let converted = list.map(floats)
                        guard converted.allSatisfy({ $0 != nil }) else { continue }
                        let names = list.indices.map { "\(base).\($0)" }
                        entries.append((.init(parameter: parameter, key: key, names: names, isList: true), converted.map { $0! }))
                        dict.state[parameter]![key] = .tensors([])
                    case .number: continue
                    }
                }
            }
            // One order however the tensors were found: by parameter, then key.
            entries.sort { ($0.entry.parameter, $0.entry.key) < ($1.entry.parameter, $1.entry.key) }
            let tensors = entries.flatMap { item in zip(item.entry.names, item.values).map { (name: $0, values: $1) } }
            return Binary(json: try JSONEncoder.canonical.encode(dict), manifest: entries.map(\.entry), orderedTensors: tensors)
        }
        return try open(optimizer)
    }

    /// Loads JSON written by ``encode(_:)`` into `optimizer` (of the same kind).
    public static func load(_ data: Data, into optimizer: any Optimizer<Float>) throws {
        func open<O: Optimizer>(_ o: O) throws {
            try o.loadStateDict(JSONDecoder().decode(OptimizerStateDict<O.Options>.self, from: data))
        }
        try open(optimizer)
    }

    /// Loads a state written by ``encodeBinary(_:)`` (its tensors put back) into `optimizer`.
    public static func load(_ binary: Binary, into optimizer: any Optimizer<Float>) throws {
        func open<O: Optimizer>(_ o: O) throws {
            var dict = try JSONDecoder().decode(OptimizerStateDict<O.Options>.self, from: binary.json)
            let tensors = Dictionary(binary.tensors.map { ($0.name, $0.values) }, uniquingKeysWith: { a, _ in a })
            for entry in binary.manifest {
                guard dict.state[entry.parameter] != nil else {
                    throw OptimError(.keyError, "state of parameter \(entry.parameter) is missing, yet its tensor '\(entry.names.first ?? "")' is there")
                }
                let values = try entry.names.map { name -> [Double] in
                    guard let floats = tensors[name] else { throw OptimError(.keyError, "optimizer tensor '\(name)' is missing") }
                    return floats.map { Double($0) }
                }
                dict.state[entry.parameter]![entry.key] = entry.isList ? .tensors(values) : .tensor(values.first ?? [])
            }
            try o.loadStateDict(dict)
        }
        try open(optimizer)
    }
}

extension Dictionary where Key == String {
    func mapKeys(_ transform: (String) -> String) -> [String: Value] {
        Dictionary(uniqueKeysWithValues: map { (transform($0.key), $0.value) })
    }
}
