import Foundation

/// libFuzzer's driver (`-sanitize=fuzzer` links it): runs `callback` on generated inputs.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// Runs the fuzzer from a SwiftPM executable's entry point (SwiftPM links `main` to
/// `<target>_main`, which each target defines to call this).
public func runFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                      _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, callback)
}

/// The input as a file (the readers take paths: they map files), in shared memory when there is
/// some; removed after `body`.
public func withInputFile(_ data: UnsafePointer<UInt8>?, _ size: Int, suffix: String, _ body: (String) -> Void) {
    let folder = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    let path = "\(folder)/optim-fuzz-\(getpid())\(suffix)"
    FileManager.default.createFile(atPath: path, contents: data.map { Data(bytes: $0, count: size) } ?? Data())
    body(path)
    unlink(path)
}
