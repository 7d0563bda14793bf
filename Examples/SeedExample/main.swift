// The example of the document swift-optim grew from, ported line for line from PyTorch:
// a 15-point linear regression, nn.Linear(1, 1) and MSELoss, trained with SGD, SGD with
// momentum, RMSprop, Adam and LBFGS. With the initial weights torch.manual_seed(42) draws, it
// prints what the PyTorch original prints.
//
//   swift run -c release seed-example      (or: optim compare --dataset seed)

import Foundation
import SeedRegression

do {
    for run in try SeedRegression.runAll() { run.printed.forEach { print($0) } }
} catch {
    FileHandle.standardError.write(Data("seed-example: \(error)\n".utf8))
    exit(1)
}
