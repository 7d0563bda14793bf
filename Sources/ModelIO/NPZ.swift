import Datasets
import Foundation
import ZIPFoundation

/// NumPy's `.npz` archives (`np.savez`, stored, or `np.savez_compressed`, deflated): arrays `X`
/// (rows × features) and `y` (rows, or rows × 1). An archive is unpacked into memory once.
public enum NPZ {
    public static func load(path: String) throws -> Dataset {
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
            return try Dataset(name: path, x: FloatStorage(floats(x)), y: FloatStorage(floats(y)), rows: rows, features: x.header.shape[1],
                               targetsPerRow: y.header.shape.count == 2 ? y.header.shape[1] : 1)
        } catch {
            throw DataFileError(path, nil, error.description)
        }
    }
}
