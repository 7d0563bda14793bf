import Datasets
import VectorMath
import Foundation
import Optim

/// The safetensors format (Hugging Face): an 8-byte little-endian header length, a JSON header
/// naming each tensor's dtype, shape and byte range, string metadata under `__metadata__`, then
/// the tensors' bytes. Python reads the files with `safetensors.numpy.load_file` or
/// `safetensors.torch.load_file`.
public enum SafeTensors {
    /// A float32 tensor, or a float64 one (`doubles` then holds its values exactly, `values`
    /// them rounded to Float).
    public struct Tensor: Equatable, Sendable {
        public var shape: [Int]
        public var values: [Float]
        /// The values of an F64 tensor; nil for F32.
        public var doubles: [Double]?
        public init(shape: [Int], values: [Float]) {
            self.shape = shape
            self.values = values
        }
        /// An F64 tensor.
        public init(shape: [Int], doubles: [Double]) {
            self.shape = shape
            self.doubles = doubles
            values = Float.narrowed(doubles)
        }
        /// The values in `Scalar`: exact for the tensor's own precision, else converted.
        public func values<Scalar: OptimScalar>(as _: Scalar.Type) -> [Scalar] {
            if let same = values as? [Scalar], doubles == nil { return same }
            if let doubles { return doubles as? [Scalar] ?? Scalar.narrowed(doubles) }
            return Scalar.narrowed(Float.widened(values))
        }
    }

    /// Writes `tensors` (in the given order) and `metadata` to `path`, atomically.
    public static func write(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String], to path: String) throws {
        var header: [String: Any] = [:]
        var offset = 0
        for (name, tensor) in tensors {
            precondition(tensor.values.count == tensor.shape.reduce(1, *), "\(name): shape and values disagree")
            let bytes = tensor.values.count * (tensor.doubles == nil ? 4 : 8)
            header[name] = ["dtype": tensor.doubles == nil ? "F32" : "F64", "shape": tensor.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // Pad with spaces so that the data starts 8-byte aligned, as the reference writer does.
        while (8 + json.count) % 8 != 0 { json.append(UInt8(ascii: " ")) }
        var writer = try AtomicFileWriter(path: path)
        do {
            var length = UInt64(json.count).littleEndian
            try writer.write(withUnsafeBytes(of: &length) { Array($0) })
            try writer.write(json)
            for (_, tensor) in tensors {
                if let doubles = tensor.doubles {
                    try doubles.withUnsafeBytes { try writer.write(raw: $0) }
                } else {
                    try tensor.values.withUnsafeBytes { try writer.write(raw: $0) }
                }
            }
            try writer.commit()
        } catch {
            writer.discard()
            throw error
        }
    }

    /// Reads every tensor and the metadata of `path`.
    public static func read(_ path: String) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        let file = try MappedFile(path: path)
        guard file.count >= 8 else { throw DataFileError(path, "byte 0", "too short for a safetensors file (\(file.count) bytes)") }
        let start = UnsafeRawBufferPointer(start: file.bytes, count: min(file.count, 16))
        if start.starts(with: [0x50, 0x4B, 0x03, 0x04]) {
            throw DataFileError(path, "byte 0", "not a safetensors file but a zip archive (a PyTorch .pt file? save with safetensors.torch.save_file)")
        }
        let raw = UInt64(littleEndian: file.bytes.loadUnaligned(as: UInt64.self))
        guard raw > 0, raw <= UInt64(file.count - 8) else {
            let text = start.allSatisfy { $0 == 0x09 || $0 == 0x0A || $0 == 0x0D || (0x20..<0x7F).contains($0) }
            throw DataFileError(path, "byte 0", text ? "not a safetensors file but text (a CSV? weights come from optim train --save)"
                                : "not a safetensors file: header length \(raw) does not fit in the file's \(file.count) bytes")
        }
        let length = Int(raw)
        let headerData = Data(bytes: file.bytes + 8, count: length)
        guard let header = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any] else {
            throw DataFileError(path, "byte 8", "the header is not a JSON object")
        }
        let dataStart = 8 + length
        var tensors: [String: Tensor] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                guard let entries = value as? [String: String] else { throw DataFileError(path, "byte 8", "__metadata__ must map strings to strings") }
                metadata = entries
                continue
            }
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2 else {
                throw DataFileError(path, "byte 8", "tensor '\(name)' lacks dtype, shape or data_offsets")
            }
            guard dtype == "F32" || dtype == "F64" else { throw DataFileError(path, "byte 8", "tensor '\(name)' has dtype \(dtype) (expected F32 or F64)") }
            let size = dtype == "F32" ? 4 : 8
            // Checked arithmetic throughout: the numbers are the file's, and may be anything.
            let count = NPY.elementCount(shape) ?? -1
            let (bytes, overflow) = count.multipliedReportingOverflow(by: size)
            guard count >= 0, !overflow, offsets[0] >= 0, offsets[1] >= offsets[0], offsets[1] - offsets[0] == bytes,
                  offsets[1] <= file.count - dataStart else {
                throw DataFileError(path, "byte \(dataStart + max(offsets[0], 0))", "tensor '\(name)' of shape \(shape) does not fit its byte range \(offsets)")
            }
            let base = file.bytes + dataStart + offsets[0]
            if size == 4 {
                tensors[name] = Tensor(shape: shape, values: (0..<count).map { base.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) })
            } else {
                tensors[name] = Tensor(shape: shape, doubles: (0..<count).map { base.loadUnaligned(fromByteOffset: 8 * $0, as: Double.self) })
            }
        }
        return (tensors, metadata)
    }
}
