// A data-parallel fit through the library API: the README's example, as a program.
//
//   swift run -c release fit-example

import DataParallel
import Datasets
import Models
import Optim

let spec = try SyntheticRegression(task: .linear, rows: 1 << 20, features: 32, noise: 0.1, seed: 42)
let (training, validation) = try spec.generate(bind: true).split(validationFraction: 0.1)   // on the pinned workers

let model = LinearRegression(features: 32)
let parameters = model.makeParameters(seed: 1)
let optimizer = try Adam([parameters], lr: 0.01)

let report = try fit(
    model, parameters: parameters, data: training, validation: validation,
    optimizer: optimizer, schedule: .stepping(CosineAnnealingLR(optimizer, tMax: 10)),
    configuration: FitConfiguration(batchSize: 65_536, epochs: 10, earlyStopping: .init(patience: 3))
) { epoch in
    print("epoch \(epoch.epoch): training loss \(epoch.trainingLoss), validation R² \(epoch.validation?.r2 ?? .nan)")
}
print("stopped: \(report.stopReason), final validation MSE \(report.finalMetrics!.mse!)")
print("distance to the true weights: \(report.trueWeightDistance!)")
print("\(Int(report.rowsPerSecond)) rows/s, \(report.bytesPerSecond / 1e9) GB/s; workers: \(report.placement.units)")

// The same fit in double precision (the README's second example).
let wide = try training.converted(to: Double.self)          // or CSV/NPY/LibSVM readers with `as: Double.self`
let parameters64 = model.makeParameters(seed: 1, as: Double.self)
_ = try fit(model, parameters: parameters64, data: wide, optimizer: try LBFGS([parameters64], lineSearchFn: .strongWolfe),
            configuration: FitConfiguration(batchSize: wide.rows, epochs: 20))
print("float64 LBFGS: training loss \(try score(model, parameters: parameters64, data: wide).loss)")
