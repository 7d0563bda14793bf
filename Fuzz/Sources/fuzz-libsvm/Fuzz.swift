import Datasets
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    withInputFile(data, size, suffix: ".svm") { path in
        _ = try? LibSVM.load(path: path)
        _ = try? LibSVM.load(path: path, features: 8, base: 0)
    }
    return 0
}

@_cdecl("fuzz_libsvm_main")
func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { runFuzzer(argc, argv) { testOneInput($0, $1) } }
