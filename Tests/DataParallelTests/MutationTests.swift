import DataParallel
import Datasets
import Foundation
import ModelIO
import Models
import Optim
import Testing

/// Seeded mutations of valid files through every reader, in process: each must load or throw,
/// never trap (a trap ends the test run, naming the seed in the last printed line).
@Suite("Mutated inputs")
struct MutationTests {
    /// Deterministic mutations: flipped bits, bytes set to 0, 0xFF or a digit, runs deleted,
    /// duplicated or truncated, numbers in headers replaced by huge ones.
    struct Mutator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }

        mutating func mutate(_ input: Data) -> Data {
            var bytes = [UInt8](input)
            for _ in 0...below(4) {
                guard !bytes.isEmpty else { break }
                let at = below(bytes.count)
                switch below(8) {
                case 0: bytes[at] ^= UInt8(1 << below(8))
                case 1: bytes[at] = [0, 0xFF, 0x7F, 0x80][below(4)]
                case 2: bytes[at] = UInt8(ascii: "0") + UInt8(below(10))
                case 3: bytes.removeSubrange(at..<min(bytes.count, at + 1 + below(16)))
                case 4: bytes.insert(contentsOf: bytes[at..<min(bytes.count, at + 1 + below(16))], at: at)
                case 5: bytes = Array(bytes.prefix(at))
                case 6: bytes.insert(contentsOf: Array(["9223372036854775807", "1e300", "-1", "nan", "4294967296"][below(5)].utf8), at: at)
                default: bytes[at] = UInt8(truncatingIfNeeded: next())
                }
            }
            return Data(bytes)
        }
    }

    /// A directory for one test's files.
    func directory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("optim-mutations-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Runs `read` on `count` mutations of `seed`; returns how many loaded.
    func mutations(of seed: Data, count: Int, seedValue: UInt64, name: String, _ read: (String) throws -> Void) throws -> Int {
        let folder = try directory()
        defer { try? FileManager.default.removeItem(at: folder) }
        var mutator = Mutator(state: seedValue)
        var loaded = 0
        for i in 0..<count {
            let path = folder.appendingPathComponent("\(i)-\(name)").path
            try mutator.mutate(seed).write(to: URL(fileURLWithPath: path))
            do { try read(path); loaded += 1 } catch {}
            try? FileManager.default.removeItem(atPath: path)
        }
        return loaded
    }

    @Test("CSV, libsvm, .npy and .npz readers: 1,500 mutations each load or throw")
    func dataReaders() throws {
        let csv = Data(("a,b,\"c d\",y\n" + (0..<20).map { "\($0).5,-\($0)e-3,\"\($0)\",\($0 % 3)" }.joined(separator: "\n")).utf8)
        let svm = Data((0..<20).map { "\($0 % 2) 1:\($0).25 4:-\($0) 7:1e-\($0 % 5) # c" }.joined(separator: "\n").utf8)
        var npy = Data([0x93] + Array("NUMPY".utf8) + [1, 0, 118, 0])
        npy.append(Data("{'descr': '<f4', 'fortran_order': False, 'shape': (10, 3), }".padding(toLength: 117, withPad: " ", startingAt: 0).utf8) + Data([0x0A]))
        (0..<30).map { Float($0) }.withUnsafeBytes { npy.append(contentsOf: $0) }
        let loadedCSV = try mutations(of: csv, count: 1500, seedValue: 1, name: "t.csv") { _ = try CSV.read(path: $0, options: .init(target: "y")) }
        let loadedSVM = try mutations(of: svm, count: 1500, seedValue: 2, name: "t.svm") { _ = try LibSVM.load(path: $0) }
        let loadedNPY = try mutations(of: npy, count: 1500, seedValue: 3, name: "t.npy") { _ = try NPY.load(path: $0) }
        #expect(loadedCSV > 0 && loadedSVM > 0 && loadedNPY > 0, "no mutation loaded: the seeds are not valid files")
    }

    @Test("Weights and checkpoints: 1,500 mutations each load or throw")
    func weightFiles() throws {
        let folder = try directory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = MLP(features: 3, hidden: [4], outputs: 1, activation: .relu, loss: .mse)
        let parameters = model.makeParameters(seed: 1)
        let weights = folder.appendingPathComponent("w.safetensors").path
        try Weights.save(model, parameters, notes: ["classes": "[\"a\",\"b\"]"], to: weights)
        let optimizer = try Adam([parameters], lr: 0.1)
        for (index, tensor) in parameters.tensors.enumerated() { parameters.setGrad([Float](repeating: 0.5, count: tensor.count), at: index) }
        optimizer.step()
        let checkpoint = folder.appendingPathComponent("c.ckpt").path
        try Checkpoint(epoch: 2, batch: 0, optimizerState: try OptimizerState.encodeBinary(optimizer), schedulerState: nil,
                       identity: ["data": "x"]).save(model, parameters, to: checkpoint)
        let loadedWeights = try mutations(of: try Data(contentsOf: URL(fileURLWithPath: weights)), count: 1500, seedValue: 4, name: "w.safetensors") {
            _ = try Weights.load($0)
        }
        func loadCheckpoint(_ path: String) throws {
            let (_, _, state) = try Checkpoint.load(path)
            let fresh = try Adam([model.makeParameters(seed: 1)], lr: 0.1)
            try OptimizerState.load(state.optimizerState, into: fresh)
        }
        // Nearly every mutation breaks the checksum, which stops it at the door; each is also
        // tried resealed (its checksum recomputed), which takes it on to the model and state
        // loaders behind the checksum.
        var loadedSealed = 0
        let loadedCheckpoints = try mutations(of: try Data(contentsOf: URL(fileURLWithPath: checkpoint)), count: 1500, seedValue: 5, name: "c.ckpt") { path in
            if let (tensors, metadata) = try? SafeTensors.read(path), metadata["checkpoint.checksum"] != nil {
                var sealed = metadata
                sealed["checkpoint.checksum"] = Checkpoint.checksum(tensors: tensors.map { ($0.key, $0.value.values) }, metadata: metadata)
                let resealed = path + ".sealed"
                defer { try? FileManager.default.removeItem(atPath: resealed) }
                if (try? SafeTensors.write(tensors.sorted { $0.key < $1.key }.map { (name: $0.key, tensor: $0.value) }, metadata: sealed, to: resealed)) != nil,
                   (try? loadCheckpoint(resealed)) != nil {
                    loadedSealed += 1
                }
            }
            try loadCheckpoint(path)
        }
        #expect(loadedWeights > 0 && loadedSealed > 0, "no mutation loaded: weights \(loadedWeights), checkpoints \(loadedCheckpoints), resealed \(loadedSealed)")
    }

    @Test("loadStateDict of every optimizer and of the schedulers: 500 mutations of each state dict's JSON load or throw")
    func stateDicts() throws {
        func run<O: Optimizer>(_ make: (Parameters<Float>) throws -> O, seed: UInt64) throws where O.Scalar == Float {
            let parameters = Parameters<Float>(["weight": [1, -2, 3], "bias": [0.5]])
            let optimizer = try make(parameters)
            /// One step on ‖θ‖² (LBFGS evaluates the closure several times).
            func step() {
                _ = optimizer.step {
                    optimizer.zeroGrad(setToNone: true)
                    for index in parameters.tensors.indices { parameters.setGrad(parameters.value(at: index).map { 2 * $0 }, at: index) }
                    return Double(parameters.values.array.reduce(0) { $0 + $1 * $1 })
                }
            }
            for _ in 0..<3 { step() }
            let json = try JSONEncoder().encode(optimizer.stateDict())
            _ = try mutations(of: json, count: 500, seedValue: seed, name: "state.json") { path in
                let dict = try JSONDecoder().decode(OptimizerStateDict<O.Options>.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
                try optimizer.loadStateDict(dict)
                step()
            }
        }
        try run({ try SGD([$0], lr: 0.1, momentum: 0.9) }, seed: 10)
        try run({ try Adam([$0], lr: 0.1, amsgrad: true) }, seed: 11)
        try run({ try AdamW([$0], lr: 0.1) }, seed: 12)
        try run({ try Adagrad([$0], lr: 0.1) }, seed: 13)
        try run({ try RMSprop([$0], lr: 0.01, momentum: 0.5, centered: true) }, seed: 14)
        try run({ try Adadelta([$0]) }, seed: 15)
        try run({ try Adamax([$0]) }, seed: 16)
        try run({ try ASGD([$0], t0: 1) }, seed: 17)
        try run({ try NAdam([$0]) }, seed: 18)
        try run({ try RAdam([$0]) }, seed: 19)
        try run({ try Rprop([$0]) }, seed: 20)
        try run({ try LBFGS([$0], lr: 0.5, maxIter: 3, lineSearchFn: .strongWolfe) }, seed: 21)
        try run({ try Adafactor([$0], lr: 0.1, weightDecay: 0.01) }, seed: 22)
        try run({ try Muon([$0], lr: 0.02, others: AdamOptions(lr: 0.01, weightDecay: 0.01, decoupledWeightDecay: true)) }, seed: 23)

        let optimizer = try SGD([Parameters<Double>(["weight": [1]])], lr: 0.1)
        let schedulers: [any Scheduler] = [try StepLR(optimizer, stepSize: 2), try CosineAnnealingLR(optimizer, tMax: 5),
                                           try CosineAnnealingWarmRestarts(optimizer, t0: 3), try OneCycleLR(optimizer, maxLR: [1], totalSteps: 20),
                                           try CyclicLR(optimizer, baseLR: [0.01], maxLR: [0.1])]
        for (index, scheduler) in schedulers.enumerated() {
            try scheduler.step()
            let json = try JSONEncoder().encode(scheduler.stateDict())
            _ = try mutations(of: json, count: 500, seedValue: 30 + UInt64(index), name: "scheduler.json") { path in
                try scheduler.loadStateDict(JSONDecoder().decode([String: StateValue].self, from: Data(contentsOf: URL(fileURLWithPath: path))))
                try scheduler.step()
            }
        }
    }

    @Test("The fuzzers' seed corpus and every crasher kept from fuzzing (Fuzz/Corpus, Fuzz/Crashers) load or throw")
    func corpus() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var replayed = 0
        for folder in ["Corpus", "Crashers"] {
            let base = root.appendingPathComponent("Fuzz/\(folder)")
            guard let targets = try? FileManager.default.contentsOfDirectory(atPath: base.path) else { continue }
            for target in targets {
                let files = (try? FileManager.default.contentsOfDirectory(atPath: base.appendingPathComponent(target).path)) ?? []
                for file in files {
                    let path = base.appendingPathComponent(target).appendingPathComponent(file).path
                    switch target {
                    case "csv": _ = try? CSV.read(path: path, options: .init(target: "y"))
                    case "libsvm": _ = try? LibSVM.load(path: path)
                    case "npy": _ = try? NPY.load(path: path)
                    case "npz": _ = try? NPZ.load(path: path)
                    case "safetensors": _ = try? Weights.load(path)
                    case "checkpoint":
                        if let (_, parameters, checkpoint) = try? Checkpoint.load(path), let adam = try? Adam([parameters], lr: 0.01) {
                            _ = try? OptimizerState.load(checkpoint.optimizerState, into: adam)
                        }
                    default: _ = try? Data(contentsOf: URL(fileURLWithPath: path))
                    }
                    replayed += 1
                }
            }
        }
        #expect(replayed >= 10, "the corpus is missing: \(replayed) files")
    }
}
