import Datasets
import VectorMath
import Foundation
import ZIPFoundation

/// NumPy's `.npz` archives (`np.savez`, stored, or `np.savez_compressed`, deflated): arrays `X`
/// (rows × features) and `y` (rows, or rows × 1); or a scipy sparse matrix (`save_npz`), read by
/// ``loadSparse(path:labels:requireTargets:as:)`` (and expanded by ``load(path:)``). An archive is unpacked into
/// memory once.
public enum NPZ {
    public static func load(path: String) throws -> Dataset<Float> {
        let archive = try NPZArchive(path: path)
        if archive.isSparseMatrix {
            let sparse = try loadSparse(archive, labels: nil, as: Float.self)
            guard let dense = sparse.densified() else {
                throw DataFileError(path, nil, "\(sparse.rows) rows × \(sparse.features) dense values "
                                    + MemoryBudget.refusal(MemoryBudget.valueBytes(rows: sparse.rows, columns: sparse.features, size: 4))
                                    + "; train on them as sparse rows")
            }
            return dense
        }
        // The names the arrays go by: np.savez(X=..., y=...), lower case, scikit-learn's data and
        // target, or np.savez(features, labels) positionally (arr_0, arr_1).
        guard let x = try archive.member(["X", "x", "data", "features", "arr_0"]) else { throw archive.missing("X", expected: "X and y") }
        guard let y = try archive.member(targetNames) else { throw archive.missing("y", expected: "X and y") }
        guard x.header.shape.count == 2 else { throw DataFileError("\(path)/\(x.name)", nil, "X has shape \(x.header.shape); expected rows × features") }
        let rows = x.header.shape[0]
        guard y.header.shape == [rows] || y.header.shape.count == 2 && y.header.shape[0] == rows && y.header.shape[1] >= 1 else {
            throw DataFileError("\(path)/\(y.name)", nil, "y has shape \(y.header.shape); expected (\(rows),) or (\(rows), k) to match X's \(rows) rows")
        }
        do {
            return try Dataset<Float>(name: path, x: FloatStorage(x.values(as: Float.self)), y: FloatStorage(y.values(as: Float.self)), rows: rows,
                                      features: x.header.shape[1], targetsPerRow: y.header.shape.count == 2 ? y.header.shape[1] : 1)
        } catch {
            throw DataFileError(path, nil, error.description)
        }
    }

    /// The names a targets array goes by.
    static let targetNames = ["y", "Y", "target", "labels", "arr_1"]
}

/// An opened `.npz` archive, its members unpacked on demand.
struct NPZArchive {
    /// A member as unpacked: its header and bytes (the whole `.npy`).
    struct Member {
        let name: String
        let header: NPY.Header
        let data: Data

        /// The values in C order (a Fortran-order 2-D array transposed back), each rounded once.
        func values<Scalar: VectorScalar>(as _: Scalar.Type) -> [Scalar] {
            let element = NPY.ElementType(header.descr)!  // checked by member(_:)
            let shape = header.shape
            return data.withUnsafeBytes { raw in
                let base = raw.baseAddress! + header.dataOffset
                guard header.fortranOrder && shape.count == 2 else {
                    return (0..<header.elementCount!).map { element.load(base, $0, as: Scalar.self) }
                }
                let (rows, columns) = (shape[0], shape[1])
                return (0..<(rows * columns)).map { element.load(base, ($0 % columns) * rows + $0 / columns, as: Scalar.self) }
            }
        }

        /// The values of a 1-D integer array (any shape with `anyShape`, in storage order), or why not.
        func integers(path: String, anyShape: Bool = false) throws -> [Int64] {
            let element = NPY.ElementType(header.descr)!
            guard element.isInteger, anyShape || header.shape.count == 1, let count = header.elementCount else {
                throw DataFileError("\(path)/\(name)", nil, "expected a 1-D integer array, got dtype \(header.descr) and shape \(header.shape)")
            }
            return try data.withUnsafeBytes { raw in
                let base = raw.baseAddress! + header.dataOffset
                var out = [Int64]()
                out.reserveCapacity(count)
                for i in 0..<count {
                    guard let value = element.integer(base, i) else {
                        throw DataFileError("\(path)/\(name)", "element \(i)", "a uint64 beyond the largest Int64")
                    }
                    out.append(value)
                }
                return out
            }
        }
    }

