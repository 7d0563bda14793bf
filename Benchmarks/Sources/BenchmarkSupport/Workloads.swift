import Dispatch
import Optim

/// The benchmark workloads: one optimizer step over `count` Float parameters, every gradient
/// defined, state already created (a step was taken before timing), as in a training loop.
public enum StepWorkload: String, CaseIterable, Sendable {
    case sgdMomentum = "SGD-momentum"
    case adam = "Adam"
    case adamW = "AdamW"

    /// Parameters and an optimizer ready to step: values and gradients filled, one warm-up step.
    public func prepare(count: Int) throws -> (Parameters<Float>, any Optimizer<Float>) {
        let params = Parameters<Float>(shapes: [(name: "weight", shape: [count])])
        params.values.withUnsafeMutableBufferPointer { v in
            for i in v.indices { v[i] = Float(i % 1000) * 1e-3 - 0.5 }
        }
        params.grad.withUnsafeMutableBufferPointer { g in
            for i in g.indices { g[i] = Float(i % 777) * 1e-4 - 0.03 }
        }
        params.markAllGradientsDefined()
        let optimizer: any Optimizer<Float> = switch self {
        case .sgdMomentum: try SGD([params], lr: 1e-3, momentum: 0.9)
        case .adam: try Adam([params], lr: 1e-3)
        case .adamW: try AdamW([params], lr: 1e-3)
        }
        optimizer.step { 0 }
        return (params, optimizer)
    }

    /// Bytes one step moves: SGD-momentum reads θ, g, b and writes θ, b; Adam reads θ, g, m, v
    /// and writes θ, m, v.
    public var bytesPerParameter: Int { self == .sgdMomentum ? 5 * 4 : 7 * 4 }
}

/// A STREAM-like triad, a[i] = b[i] + s·c[i], over Float arrays, optionally split over threads:
/// the memory-bandwidth yardstick. It moves 12 bytes per element (two reads, one write).
public final class Triad {
    public let a: AlignedStorage<Float>, b: AlignedStorage<Float>, c: AlignedStorage<Float>

    public init(count: Int) {
        a = AlignedStorage(count: count, repeating: 0)
        b = AlignedStorage(count: count, repeating: 1)
        c = AlignedStorage(count: count, repeating: 2)
    }

    /// Runs the triad once on `threads` threads (contiguous halves, thirds, ...).
    @inline(never)
    public func run(threads: Int = 1, scalar: Float = 3) {
        let arrays = TriadArrays(a: a.withUnsafeMutableBufferPointer { $0.baseAddress! },
                                 b: b.withUnsafeBufferPointer { $0.baseAddress! },
                                 c: c.withUnsafeBufferPointer { $0.baseAddress! })
        let n = a.count
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let lo = t * n / threads, hi = (t + 1) * n / threads
            for i in lo..<hi { arrays.a[i] = arrays.b[i] + scalar * arrays.c[i] }
        }
    }

    /// Bytes one run moves, STREAM's way of counting.
    public var bytes: Int { 12 * a.count }
    public static var bytesPerElement: Int { 12 }
}

/// The triad's arrays, shared with the threads of one run; each thread touches its own range.
struct TriadArrays: @unchecked Sendable {
    let a: UnsafeMutablePointer<Float>, b: UnsafePointer<Float>, c: UnsafePointer<Float>
}

/// The median of `values` (the upper one of an even count).
public func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

/// Wall-clock seconds that `body` takes.
public func seconds(_ body: () -> Void) -> Double {
    let start = ContinuousClock.now
    body()
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
}

/// One bare read of a Float array, split over threads (contiguous parts): each element loaded
/// once and summed, nothing else. A gradient pass reads the same bytes and computes besides, so
/// its time over this one's is how close it runs to the machine's own read bandwidth.
public struct BareRead: @unchecked Sendable {
    // Only read, never written, by the threads of a run.
    let base: UnsafePointer<Float>
    public let count: Int

    public init(_ base: UnsafePointer<Float>, count: Int) {
        self.base = base
        self.count = count
    }

    /// Runs the read once on `threads` threads and returns the sum (so that it is not optimized away).
    @inline(never)
    public func run(threads: Int = 1) -> Float {
        let sums = UnsafeMutableBufferPointer<Float>.allocate(capacity: threads * 16)
        defer { sums.deallocate() }
        let shared = BareReadSums(pointer: sums.baseAddress!)
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let lo = t * count / threads / 64 * 64, hi = t + 1 == threads ? count : (t + 1) * count / threads / 64 * 64
            var a0 = SIMD16<Float>(), a1 = a0, a2 = a0, a3 = a0
            let raw = UnsafeRawPointer(base)
            var i = lo
            while i + 64 <= hi {
                a0 += raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self)
                a1 += raw.loadUnaligned(fromByteOffset: 4 * (i + 16), as: SIMD16<Float>.self)
                a2 += raw.loadUnaligned(fromByteOffset: 4 * (i + 32), as: SIMD16<Float>.self)
                a3 += raw.loadUnaligned(fromByteOffset: 4 * (i + 48), as: SIMD16<Float>.self)
                i += 64
            }
            var sum = ((a0 + a1) + (a2 + a3)).sum()
            while i < hi { sum += base[i]; i += 1 }
            shared.pointer[16 * t] = sum   // a cache line per thread
        }
        return (0..<threads).reduce(0) { $0 + sums[16 * $1] }
    }
}

/// The per-thread sums of one ``BareRead`` run; thread t writes only element 16·t.
struct BareReadSums: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
}
