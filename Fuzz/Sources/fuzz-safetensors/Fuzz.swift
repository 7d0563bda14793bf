import FuzzSupport
import ModelIO

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    withInputFile(data, size, suffix: ".safetensors") { path in _ = try? Weights.load(path) }
    return 0
}

@_cdecl("fuzz_safetensors_main")
func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { runFuzzer(argc, argv) { testOneInput($0, $1) } }
