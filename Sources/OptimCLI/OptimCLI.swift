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
    /// 2 usage errors (unknown or contradictory options), 130 interrupted.
    static func main() {
        guard CPUBaseline.isSupported else { fail(CPUBaseline.unsupportedMessage, code: 1) }
        do {
            var command = try parseAsRoot()
            try Launch.check(command)
            try command.run()
            if Launch.launchedRanks > 1 { Launch.current.finish() }
        } catch {
            report(error)
        }
    }

    /// Prints what went wrong and exits with its code. Under mpirun (see ``Launch``): an error
    /// every rank met alike is printed by rank 0; one that ranks agreed on is printed by the rank
    /// that met it; both end every rank normally. Any other error aborts the job from its rank.
    static func report(_ error: any Error) -> Never {
        let cluster = Launch.launchedRanks > 1 ? Launch.current : nil
        var error = error, agreed = false, everyRank = true
        var metByAll = false
        if let failure = error as? AgreedFailure {
            error = failure.error
            agreed = true
            metByAll = failure.everyRank
        }
        if case .peerFailed? = error as? TrainingError {
            cluster?.finish()
            Glibc.exit(1)
        }
        let (message, code): (String, Int32)
        switch error {
        case let error as DataFileError:
            (message, code) = (error.description, 1)
            everyRank = false
        case let error as DatasetError:
            (message, code) = (error.description, 1)
            everyRank = false
        case let error as TrainingError:
            (message, code) = (error.description, 1)
            if case .checkpointFailed = error { everyRank = false }
        case let error as DivergedError: (message, code) = (error.description, 1)
        case let error as InterruptedError: (message, code) = (error.description, 130)
        // Thrown by a command's run() once the data is known (parsing wraps its own).
        case let error as ValidationError: (message, code) = (error.message, 2)
        case let error as UsageError: (message, code) = (error.message + "\n" + OptimCommand.helpMessage(for: error.command), 2)
        default:
            let status = exitCode(for: error)
            if status == .success {
                if Launch.launchedRank == 0 { print(fullMessage(for: error)) }
                Glibc.exit(0)
            }
            // argument-parser starts its messages with "Error: "; ours says "optim: error:" already.
            var text = fullMessage(for: error)
            if text.hasPrefix("Error: ") { text.removeFirst("Error: ".count) }
            (message, code) = (text, status == .validationFailure || status.rawValue == 64 ? 2 : status.rawValue == 1 ? 1 : 2)
        }
        guard let cluster, cluster.size > 1 else {
            // One process; or ranks that each run alone (a build without MPI refusing mpirun):
            // the launcher's rank 0 speaks for them all.
            if Launch.launchedRank == 0 { fail(message, code: code) }
            Glibc.exit(code)
        }
        if agreed && !metByAll || !everyRank && !agreed {
            let line = "optim: error: rank \(cluster.rank): \(message)\n"
            _ = line.withCString { write(cluster.errorDescriptor, $0, strlen($0)) }
            if !agreed { cluster.abort(code: code) }
        } else if cluster.isLead {
            var standardError = StandardError()
            print("optim: error: \(message)", to: &standardError)
        }
        fflush(nil)
        cluster.finish()
        Glibc.exit(code)
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
