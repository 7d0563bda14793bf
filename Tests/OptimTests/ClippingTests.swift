import Foundation
import Optim
import Testing

struct ClippingCase: Decodable {
    let kind: String
    let dtype: String
    let norm_type: JSONValue?
    let max: Double
    let grads: [[Double]]
    let total_norm: Double?
    let clipped: [[Double]]
}

func clippingCases() throws -> [ClippingCase] {
    struct File: Decodable { let cases: [ClippingCase] }
    let url = Bundle.module.resourceURL!.appendingPathComponent("Reference/clip_grad.json")
    return try JSONDecoder().decode(File.self, from: Data(contentsOf: url)).cases
}

@Suite("Gradient clipping")
struct ClippingTests {
    func check<S: OptimScalar>(_ c: ClippingCase, _: S.Type, tolerance: Double) throws {
        let params = Parameters<S>(shapes: [(name: "a", shape: [c.grads[0].count]), (name: "b", shape: [c.grads[1].count])])
        params.setGrad(c.grads[0].map { S($0) }, at: 0)
        params.setGrad(c.grads[1].map { S($0) }, at: 1)
        if c.kind == "norm" {
            let p: Double = if case .string = c.norm_type { .infinity } else { c.norm_type!.number! }
            let total = try clipGradNorm([params], maxNorm: c.max, normType: p)
            #expect(close(total, c.total_norm!, relative: tolerance), "norm \(p): \(total), torch \(c.total_norm!)")
        } else {
            clipGradValue([params], clipValue: c.max)
        }
        let clipped = [params.gradient(at: 0)!, params.gradient(at: 1)!].map { $0.map(\.doubleValue) }
        for (mine, theirs) in zip(clipped.joined(), c.clipped.joined()) {
            #expect(close(mine, theirs, relative: tolerance), "\(c.kind) \(String(describing: c.norm_type)) max \(c.max): \(mine), torch \(theirs)")
        }
    }

    @Test("clipGradNorm and clipGradValue match torch.nn.utils for 1-, 2-, 3-, 0.5- and inf-norms, Float and Double")
    func matchesTorch() throws {
        let cases = try clippingCases()
        #expect(cases.count >= 20)
        for c in cases {
            if c.dtype == "float64" { try check(c, Double.self, tolerance: 1e-14) } else { try check(c, Float.self, tolerance: 1e-6) }
        }
    }

    @Test("A non-finite total norm is an error when asked, and the gradients stay as they were")
    func nonFinite() throws {
        let params = Parameters<Double>([1, 2])
        params.setGrad([.infinity, 1], at: 0)
        #expect(throws: OptimError.self) { try clipGradNorm([params], maxNorm: 1, errorIfNonfinite: true) }
        #expect(params.gradient(at: 0) == [.infinity, 1])
        #expect(try clipGradNorm([Parameters<Double>([1])], maxNorm: 1) == 0, "no gradients: norm 0")
    }
}
