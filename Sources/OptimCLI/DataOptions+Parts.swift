import ArgumentParser
import Datasets
import DataParallel
import Models

// Under mpirun each rank reads only its part of a CSV or libsvm file (its byte range, cut at line
// starts); `ScatteredRows` puts the parts together and brings each rank the rows it trains on.
extension DataOptions {
    /// A CSV file under mpirun: each rank parses its part; the parts make the one table (the
    /// table one process reads, with this rank's rows' features in place).
    func readCSVParts<Scalar: TrainingScalar>(path: String, options: CSV.Options, as _: Scalar.Type) throws
        -> (CSV.Table<Scalar>, ScatteredRows<Scalar>)
    {
        let launch = Launch.current
        let part = try launch.agree { () throws in
            do throws(DataFileError) { return try CSV.readPart(path: path, options: options, part: launch.rank, of: launch.size, as: Scalar.self) }
            catch { throw hinted(error) }
        }
        return try ScatteredRows.merge(part, path: path, cluster: launch.cluster)
    }

    /// A libsvm file under mpirun: each rank parses its part of the file and expands it to
    /// dense rows (sparse rows train in one process for now).
    func loadLibSVMParts<Scalar: TrainingScalar>(path: String, width: Int?, libsvmBase: Int?, forceSparse: Bool, sparseModel: Bool,
                                                         workers: Int, bind: Bool, as _: Scalar.Type) throws -> LoadedRows<Scalar> {
        if target != nil { throw DataFileError(path, nil, "--target does not apply to libsvm files (each line's first field is its label)") }
        let launch = Launch.current, base = zeroBased ? 0 : oneBased ? 1 : libsvmBase
        let part = try launch.agree { () throws in
            try LibSVM.readPart(path: path, base: base, part: launch.rank, of: launch.size, as: Scalar.self, workers: workers, bind: bind)
        }
        let shape = try ScatteredRows<Scalar>.shape(of: part, path: path, features: features ?? width, base: base, cluster: launch.cluster)
        let (isSparse, reason) = forceSparse ? (true, nil)
            : sparseModel ? trainsSparse(rows: shape.rows, features: shape.features, nonZeros: shape.nonZeros, scalarBytes: MemoryLayout<Scalar>.stride)
            : (false, nil)
        if isSparse {
            throw ValidationError("under mpirun a libsvm file trains as dense rows (each rank expands its part of the file), and this one would train sparse: "
                                  + (reason ?? "--sparse") + "; add --dense, or train in one process")
        }
        let scattered = try ScatteredRows.expand(part, shape: shape, path: path, cluster: launch.cluster)
        let notes = base == nil ? ["libsvm indices read as \(shape.base)-based (--zero-based or --one-based to say otherwise)"] : []
        return .dense(LoadedData(dataset: scattered.dataset, notes: notes, libsvmBase: shape.base, pending: scattered.inPlace(), scattered: scattered))
    }
}
