import Models
import Optim

/// Adds the penalty's gradient to `parameters.grad` over the weight tensors and returns its value.
/// Serial and in element order, so it is the same for any worker count.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
func addPenalty<Scalar: TrainingScalar>(_ penalty: FitConfiguration.Penalty, to parameters: Parameters<Scalar>) -> Double {
    let l2 = Scalar(penalty.l2), l1 = Scalar(penalty.l1)
    var value = 0.0
    parameters.values.withUnsafeBufferPointer { theta in
        parameters.grad.withUnsafeMutableBufferPointer { g in
            for tensor in parameters.tensors where isPenalized(tensor.name) {
                var squares = 0.0, absolutes = 0.0
                let first = tensor.name == "weight" || tensor.name == "0.weight"
                if first, let scales = penalty.featureScales, !scales.isEmpty, tensor.count % scales.count == 0 {
                    let d = scales.count
                    for j in 0..<tensor.count {
                        let inverse = 1 / Scalar(scales[j % d]), w = theta[tensor.offset + j], raw = w * inverse
                        squares += Double(raw) * Double(raw)
                        absolutes += Double(abs(raw))
                        g[tensor.offset + j] += (l2 * raw + (w > 0 ? l1 : w < 0 ? -l1 : 0)) * inverse
                    }
                } else {
                    for j in tensor.offset..<(tensor.offset + tensor.count) {
                        let w = theta[j]
                        squares += Double(w) * Double(w)
                        absolutes += Double(abs(w))
                        g[j] += l2 * w + (w > 0 ? l1 : w < 0 ? -l1 : 0)
                    }
                }
                value += penalty.l2 / 2 * squares + penalty.l1 * absolutes
            }
        }
    }
    return value
}

/// Whether a tensor is one the penalties apply to: weights, not biases (as scikit-learn).
public func isPenalized(_ tensorName: String) -> Bool { tensorName == "weight" || tensorName.hasSuffix(".weight") }

/// The order of the minibatches in `epoch`: a seeded permutation (SplitMix64-driven Fisher-Yates)
/// that depends on the seed and the epoch, never on the workers.
func batchOrder(_ count: Int, epoch: Int, seed: UInt64, shuffle: Bool) -> [Int] {
    var order = Array(0..<count)
    guard shuffle, count > 1 else { return order }
    var random = SplitMix64(seed: seed ^ (UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15))
    random.shuffle(&order)
    return order
}
