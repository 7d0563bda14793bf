import Datasets
import VectorMath
import Models
import Optim

/// One data-parallel, deterministic evaluation of a model's mean loss and gradient over rows of a
/// data set: what `fit` does for each minibatch, for callers that drive their own loop (or an LBFGS closure).
///
/// ```swift
/// let evaluator = GradientEvaluator(model: model, workers: 4, maxRows: data.rows)
/// let loss = optimizer.step { evaluator.evaluate(parameters, on: data) }   // full-batch LBFGS
/// ```
///
/// With more than one worker, the workers are a team for the evaluator's lifetime: between
/// evaluations they wait on their cores (spinning for 50 µs, yielding until 1 ms, then parked),
/// so that back-to-back evaluations start at once; releasing the evaluator ends them. While it
/// lives it holds `workers − 1` of libdispatch's pool threads: keep a few evaluators, not hundreds.
public final class GradientEvaluator<M: Model, Scalar: TrainingScalar> {
    let engine: GradientEngine<M, Scalar>
    let pool: WorkerPool

    /// - Parameters:
    ///   - workers: workers (nil: every allowed core); the result is the same for any count.
    ///   - model: the model whose loss and gradient are evaluated.
    ///   - bind: pin workers to cores.
    ///   - chunkRows: rows per partial gradient (fixed, whatever the worker count); nil picks
    ///     them from the model's size and `maxRows` as ``FitConfiguration/chunkRows`` says.
    ///   - maxRows: the most rows one evaluation will cover.
    ///   - cluster: the ranks that evaluate together (each its share of the chunks, the result
    ///     on every rank); every rank must call ``evaluate(_:on:rows:)`` alike.
    public init(model: M, workers: Int? = nil, bind: Bool = true, chunkRows: Int? = nil, maxRows: Int, cluster: Cluster = .single) {
        pool = WorkerPool(workers: workers ?? defaultWorkerCount(), bind: bind)
        engine = GradientEngine(model: model, pool: pool,
                                chunkRows: ShardPlan.chunkRows(requested: chunkRows, parameterCount: model.parameterCount, batchRows: maxRows,
                                                               scalarBytes: MemoryLayout<Scalar>.stride),
                                maxRows: maxRows, cluster: cluster)
    }

    deinit { pool.release() }

    /// Writes ∂(mean loss)/∂θ over `rows` (default: all) into `parameters.grad`; returns the mean loss.
    public func evaluate(_ parameters: Parameters<Scalar>, on data: Dataset<Scalar>, rows: Range<Int>? = nil) -> Double {
        engine.gradient(of: parameters, data: data, rows: rows ?? 0..<data.rows)
    }

    /// Seconds spent in the parallel kernels, and reducing partials, so far.
    public var computeSeconds: Double { engine.computeSeconds }
    public var reduceSeconds: Double { engine.reduceSeconds }
    /// Where the workers run.
    public var placement: Placement { pool.placement }
}
