import ArgumentParser
import Foundation
import Datasets
import DataParallel
import Topology
#if canImport(Glibc)
import Glibc
#endif

/// `optim`: torch.optim's optimizers and a data-parallel trainer for regression models.
@main
struct OptimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "optim",
        abstract: "Train regression models data-parallel on every core, with torch.optim's optimizers.",
        discussion: """
            Results are bitwise identical for any number of workers. Run `optim train` with no \
            arguments to train on a built-in synthetic regression; `optim help train` lists \
            every option.
            """,
        version: "0.1.0",
        subcommands: [Train.self, Predict.self, Evaluate.self, Compare.self, Scale.self, TopologyCommand.self, Generate.self],
        defaultSubcommand: nil
    )

    /// Exit codes: 0 success, 1 data errors (unreadable or malformed files, diverged training),
    /// 2 usage errors (unknown or contradictory options).
    static func main() {
        guard CPUBaseline.isSupported else { fail(CPUBaseline.unsupportedMessage, code: 1) }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as DataFileError {
            fail(error.description, code: 1)
        } catch let error as TrainingError {
            fail(error.description, code: 1)
        } catch let error as DatasetError {
            fail(error.description, code: 1)
        } catch let error as DivergedError {
            fail(error.description, code: 1)
        } catch let error as InterruptedError {
            fail(error.description, code: 130)
        } catch let error as ValidationError {
            // Thrown by a command's run() once the data is known (parsing wraps its own).
            fail(error.message, code: 2)
        } catch let error as UsageError {
            fail(error.message + "\n" + OptimCommand.helpMessage(for: error.command), code: 2)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Glibc.exit(0)
            }
            // argument-parser starts its messages with "Error: "; ours says "optim: error:" already.
            var message = fullMessage(for: error)
            if message.hasPrefix("Error: ") { message.removeFirst("Error: ".count) }
            fail(message, code: code == .validationFailure || code.rawValue == 64 ? 2 : code.rawValue == 1 ? 1 : 2)
        }
    }

    static func fail(_ message: String, code: Int32) -> Never {
        var standardError = StandardError()
        print("optim: error: \(message)", to: &standardError)
        Glibc.exit(code)
    }
}

/// A usage error found after parsing (an option that does not apply, contradictory options).
struct UsageError: Error {
    let message: String
    let command: ParsableCommand.Type
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) { FileHandle.standardError.write(Data(string.utf8)) }
}
