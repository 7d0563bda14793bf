import Datasets
import VectorMath
import Foundation
import ZIPFoundation

/// NumPy's `.npz` archives (`np.savez`, stored, or `np.savez_compressed`, deflated): arrays `X`
/// (rows × features) and `y` (rows, or rows × 1). An archive is unpacked into memory once.
public enum NPZ {
    public static func load(path: String) throws -> Dataset<Float> {
        try checkDirectory(path)
        let archive: Archive
        do { archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read) } catch {
            throw DataFileError(path, nil, FileManager.default.fileExists(atPath: path)
                                ? "not a .npz (zip) archive" : "cannot open: no such file")
        }
        var status = stat()
        let archiveBytes = stat(path, &status) == 0 ? UInt64(clamping: status.st_size) : 0
        // The names the arrays go by: np.savez(X=..., y=...), lower case, scikit-learn's data and
        // target, or np.savez(features, labels) positionally (arr_0, arr_1).
        let aliases = ["X": ["X", "x", "data", "features", "arr_0"], "y": ["y", "Y", "target", "labels", "arr_1"]]
        func array(_ name: String) throws -> (header: NPY.Header, data: Data) {
            let found = aliases[name]?.lazy.compactMap { archive[$0 + ".npy"] }.first
            guard let entry = found ?? archive[name + ".npy"] else {
                let names = archive.map(\.path).sorted().joined(separator: ", ")
                throw DataFileError(path, nil, "no array '\(name)' in the archive (it holds \(names.isEmpty ? "nothing" : names)); expected X and y")
            }
            // The member's size as the archive states it, checked before inflating it (a small
            // archive may expand to gigabytes), and the inflated bytes held to it.
            let size = Int(clamping: entry.uncompressedSize)
            guard size < Int.max / 2, MemoryBudget.allows(size) else {
                throw DataFileError("\(path)/\(name).npy", nil, "unpacks to \(size) bytes: it " + MemoryBudget.refusal(size))
            }
            // What the member can hold at most: its stored bytes lie in the archive, and deflate
            // expands by at most 1032 to 1. A size past that is a damaged directory, refused
            // before reading.
            let stored = entry.compressedSize
            let (expanded, overflow) = stored.multipliedReportingOverflow(by: 1032)
            let most = !entry.isCompressed ? stored : overflow ? UInt64.max : expanded.addingReportingOverflow(1024).partialValue
            guard stored <= archiveBytes, UInt64(size) <= most else {
                throw DataFileError(path, "\(name).npy", "damaged archive: the member claims \(size) bytes from \(stored) stored, in a file of \(archiveBytes)")
            }
            var data = Data()
            data.reserveCapacity(min(size, 1 << 26))
            do {
                _ = try archive.extract(entry) { chunk in
                    guard data.count + chunk.count <= size else {
                        throw DataFileError("\(path)/\(name).npy", nil, "unpacks to more bytes than the archive says (\(size))")
                    }
                    data.append(chunk)
                }
            } catch let error as DataFileError {
                throw error
            } catch {
                throw DataFileError(path, "\(name).npy", "cannot unpack: \(error)")
            }
            let header = try data.withUnsafeBytes { raw in try NPY.header(raw.baseAddress!, count: raw.count, path: "\(path)/\(name).npy") }
            guard NPY.ElementType(header.descr) != nil else {
                throw DataFileError("\(path)/\(name).npy", "byte 10", "dtype \(header.descr) is not supported (expected numbers: floats, integers, booleans)")
            }
            guard let needed = header.dataEnd, data.count >= needed else {
                throw DataFileError("\(path)/\(name).npy", "byte \(data.count)",
                                    "truncated: shape \(header.shape) needs \(header.dataEnd.map { "\($0) bytes" } ?? "more bytes than any file holds")")
            }
            return (header, data)
        }
        /// The array's values in C order (a Fortran-order array transposed back).
        func floats(_ array: (header: NPY.Header, data: Data)) -> [Float] {
            let element = NPY.ElementType(array.header.descr)!  // checked in array(_:)
            let shape = array.header.shape
            return array.data.withUnsafeBytes { raw in
                let base = raw.baseAddress! + array.header.dataOffset
                guard array.header.fortranOrder && shape.count == 2 else {
                    return (0..<array.header.elementCount!).map { element.load(base, $0) }
                }
                let (rows, columns) = (shape[0], shape[1])
                return (0..<(rows * columns)).map { element.load(base, ($0 % columns) * rows + $0 / columns) }
            }
        }
        let x = try array("X"), y = try array("y")
        guard x.header.shape.count == 2 else { throw DataFileError("\(path)/X.npy", nil, "X has shape \(x.header.shape); expected rows × features") }
        let rows = x.header.shape[0]
        guard y.header.shape == [rows] || y.header.shape.count == 2 && y.header.shape[0] == rows && y.header.shape[1] >= 1 else {
            throw DataFileError("\(path)/y.npy", nil, "y has shape \(y.header.shape); expected (\(rows),) or (\(rows), k) to match X's \(rows) rows")
        }
        do {
            return try Dataset<Float>(name: path, x: FloatStorage(floats(x)), y: FloatStorage(floats(y)), rows: rows, features: x.header.shape[1],
                               targetsPerRow: y.header.shape.count == 2 ? y.header.shape[1] : 1)
        } catch {
            throw DataFileError(path, nil, error.description)
        }
    }
}

