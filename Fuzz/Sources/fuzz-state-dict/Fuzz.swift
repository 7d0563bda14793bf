import Foundation
import FuzzSupport
import Optim

/// Loads the input as an optimizer's or a scheduler's state dict (JSON), into one of each kind
/// chosen by the first byte, then steps.
@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 1 else { return 0 }
    let json = Data(bytes: data + 1, count: size - 1)
    let parameters = Parameters<Double>(shapes: [(name: "weight", shape: [1, 3]), (name: "bias", shape: [1])])
    parameters.values.assign([1, -2, 3, 0.5])
    func step<O: Optimizer>(_ optimizer: O) where O.Scalar == Double {
        _ = optimizer.step {
            optimizer.zeroGrad(setToNone: true)
            for index in parameters.tensors.indices { parameters.setGrad(parameters.value(at: index).map { 2 * $0 }, at: index) }
            return parameters.values.array.reduce(0) { $0 + $1 * $1 }
        }
    }
    func load<O: Optimizer>(_ optimizer: O?) where O.Scalar == Double {
        guard let optimizer, let dict = try? JSONDecoder().decode(OptimizerStateDict<O.Options>.self, from: json) else { return }
        if (try? optimizer.loadStateDict(dict)) != nil { step(optimizer) }
    }
    switch data[0] % 9 {
    case 0: load(try? SGD([parameters], lr: 0.1, momentum: 0.9))
    case 1: load(try? Adam([parameters], lr: 0.1, amsgrad: true))
    case 2: load(try? LBFGS([parameters], lr: 0.5, maxIter: 3, lineSearchFn: .strongWolfe))
    case 3: load(try? RMSprop([parameters], momentum: 0.5, centered: true))
    case 4: load(try? ASGD([parameters], t0: 1))
    case 5: load(try? NAdam([parameters]))
    case 8: load(try? Adafactor([parameters], lr: 0.1))
    default:
        guard let optimizer = try? SGD([parameters], lr: 0.1),
              let state = try? JSONDecoder().decode([String: StateValue].self, from: json) else { return 0 }
        if data[0] % 2 == 0 {
            guard let scheduler = try? CosineAnnealingWarmRestarts(optimizer, t0: 3) else { return 0 }
            if (try? scheduler.loadStateDict(state)) != nil { _ = try? scheduler.step() }
        } else {
            guard let plateau = try? ReduceLROnPlateau(optimizer) else { return 0 }
            if (try? plateau.loadStateDict(state)) != nil { plateau.step(metric: 1) }
        }
    }
    return 0
}

@_cdecl("fuzz_state_dict_main")
func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { runFuzzer(argc, argv) { testOneInput($0, $1) } }
