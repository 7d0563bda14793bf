import Datasets
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    withInputFile(data, size, suffix: ".csv") { path in
        _ = try? CSV.read(path: path, options: .init(target: "y"))
        _ = try? CSV.read(path: path, options: .init(target: nil, ignoring: ["b"], skippingIncompleteRows: true, id: "a"))
    }
    return 0
}

@_cdecl("fuzz_csv_main")
func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { runFuzzer(argc, argv) { testOneInput($0, $1) } }
