import Foundation
import ZIPFoundation

/// The built `optim` binary: beside the test bundle (swift test builds every product).
func optimBinary() -> URL {
    let candidates = [
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("optim"),
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/optim"),
    ]
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[1]
}

struct Run {
    let status: Int32
    let stdout: String
    let stderr: String
}

/// Runs `optim` with `arguments` (and `input` on its standard input) and returns what it
/// printed and its exit status.
func optim(_ arguments: [String], input: Data? = nil, environment: [String: String] = [:], executable: String? = nil,
           arguments other: [String]? = nil) throws -> Run {
    let process = Process()
    process.executableURL = executable.map { URL(fileURLWithPath: $0) } ?? optimBinary()
    process.arguments = other ?? arguments
    if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    let stdin = Pipe()
    if input != nil { process.standardInput = stdin }
    try process.run()
    if let input {
        // Written from another thread: a large input would fill the pipe while optim has not started reading.
        let handle = stdin.fileHandleForWriting
        Thread.detachNewThread {
            handle.write(input)
            try? handle.close()
        }
    }
    let stdout = out.fileHandleForReading.readDataToEndOfFile(), stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Run(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
}

/// A fresh temporary directory for one test.
func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("optim-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// The bytes of a .npy file with the given header text and float32 payload.
func npyBytes(header: String, version: UInt8 = 1, payload: [Float]) -> Data {
    var text = header
    while (10 + text.utf8.count + 1) % 64 != 0 { text += " " }
    text += "\n"
    var data = Data([0x93] + Array("NUMPY".utf8) + [version, 0, UInt8(text.utf8.count & 0xFF), UInt8(text.utf8.count >> 8)])
    data.append(Data(text.utf8))
    payload.withUnsafeBytes { data.append(contentsOf: $0) }
    return data
}

/// A .npz archive holding the given .npy members, compressed or stored.
func npzBytes(_ members: [String: Data], compressed: Bool = false) throws -> Data {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("npz-\(UUID().uuidString).npz")
    defer { try? FileManager.default.removeItem(at: url) }
    let archive = try Archive(url: url, accessMode: .create)
    for (name, data) in members.sorted(by: { $0.key < $1.key }) {
        try archive.addEntry(with: name, type: .file, uncompressedSize: Int64(data.count),
                             compressionMethod: compressed ? .deflate : .none) { position, size in
            data.subdata(in: Int(position)..<(Int(position) + size))
        }
    }
    return try Data(contentsOf: url)
}

/// The bytes of a safetensors file: `tensors` (name → shape, values) as F32, and `metadata`.
func safetensorsBytes(metadata: [String: String], tensors: [String: ([Int], [Float])]) throws -> Data {
    var header: [String: Any] = ["__metadata__": metadata]
    var payload = Data()
    for (name, (shape, values)) in tensors.sorted(by: { $0.key < $1.key }) {
        header[name] = ["dtype": "F32", "shape": shape, "data_offsets": [payload.count, payload.count + 4 * values.count]]
        values.withUnsafeBytes { payload.append(contentsOf: $0) }
    }
    let json = try JSONSerialization.data(withJSONObject: header)
    var data = Data()
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
    return data + json + payload
}

/// Runs `script` with the tests' Python (`bash tools/setup.sh --tests` puts safetensors and numpy
/// in it), `arguments` as its `sys.argv[1...]`.
func python(_ script: String, _ arguments: [String]) throws -> Run {
    let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".build/python-tools/bin/python").path
    return try optim([], executable: path, arguments: ["-c", script] + arguments)
}
