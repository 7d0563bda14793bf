import Datasets
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    withInputFile(data, size, suffix: ".npy") { path in
        _ = try? NPY.load(path: path)
        _ = try? NPY.load(path: path, targetColumn: 0)
        _ = try? NPY.load(path: path, withoutTarget: true)
    }
    return 0
}

@_cdecl("fuzz_npy_main")
func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { runFuzzer(argc, argv) { testOneInput($0, $1) } }
