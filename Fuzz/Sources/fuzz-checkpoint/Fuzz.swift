import FuzzSupport
import ModelIO
import Optim

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    withInputFile(data, size, suffix: ".ckpt") { path in
        load(path)
        // Nearly every mutation breaks the checksum: the input is also tried resealed (its
        // checksum recomputed), to reach the model and state loaders behind the check.
        if let (tensors, metadata) = try? SafeTensors.read(path), metadata["checkpoint.checksum"] != nil {
            var sealed = metadata
            sealed["checkpoint.checksum"] = Checkpoint.checksum(tensors: tensors.map { ($0.key, $0.value.values) }, metadata: metadata)
            if (try? SafeTensors.write(tensors.sorted { $0.key < $1.key }.map { (name: $0.key, tensor: $0.value) }, metadata: sealed, to: path)) != nil {
                load(path)
            }
        }
    }
    return 0
}

/// Loads the checkpoint at `path`, its state into a fresh optimizer of each kind whose state it
/// may hold (Adam, Adafactor, Muon with AdamW beside it, LBFGS), then one step of each that took it.
func load(_ path: String) {
    guard let (_, parameters, checkpoint) = try? Checkpoint.load(path) else { return }
    var candidates: [any Optimizer<Float>] = []
    if let o = try? Adam([parameters], lr: 0.01) { candidates.append(o) }
    if let o = try? Adafactor([parameters], lr: 0.01) { candidates.append(o) }
    if let o = try? Muon([parameters], lr: 0.01, others: AdamOptions(lr: 0.01, weightDecay: 0.01, decoupledWeightDecay: true)) { candidates.append(o) }
    if let o = try? LBFGS([parameters], lr: 0.5, maxIter: 2) { candidates.append(o) }
    for optimizer in candidates where (try? OptimizerState.load(checkpoint.optimizerState, into: optimizer)) != nil {
        _ = optimizer.step {
            for index in parameters.tensors.indices { parameters.setGrad(parameters.value(at: index), at: index) }
            return Double(parameters.values.array.reduce(0) { $0 + $1 * $1 })
        }
    }
    if let values = checkpoint.tensors["average"], let count = checkpoint.averageCount, let average = try? AveragedModel(parameters) {
        _ = try? average.loadStateDict(["n_averaged": .number(Double(count)), "averaged": .tensor(values.map(Double.init))])
    }
}

@_cdecl("fuzz_checkpoint_main")
func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { runFuzzer(argc, argv) { testOneInput($0, $1) } }
