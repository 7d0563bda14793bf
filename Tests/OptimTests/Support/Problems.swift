import Foundation
import Optim

/// The small problems of the PyTorch reference fixtures (`tools/make_torch_fixtures.py`), each a
/// loss with its gradient written in the order torch's autograd computes it. Generic over the
/// scalar type, like the fixtures (float32 and float64 runs).
struct Problem<S: OptimScalar> {
    let name: String
    /// Loss at the parameters, and the gradient, both in `S`.
    let lossAndGradient: ([S]) -> (S, [S])

    static func named(_ name: String) -> Problem {
        switch name {
        case "seed_linear": seedLinear
        case "rosenbrock": rosenbrock
        case "lsq5": leastSquares5
        case "beale": beale
        case "logistic8": logistic8
        case "lsq_matrix": leastSquaresMatrix
        case "lsq_matrix_nobias": weightsOnly(features: 5, outputs: 2, name: name)
        case "lsq_tall": weightsOnly(features: 2, outputs: 5, name: name)
        default: fatalError("unknown fixture problem \(name)")
        }
    }

    /// Sum in index order, as a fixed-order reduction.
    static func sum(_ values: [S]) -> S { values.reduce(0, +) }

    /// mean((X·w + b − y)²) over rows, params [w..., b].
    static func meanSquaredError(rows: [[S]], targets: [S]) -> ([S]) -> (S, [S]) {
        { p in
            let d = p.count - 1
            let n = S(rows.count)
            let residuals = rows.indices.map { i -> S in
                var prediction: S = 0
                for j in 0..<d { prediction = prediction.addingProduct(rows[i][j], p[j]) }
                return prediction + p[d] - targets[i]
            }
            let loss = sum(residuals.map { $0 * $0 }) / n
            let meanGrad = S(1.0 / Double(rows.count))
            let gradResiduals = residuals.map { meanGrad * (2 * $0) }
            var grad = (0..<d).map { j in sum(rows.indices.map { gradResiduals[$0] * rows[$0][j] }) }
            grad.append(sum(gradResiduals))
            return (loss, grad)
        }
    }

    static var seedX: [Double] { [3.3, 4.4, 5.5, 6.71, 6.93, 4.168, 9.779, 6.182, 7.59, 2.167, 7.042, 10.791, 5.313, 7.997, 3.1] }
    static var seedY: [Double] { [1.7, 2.76, 2.09, 3.19, 1.694, 1.573, 3.366, 2.596, 2.53, 1.221, 2.827, 3.465, 1.65, 2.904, 1.3] }

    static var seedLinear: Problem {
        let x = seedX.map { S($0) }, y = seedY.map { S($0) }
        return Problem(name: "seed_linear") { p in
            let residuals = x.indices.map { p[0] * x[$0] + p[1] - y[$0] }
            let loss = sum(residuals.map { $0 * $0 }) / S(x.count)
            let meanGrad = S(1.0 / Double(x.count))
            let g = residuals.map { meanGrad * (2 * $0) }
            return (loss, [sum(x.indices.map { g[$0] * x[$0] }), sum(g)])
        }
    }

    static var rosenbrock: Problem {
        Problem(name: "rosenbrock") { p in
            let a = 1 - p[0], d = p[1] - p[0] * p[0]
            let loss = a * a + 100 * (d * d)
            let gd = 100 * (2 * d)
            let gx = -(2 * a) + (-gd) * (2 * p[0])
            return (loss, [gx, gd])
        }
    }

    /// mean((X Wᵀ + b − Y)²) over 20 rows × 2 outputs, params [W (2 × 5, row-major)..., b (2)]:
    /// the rows of lsq5, two targets.
    static var leastSquaresMatrix: Problem {
        let c: [[Double]] = [[1.0, -2.0, 0.5, 3.0, -1.0], [0.25, 1.5, -1.0, 0.0, 2.0]]
        let (n, d, k) = (20, 5, 2)
        var rows: [[S]] = [], targets: [[S]] = []
        for i in 0..<n {
            let row = (0..<d).map { j -> Double in sin(0.3 * Double(i + 1) * Double(j + 1)) + 0.1 * Double(j) }
            rows.append(row.map { S($0) })
            // torch builds Y from X's entries rounded to the dtype (X[i, j].item()).
            let rounded = row.map { S($0).doubleValue }
            targets.append((0..<k).map { o in
                var sum = 0.0
                for j in 0..<d { sum += c[o][j] * rounded[j] }
                return S(sum + 0.5 * Double(o + 1) + 0.01 * cos(Double(i + o)))
            })
        }
        return Problem(name: "lsq_matrix") { p in
            let count = S(n * k)
            var residuals: [[S]] = []
            for i in 0..<n {
                residuals.append((0..<k).map { o in
                    var prediction: S = 0
                    for j in 0..<d { prediction = prediction.addingProduct(rows[i][j], p[o * d + j]) }
                    return prediction + p[k * d + o] - targets[i][o]
                })
            }
            let loss = sum(residuals.flatMap { $0.map { $0 * $0 } }) / count
            let meanGrad = S(1.0 / Double(n * k))
            let g = residuals.map { $0.map { meanGrad * (2 * $0) } }
            var grad: [S] = []
            for o in 0..<k { for j in 0..<d { grad.append(sum((0..<n).map { g[$0][o] * rows[$0][j] })) } }
            for o in 0..<k { grad.append(sum((0..<n).map { g[$0][o] })) }
            return (loss, grad)
        }
    }

