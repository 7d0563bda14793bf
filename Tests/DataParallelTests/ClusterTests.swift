@testable import DataParallel
import Datasets
import Foundation
import Models
import Optim
import Testing

/// Ranks on threads of this process, gathering through one shared buffer: the cluster's transport
/// without MPI, so that the default test suite checks what a cluster fit computes.
final class ThreadGroup: @unchecked Sendable {
    // Safe: every field is read and written under `condition`'s lock.
    let size: Int
    private let condition = NSCondition()
    private var staging: [UInt8] = []
    private var arrived = 0
    private var generation = 0

    init(size: Int) { self.size = size }

    /// Waits (holding the lock on return) until every rank has arrived.
    private func barrier() {
        arrived += 1
        if arrived == size {
            arrived = 0
            generation += 1
            condition.broadcast()
        } else {
            let mine = generation
            while generation == mine { condition.wait() }
        }
    }

    func allGather(rank: Int, _ send: UnsafeRawBufferPointer, counts: [Int], into receive: UnsafeMutableRawBufferPointer) {
        precondition(counts.count == size && send.count == counts[rank] && receive.count == counts.reduce(0, +))
        condition.lock()
        defer { condition.unlock() }
        if staging.count < receive.count { staging += [UInt8](repeating: 0, count: receive.count - staging.count) }
        let offset = counts[..<rank].reduce(0, +)
        staging.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: offset).copyMemory(from: send.baseAddress!, byteCount: send.count) }
        barrier()
        staging.withUnsafeBytes { receive.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: receive.count) }
        barrier()  // nobody writes the next gather's bytes before every rank has read these
    }

    /// Runs `body(communicator)` for every rank, each on a thread of its own; returns the results in rank order.
    func run<T: Sendable>(_ body: @escaping @Sendable (any Communicator) -> T) -> [T] {
        let results = Locked<[Int: T]>([:])
        let done = DispatchSemaphore(value: 0)
        for rank in 0..<size {
            let communicator = ThreadRank(rank: rank, group: self)
            let thread = Thread {
                let result = body(communicator)
                results.withLock { $0[rank] = result }
                done.signal()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        for _ in 0..<size { done.wait() }
        return results.withLock { all in (0..<size).map { all[$0]! } }
    }
}

final class ThreadRank: Communicator {
    let rank: Int
    let group: ThreadGroup
    var size: Int { group.size }
    init(rank: Int, group: ThreadGroup) {
        self.rank = rank
        self.group = group
    }
    func allGather(_ send: UnsafeRawBufferPointer, counts: [Int], into receive: UnsafeMutableRawBufferPointer) {
        group.allGather(rank: rank, send, counts: counts, into: receive)
    }
}

/// Data sets the rank threads only read.
struct Unchecked<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// What one rank's fit gives: its final weights, the validation metrics of each epoch, how it stopped, or its error.
struct RankOutcome: Sendable {
    var weights: [Float] = []
    var validation: [Metrics] = []
    var final: Metrics?
    var stop: StopReason?
    var error: TrainingError?
}

extension DataParallelTests {
@Suite("Cluster")
struct ClusterTests {
    @Test("Each rank's tree pieces, gathered and finished, give the one-process tree's bits, for every split")
    func piecesFinishTheSameTree() {
        let stride = 16, elements = 13
        func buffer<T>(_ values: [T]) -> SharedBuffer<T> {
            let result = SharedBuffer<T>.allocate(count: values.count, repeating: values[0])
            for i in values.indices { result[i] = values[i] }
            return result
        }
        for m in [1, 2, 3, 5, 7, 8, 63, 64, 65, 100, 257] {
            var generator = SplitMix64(seed: UInt64(m))  // the package's own (testable import)
            let values = (0..<(m * stride)).map { _ in Float(generator.next() % 20_000) / 7 - 1000 }
            let losses = (0..<m).map { Double(values[$0 * stride]) / 3 }
            let reference = buffer(values), referenceLosses = buffer(losses)
            defer { reference.deallocate(); referenceLosses.deallocate() }
            reduceTree(reference, stride: stride, count: m, elements: 0..<elements)
            let referenceLoss = reduceTree(referenceLosses, count: m)
            for ranks in 1...9 {
                let split = TreeSplit(chunkCount: m, ranks: ranks)
                #expect(split.pieces.map { $0.map(\.size).reduce(0, +) } == (0..<ranks).map { split.chunks(rank: $0).count })
                // Every rank sums its own pieces in its own copy; the pieces meet in buffers that
                // hold nothing else (NaN elsewhere, so a stray read shows).
                let gathered = buffer([Float](repeating: .nan, count: m * stride))
                let gatheredLosses = buffer([Double](repeating: .nan, count: m))
                defer { gathered.deallocate(); gatheredLosses.deallocate() }
                for r in 0..<ranks {
                    let own = buffer(values), ownLosses = buffer(losses)
                    defer { own.deallocate(); ownLosses.deallocate() }
                    for piece in split.pieces[r] {
                        reduceTree(SharedBuffer(own.base + piece.lo * stride, count: piece.size * stride), stride: stride,
                                   count: piece.size, elements: 0..<elements)
                        for j in 0..<elements { gathered[piece.lo * stride + j] = own[piece.lo * stride + j] }
                        gatheredLosses[piece.lo] = reduceTree(SharedBuffer(ownLosses.base + piece.lo, count: piece.size), count: piece.size)
                    }
                }
                split.finish(gathered, stride: stride, elements: 0..<elements)
                #expect((0..<elements).map { gathered[$0].bitPattern } == (0..<elements).map { reference[$0].bitPattern },
                        "\(m) chunks on \(ranks) ranks")
                #expect(split.finish(gatheredLosses).bitPattern == referenceLoss.bitPattern, "losses: \(m) chunks on \(ranks) ranks")
            }
        }
    }

    /// What every cluster fit here runs with.
    func configuration(workers: Int, earlyStopping: Bool, chunkRows: Int? = 128) -> FitConfiguration {
        FitConfiguration(batchSize: 1000, epochs: 3, workers: workers, bind: false, seed: 3, chunkRows: chunkRows,
                         earlyStopping: earlyStopping ? .init(patience: 1, minDelta: 1e9) : nil)
    }

    /// Trains `testCase` on `ranks` ranks of `workers` workers each (threads of this process).
    func trainOnCluster(_ testCase: TrainingCase, ranks: Int, workers: Int, data: Dataset<Float>, validation: Dataset<Float>? = nil,
                        rankData: [Dataset<Float>]? = nil, rankValidation: [Dataset<Float>]? = nil,
                        stopRank: Int? = nil, earlyStopping: Bool = false, chunkRows: Int? = 128) -> [RankOutcome] {
        let shared = Unchecked((data: data, validation: validation, rankData: rankData, rankValidation: rankValidation))
        let base = configuration(workers: workers, earlyStopping: earlyStopping, chunkRows: chunkRows)
        return ThreadGroup(size: ranks).run { communicator in
            let (data, validation, rankData, rankValidation) = shared.value
            var outcome = RankOutcome()
            do {
                let parameters = testCase.model.makeParameters(seed: 11)
                let optimizer = try testCase.makeOptimizer(parameters)
                var configuration = base
                configuration.cluster = Cluster(communicator)
                let stop = CancellationFlag()
                let report = try fit(testCase.model, parameters: parameters, data: rankData?[communicator.rank] ?? data,
                                     validation: rankValidation?[communicator.rank] ?? validation,
                                     optimizer: optimizer, configuration: configuration, cancellation: stop,
                                     onBatch: { batch in
                                         // Only this rank is asked to stop, in the middle of epoch 2.
                                         if communicator.rank == stopRank && batch.position.epoch == 2 && batch.position.batch == 0 { stop.cancel() }
                                     })
                outcome.weights = parameters.values.array
                outcome.validation = report.epochs.compactMap(\.validation)
                outcome.stop = report.stopReason
                outcome.final = report.finalMetrics
            } catch {
                outcome.error = error as? TrainingError
            }
            return outcome
        }
    }

    @Test("Weights after training on 2, 3 and 4 ranks (1 or 2 workers each) are bitwise the one-process weights",
          arguments: trainingCases)
    func clusterEqualsOneProcess(testCase: TrainingCase) throws {
        let data = try testCase.data()
        let reference = try train(testCase, workers: 1, data: data, epochs: 3)
        for (ranks, workers) in [(2, 1), (3, 2), (4, 1)] {
            let outcomes = trainOnCluster(testCase, ranks: ranks, workers: workers, data: data)
            for (rank, outcome) in outcomes.enumerated() {
                #expect(outcome.error == nil)
                #expect(outcome.weights == reference, "rank \(rank) of \(ranks) (\(workers) workers) differs from one process")
            }
        }
    }

    @Test("A model large enough for the slices exchange (all-to-all, finish a slice, all-gather) trains to the one-process weights")
    func slicesExchange() throws {
        let model = MLP(features: 300, hidden: [256], activation: .tanh)
        #expect(model.parameterCount >= PieceExchange.slicesFrom)
        let testCase = TrainingCase(model: model, task: .nonlinear, outputs: 1, optimizer: "Adam")
        let data = try testCase.data(rows: 1500), validation = try testCase.data(rows: 300)
        let one = trainOnCluster(testCase, ranks: 1, workers: 1, data: data, validation: validation)[0]
        #expect(one.error == nil && one.weights != model.initialParameters(seed: 11))
        for ranks in [2, 3, 4] {
            for (rank, outcome) in trainOnCluster(testCase, ranks: ranks, workers: 1, data: data, validation: validation).enumerated() {
                #expect(outcome.error == nil)
                let same = outcome.weights == one.weights  // (not printed: 77k values)
                #expect(same, "rank \(rank) of \(ranks)")
                #expect(outcome.validation == one.validation)
            }
        }
    }

    @Test("Validation metrics and early stopping are the same on every rank and in one process")
    func metricsAgree() throws {
        let testCase = trainingCases.first { $0.model is LogisticRegression && $0.optimizer == "Adam" }!
        let data = try testCase.data(rows: 2500), validation = try testCase.data(rows: 700)
        let one = trainOnCluster(testCase, ranks: 1, workers: 2, data: data, validation: validation, earlyStopping: true)[0]
        #expect(one.stop == .earlyStopped && one.validation.count == 2)
        let outcomes = trainOnCluster(testCase, ranks: 3, workers: 1, data: data, validation: validation, earlyStopping: true)
        for outcome in outcomes {
            #expect(outcome.validation == one.validation)
            #expect(outcome.weights == one.weights)
            #expect(outcome.stop == .earlyStopped)
        }
    }

    @Test("A rank that holds only the rows rowsRead names (the others garbage) trains to the one-process weights",
          arguments: [false, true])
    func ranksReadOnlyTheirRows(withValidation: Bool) throws {
        let testCase = trainingCases.first { $0.model is MLP && $0.optimizer == "Adam" }!
        let data = try testCase.data(rows: 2900), validation = withValidation ? try testCase.data(rows: 700) : nil
        // The automatic chunk size: what the CLI's ranks use.
        let one = trainOnCluster(testCase, ranks: 1, workers: 1, data: data, validation: validation, chunkRows: nil)[0]
        #expect(one.error == nil)
        func garbled(_ rows: Dataset<Float>, keeping kept: [Range<Int>]) throws -> Dataset<Float> {
            let copy = try rows.gathered(rows: Array(0..<rows.rows), name: rows.name, bind: false)
            let keep = Set(kept.flatMap { Array($0) })
            for row in 0..<copy.rows where !keep.contains(row) {
                for j in 0..<copy.features { copy.x.base[row * copy.rowStride + j] = 1000 }
            }
            return copy
        }
        for ranks in [2, 3] {
            var rankData: [Dataset<Float>] = [], rankValidation: [Dataset<Float>] = []
            for rank in 0..<ranks {
                var settings = configuration(workers: 1, earlyStopping: false, chunkRows: nil)
                settings.cluster = Cluster(ThreadRank(rank: rank, group: ThreadGroup(size: ranks)))
                let read = settings.rowsRead(model: testCase.model, trainingRows: data.rows, validationRows: validation?.rows)
                #expect(read.training.reduce(0) { $0 + $1.count } < data.rows, "rank \(rank) of \(ranks) reads every row")
                rankData.append(try garbled(data, keeping: read.training))
                if let validation { rankValidation.append(try garbled(validation, keeping: read.validation)) }
            }
            let outcomes = trainOnCluster(testCase, ranks: ranks, workers: 1, data: data, validation: validation, rankData: rankData,
                                          rankValidation: withValidation ? rankValidation : nil, chunkRows: nil)
            for (rank, outcome) in outcomes.enumerated() {
                #expect(outcome.error == nil)
                #expect(outcome.weights == one.weights, "rank \(rank) of \(ranks)")
                #expect(outcome.validation == one.validation)
                #expect(outcome.final != nil && outcome.final == one.final)
            }
        }
    }

    @Test("Synthetic data generated only where a rank reads it has those rows' values")
    func pendingSyntheticRows() throws {
        let spec = try SyntheticRegression(task: .logistic, rows: 5000, features: 6, seed: 9)
        let whole = try spec.generate(workers: 2, bind: false)
        let pending = try spec.generatePending(workers: 2, bind: false, chunkRows: 512)
        #expect((0..<whole.rows).allSatisfy { pending.dataset.target($0) == whole.target($0) })
        #expect(pending.dataset.feature(100, 2) == 0)
        pending.fill(rows: [10..<900, 3000..<3001])
        for row in [10, 500, 899, 3000] { #expect((0..<6).map { pending.dataset.feature(row, $0) } == (0..<6).map { whole.feature(row, $0) }) }
        #expect((0..<6).allSatisfy { pending.dataset.feature(900, $0) == 0 && pending.dataset.feature(9, $0) == 0 })
    }

    @Test("A stop asked of one rank stops every rank at the same minibatch, with the same weights")
    func stopReachesEveryRank() throws {
        let testCase = trainingCases.first { $0.model is LinearRegression && $0.optimizer == "SGD" }!
        let data = try testCase.data()
        let outcomes = trainOnCluster(testCase, ranks: 3, workers: 1, data: data, stopRank: 2)
        #expect(outcomes.allSatisfy { $0.stop == .cancelled && $0.error == nil })
        #expect(Set(outcomes.map(\.weights)).count == 1)
        let uninterrupted = try train(testCase, workers: 1, data: data, epochs: 3)
        #expect(outcomes[0].weights != uninterrupted, "the ranks stopped before the end")
    }

    @Test("Bad data on one rank: that rank reports it, the others stop with it, before any step")
    func badDataOnOneRank() throws {
        let testCase = trainingCases.first { $0.model is LinearRegression && $0.optimizer == "Adam" }!
        let data = try testCase.data()
        let poisoned = try testCase.data()
        poisoned.x.base[1234 * poisoned.rowStride + 2] = .nan
        let outcomes = trainOnCluster(testCase, ranks: 3, workers: 1, data: data, rankData: [data, poisoned, data])
        guard case .incompatibleData(let message)? = outcomes[1].error else {
            Issue.record("rank 1: \(String(describing: outcomes[1].error))")
            return
        }
        #expect(message.contains("row 1234"))
        #expect(outcomes[0].error == .peerFailed(rank: 1) && outcomes[2].error == .peerFailed(rank: 1))
        #expect(outcomes.allSatisfy { $0.weights.isEmpty })
    }
}
}
