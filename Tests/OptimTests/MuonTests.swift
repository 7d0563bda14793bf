import Foundation
@testable import Optim
import Testing

@Suite("Muon")
struct MuonTests {
    @Test("2-D weights only, with torch's message; torch's checks of the hyperparameters")
    func validation() throws {
        let mixed = Parameters<Double>(shapes: [(name: "weight", shape: [2, 3]), (name: "bias", shape: [2])])
        #expect(throws: OptimError("Muon only supports 2D parameters whereas we found a parameter with size: torch.Size([2])")) {
            try Muon([mixed])
        }
        let weights = Parameters<Double>(shapes: [(name: "weight", shape: [2, 3])])
        #expect(throws: OptimError("Adjust learning rate function cubic is not supported")) { try Muon([weights], adjustLRFn: "cubic") }
        #expect(throws: OptimError("Number of steps must be less than 100 for computational efficiency")) { try Muon([weights], nsSteps: 100) }
        #expect(throws: OptimError("momentum should be >= 0 but is: -0.5")) { try Muon([weights], momentum: -0.5) }
    }

    @Test("The orthogonalized step of a matrix has singular values near 1 (Newton–Schulz), for wide and tall weights")
    func orthogonalizes() throws {
        for (rows, columns) in [(3, 7), (7, 3)] {
            let values: [Double] = (0..<(rows * columns)).map { (k: Int) -> Double in
                let a = Double(k % 5), b = Double(k / 5)
                return a - 1.7 + 0.3 * b
            }
            let u = Muon<Double>.newtonSchulz(values, rows: rows, columns: columns, options: MuonOptions())
            // U Uᵀ (or Uᵀ U) for the short side: close to the identity, as the iteration promises
            // (its fixed coefficients leave singular values in about [0.7, 1.2]).
            let short = min(rows, columns)
            for i in 0..<short {
                for j in 0..<short {
                    var dot = 0.0
                    for k in 0..<max(rows, columns) {
                        let (a, b) = rows <= columns ? (u[i * columns + k], u[j * columns + k]) : (u[k * columns + i], u[k * columns + j])
                        dot += Double(a) * Double(b)
                    }
                    if i == j { #expect(dot > 0.4 && dot < 1.5, "\(rows)×\(columns): diagonal \(dot)") } else { #expect(abs(dot) < 0.35, "\(rows)×\(columns): off-diagonal \(dot)") }
                }
            }
        }
    }

    @Test("State dicts round-trip; a deleted or mis-sized momentum buffer is refused and changes nothing")
    func stateDicts() throws {
        let weights = Parameters<Double>(shapes: [(name: "weight", shape: [2, 3])])
        weights.values.assign([0.5, -1, 2, 0.25, 0, 1])
        let muon = try Muon([weights], lr: 0.02)
        for _ in 0..<3 {
            weights.setGrad(weights.value(at: 0).map { 2 * $0 - 0.3 }, at: 0)
            muon.step()
        }
        let good = muon.stateDict()
        let other = try Muon([Parameters<Double>(shapes: [(name: "weight", shape: [2, 3])])])
        try other.loadStateDict(JSONDecoder().decode(OptimizerStateDict<MuonOptions>.self, from: JSONEncoder().encode(good)))
        #expect(other.stateDict() == good)
        for damaged in [[String: StateValue](), ["momentum_buffer": .tensor([1, 2])]] {
            var dict = good
            dict.state[0] = damaged
            #expect(throws: OptimError.self) { try muon.loadStateDict(dict) }
            #expect(muon.stateDict() == good)
        }
    }

    @Test("With `others`, the tensors that are not 2-D take AdamW's steps: bitwise a Muon on the weights and an AdamW on the biases side by side; state dicts round-trip")
    func othersByAdamW() throws {
        func gradient(_ values: [Double], _ step: Int) -> [Double] { values.enumerated().map { 2 * $1 - 0.3 + 0.01 * Double($0 + step) } }
        let combined = Parameters<Double>(shapes: [(name: "weight", shape: [3, 4]), (name: "bias", shape: [3])])
        combined.values.assign((0..<15).map { Double($0 % 7) * 0.1 - 0.3 })
        let weights = Parameters<Double>(shapes: [(name: "weight", shape: [3, 4])]), biases = Parameters<Double>(shapes: [(name: "bias", shape: [3])])
        weights.values.assign(combined.value(at: 0))
        biases.values.assign(combined.value(at: 1))
        let adamw = AdamOptions(lr: 0.01, weightDecay: 0.01, decoupledWeightDecay: true)
        let one = try Muon([combined], lr: 0.02, others: adamw)
        let muon = try Muon([weights], lr: 0.02), adam = try AdamW([biases], lr: 0.01, weightDecay: 0.01)
        for step in 0..<4 {
            combined.setGrad(gradient(combined.value(at: 0), step), at: 0)
            combined.setGrad(gradient(combined.value(at: 1), step), at: 1)
            weights.setGrad(gradient(weights.value(at: 0), step), at: 0)
            biases.setGrad(gradient(biases.value(at: 0), step), at: 0)
            one.step(); muon.step(); adam.step()
        }
        #expect(combined.value(at: 0) == weights.value(at: 0) && combined.value(at: 1) == biases.value(at: 0))
        let saved = one.stateDict()
        #expect(saved.state[1]?["exp_avg"] == adam.stateDict().state[0]?["exp_avg"] && saved.state[1]?["step"]?.number == 4)
        let again = try Muon([Parameters<Double>(shapes: [(name: "weight", shape: [3, 4]), (name: "bias", shape: [3])])], lr: 0.02, others: adamw)
        try again.loadStateDict(saved)
        #expect(again.stateDict() == saved)
        var damaged = saved
        damaged.state[1]?["exp_avg_sq"] = nil
        #expect(throws: OptimError.self) { try again.loadStateDict(damaged) }
        #expect(again.stateDict() == saved)
    }
}