    let path: String
    let archive: Archive
    let archiveBytes: UInt64

    init(path: String) throws {
        try NPZ.checkDirectory(path)
        self.path = path
        do { archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read) } catch {
            throw DataFileError(path, nil, FileManager.default.fileExists(atPath: path)
                                ? "not a .npz (zip) archive" : "cannot open: no such file")
        }
        var status = stat()
        archiveBytes = stat(path, &status) == 0 ? UInt64(clamping: status.st_size) : 0
    }

    func has(_ name: String) -> Bool { archive[name + ".npy"] != nil }

    /// Whether the archive is a scipy sparse matrix (`scipy.sparse.save_npz`).
    var isSparseMatrix: Bool { has("format") && has("shape") && has("data") }

    /// The error for a missing array.
    func missing(_ name: String, expected: String) -> DataFileError {
        let names = archive.map(\.path).sorted().joined(separator: ", ")
        return DataFileError(path, nil, "no array '\(name)' in the archive (it holds \(names.isEmpty ? "nothing" : names)); expected \(expected)")
    }

    /// The first of `names` the archive holds, unpacked; nil when it holds none. A numeric
    /// dtype is required unless `text`.
    func member(_ names: [String], text: Bool = false) throws -> Member? {
        guard let (name, entry) = names.lazy.compactMap({ n in archive[n + ".npy"].map { (n + ".npy", $0) } }).first else { return nil }
        // The member's size as the archive states it, checked before inflating it (a small
        // archive may expand to gigabytes), and the inflated bytes held to it.
        let size = Int(clamping: entry.uncompressedSize)
        guard size < Int.max / 2, MemoryBudget.allows(size) else {
            throw DataFileError("\(path)/\(name)", nil, "unpacks to \(size) bytes: it " + MemoryBudget.refusal(size))
        }
        // What the member can hold at most: its stored bytes lie in the archive, and deflate
        // expands by at most 1032 to 1. A size past that is a damaged directory, refused
        // before reading.
        let stored = entry.compressedSize
        let (expanded, overflow) = stored.multipliedReportingOverflow(by: 1032)
        let most = !entry.isCompressed ? stored : overflow ? UInt64.max : expanded.addingReportingOverflow(1024).partialValue
        guard stored <= archiveBytes, UInt64(size) <= most else {
            throw DataFileError(path, name, "damaged archive: the member claims \(size) bytes from \(stored) stored, in a file of \(archiveBytes)")
        }
        var data = Data()
        data.reserveCapacity(min(size, 1 << 26))
        do {
            _ = try archive.extract(entry) { chunk in
                guard data.count + chunk.count <= size else {
                    throw DataFileError("\(path)/\(name)", nil, "unpacks to more bytes than the archive says (\(size))")
                }
                data.append(chunk)
            }
        } catch let error as DataFileError {
            throw error
        } catch {
            throw DataFileError(path, name, "cannot unpack: \(error)")
        }
        let header = try data.withUnsafeBytes { raw in try NPY.header(raw.baseAddress!, count: raw.count, path: "\(path)/\(name)") }
        guard text || NPY.ElementType(header.descr) != nil else {
            throw DataFileError("\(path)/\(name)", "byte 10", "dtype \(header.descr) is not supported (expected numbers: floats, integers, booleans)")
        }
        // A text member (scipy's format, `|S3`) is a 0-d array of one string.
        let textBytes = text ? Int(header.descr.dropFirst(2)).flatMap { header.shape.isEmpty && $0 <= 64 ? header.dataOffset + $0 : nil } : nil
        let needed = text ? textBytes : header.dataEnd
        guard let needed, data.count >= needed else {
            throw DataFileError("\(path)/\(name)", "byte \(data.count)",
                                "truncated: shape \(header.shape) needs \(needed.map { "\($0) bytes" } ?? "more bytes than any file holds")")
        }
        return Member(name: name, header: header, data: data)
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
