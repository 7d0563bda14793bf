import FuzzSupport
import ModelIO

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    withInputFile(data, size, suffix: ".npz") { path in
        _ = try? NPZ.load(path: path)
        _ = try? NPZ.loadSparse(path: path, requireTargets: false, as: Double.self)
    }
    return 0
}

@_cdecl("fuzz_npz_main")
func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { runFuzzer(argc, argv) { testOneInput($0, $1) } }
