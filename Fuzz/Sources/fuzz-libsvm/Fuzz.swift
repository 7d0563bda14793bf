import Datasets
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    withInputFile(data, size, suffix: ".svm") { path in
        _ = try? LibSVM.load(path: path)
        _ = try? LibSVM.load(path: path, features: 8, base: 0)
        // The sparse reader (what a wide file trains from), and what training asks of its rows.
        if let (rows, _) = try? LibSVM.readSparse(path: path, as: Float.self) {
            _ = try? rows.validateFinite()
            _ = try? rows.split(validationFraction: 0.5)
            _ = try? rows.gathered(rows: Array((0..<rows.rows).reversed()), name: "reversed")
        }
        _ = try? LibSVM.readSparse(path: path, features: 8, base: 1, as: Double.self)
    }
    return 0
}

@_cdecl("fuzz_libsvm_main")
func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { runFuzzer(argc, argv) { testOneInput($0, $1) } }