    /// mean((X Wᵀ − Y)²), params W (outputs × features, row-major) alone: X[i][j] = sin(0.3(i+1)(j+1))
    /// + 0.1j, Y[i][o] = Σⱼ cos(o + 2j)·X[i][j] + 0.1·o over 20 rows.
    static func weightsOnly(features d: Int, outputs k: Int, name: String) -> Problem {
        let n = 20
        var rows: [[S]] = [], targets: [[S]] = []
        for i in 0..<n {
            let row = (0..<d).map { j -> Double in sin(0.3 * Double(i + 1) * Double(j + 1)) + 0.1 * Double(j) }
            rows.append(row.map { S($0) })
            let rounded = row.map { S($0).doubleValue }
            targets.append((0..<k).map { o in
                var sum = 0.0
                for j in 0..<d { sum += cos(Double(o + 2 * j)) * rounded[j] }
                return S(sum + 0.1 * Double(o))
            })
        }
        return Problem(name: name) { p in
            var residuals: [[S]] = []
            for i in 0..<n {
                residuals.append((0..<k).map { o in
                    var prediction: S = 0
                    for j in 0..<d { prediction = prediction.addingProduct(rows[i][j], p[o * d + j]) }
                    return prediction - targets[i][o]
                })
            }
            let loss = sum(residuals.flatMap { $0.map { $0 * $0 } }) / S(n * k)
            let meanGrad = S(1.0 / Double(n * k))
            let g = residuals.map { $0.map { meanGrad * (2 * $0) } }
            var grad: [S] = []
            for o in 0..<k { for j in 0..<d { grad.append(sum((0..<n).map { g[$0][o] * rows[$0][j] })) } }
            return (loss, grad)
        }
    }

    static var leastSquares5: Problem {
        let c: [Double] = [1.0, -2.0, 0.5, 3.0, -1.0]
        var rows: [[S]] = []
        for i in 0..<20 {
            var row: [S] = []
            for j in 0..<5 {
                let angle: Double = 0.3 * Double(i + 1) * Double(j + 1)
                let value: Double = sin(angle) + 0.1 * Double(j)
                row.append(S(value))
            }
            rows.append(row)
        }
        let targets = (0..<20).map { i -> S in
            var total = 0.0
            for j in 0..<5 { total += c[j] * rows[i][j].doubleValue }
            return S(total + 0.5 + 0.01 * cos(Double(i)))
        }
        return Problem(name: "lsq5", lossAndGradient: meanSquaredError(rows: rows, targets: targets))
    }

    static var beale: Problem {
        Problem(name: "beale") { p in
            let x = p[0], y = p[1]
            let t1 = 1.5 - x + x * y, t2 = 2.25 - x + x * (y * y), t3 = 2.625 - x + x * (y * y * y)
            let loss = t1 * t1 + t2 * t2 + t3 * t3
            let g1 = 2 * t1, g2 = 2 * t2, g3 = 2 * t3
            let gx = g1 * (y - 1) + g2 * (y * y - 1) + g3 * (y * y * y - 1)
            let gy = g1 * x + g2 * (x * 2 * y) + g3 * (x * 3 * y * y)
            return (loss, [gx, gy])
        }
    }

    static var logistic8: Problem {
        var rows: [[S]] = []
        for i in 0..<32 {
            var row: [S] = []
            for j in 0..<3 {
                let angle: Double = 0.7 * Double(i + 1) * Double(j + 2)
                row.append(S(cos(angle)))
            }
            rows.append(row)
        }
        let targets = (0..<32).map { i -> S in
            let r: [Double] = rows[i].map(\.doubleValue)
            let noise: Double = 0.1 * sin(3 * Double(i))
            let v: Double = r[0] - 0.5 * r[1] + 0.25 * r[2] + noise
            return v > 0 ? 1 : 0
        }
        return Problem(name: "logistic8") { p in
            let n = S(rows.count)
            var loss: S = 0
            var gradLogits: [S] = []
            for i in rows.indices {
                var z: S = 0
                for j in 0..<3 { z = z.addingProduct(rows[i][j], p[j]) }
                z = z + p[3]
                let t = targets[i]
                let zd = z.doubleValue
                loss += S(max(zd, 0) - zd * t.doubleValue + log1p(exp(-abs(zd))))
                gradLogits.append((S(1 / (1 + exp(-zd))) - t) / n)
            }
            var grad = (0..<3).map { j in sum(rows.indices.map { gradLogits[$0] * rows[$0][j] }) }
            grad.append(sum(gradLogits))
            return (loss / n, grad)
        }
    }
}
