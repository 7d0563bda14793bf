import FuzzSupport
import ModelIO
import Optim

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    withInputFile(data, size, suffix: ".ckpt") { path in
        guard let (model, parameters, checkpoint) = try? Checkpoint.load(path) else { return }
        // The state into a fresh optimizer of the checkpoint's model, then one step.
        guard let adam = try? Adam([parameters], lr: 0.01) else { return }
        if (try? OptimizerState.load(checkpoint.optimizerState, into: adam)) != nil {
            for index in parameters.tensors.indices { parameters.setGrad(parameters.value(at: index), at: index) }
            adam.step()
        }
        _ = model
    }
    return 0
}

@_cdecl("fuzz_checkpoint_main")
func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { runFuzzer(argc, argv) { testOneInput($0, $1) } }
