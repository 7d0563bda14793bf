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

/// Loads the checkpoint at `path`, its state into a fresh optimizer of its model, then one step.
func load(_ path: String) {
    guard let (_, parameters, checkpoint) = try? Checkpoint.load(path), let adam = try? Adam([parameters], lr: 0.01) else { return }
    if (try? OptimizerState.load(checkpoint.optimizerState, into: adam)) != nil {
        for index in parameters.tensors.indices { parameters.setGrad(parameters.value(at: index), at: index) }
        adam.step()
    }
}

@_cdecl("fuzz_checkpoint_main")
func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { runFuzzer(argc, argv) { testOneInput($0, $1) } }