extension NPZ {
    /// Refuses an archive whose directory points past its own end, before ZIPFoundation reads it:
    /// ZIPFoundation converts the ZIP64 offsets it reads to `off_t` unchecked, so an offset of
    /// 2⁶³ or more in a damaged file was a trap (found by the fuzzer: a 101-byte file). Walks the
    /// records as ZIPFoundation does: the end-of-central-directory record found from the end, the
    /// ZIP64 record just before it when there is one, then each central-directory entry with its
    /// ZIP64 extra field.
    static func checkDirectory(_ path: String) throws {
        guard let file = try? MappedFile(path: path) else { return }  // ZIPFoundation says why
        let bytes = file.bytes.assumingMemoryBound(to: UInt8.self), size = file.count
        func u16(_ at: Int) -> UInt64 { at + 2 <= size ? UInt64(bytes[at]) | UInt64(bytes[at + 1]) << 8 : 0 }
        func u32(_ at: Int) -> UInt64 { u16(at) | u16(at + 2) << 16 }
        func u64(_ at: Int) -> UInt64 { at + 8 <= size ? u32(at) | u32(at + 4) << 32 : 0 }
        func damaged(_ what: String) -> DataFileError { DataFileError(path, nil, "not a .npz (zip) archive: damaged \(what)") }
        let limit = UInt64(size)
        guard size >= 22 else { return }
        var eocd = -1
        for index in stride(from: size - 22, through: 0, by: -1) where u32(index) == 0x0605_4b50 {
            eocd = index
            break
        }
        guard eocd >= 0 else { return }
        var directory = u32(eocd + 16), entries = u16(eocd + 10)
        if eocd >= 20 + 56, u32(eocd - 20) == 0x0706_4b50, u32(eocd - 76) == 0x0606_4b50 {
            entries = u64(eocd - 76 + 32)
            directory = u64(eocd - 76 + 48)
            guard u64(eocd - 76 + 40) <= limit else { throw damaged("ZIP64 directory size") }
        }
        guard directory <= limit else { throw damaged("directory offset") }
        var at = Int(directory), seen: UInt64 = 0
        while seen < entries, at + 46 <= size, u32(at) == 0x0201_4b50 {
            seen += 1
            let names = Int(u16(at + 28)), extra = Int(u16(at + 30)), comment = Int(u16(at + 32))
            var compressed = u32(at + 20), uncompressed = u32(at + 24), local = u32(at + 42)
            // The ZIP64 extra field (id 1) holds, in this order, whichever of the three was 0xFFFFFFFF.
            var field = at + 46 + names
            let end = min(field + extra, size)
            while field + 4 <= end {
                let id = u16(field), length = Int(u16(field + 2))
                if id == 1 {
                    var value = field + 4
                    if uncompressed == 0xFFFF_FFFF { uncompressed = u64(value); value += 8 }
                    if compressed == 0xFFFF_FFFF { compressed = u64(value); value += 8 }
                    if local == 0xFFFF_FFFF { local = u64(value) }
                }
                field += 4 + length
            }
            let stored = u16(at + 10) == 0
            guard local <= limit, compressed <= limit, !stored || uncompressed <= limit else { throw damaged("entry \(seen)'s offsets or sizes") }
            at += 46 + names + extra + comment
        }
    }
}
