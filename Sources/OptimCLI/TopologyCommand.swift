import ArgumentParser
import Foundation
import Synchronization
import Topology

/// `optim topology`: the machine as hwloc sees it, and where workers would run.
struct TopologyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topology",
        abstract: "Show the machine as hwloc sees it, the allowed CPUs, the worker plan, and a binding self-check."
    )

    @Option(help: "Workers to plan for (default: every allowed core within the CPU quota).") var workers: Int?

    func validate() throws {
        if let workers, !(1...4096).contains(workers) { throw ValidationError("--workers must be from 1 to 4096") }
    }

    func run() throws {
        let machine = try MachineTopology.current()
        print("packages: \(machine.packages), NUMA nodes: \(machine.numaNodes), cores: \(machine.cores.count), processing units: \(machine.processingUnits.count)")
        for cache in machine.caches {
            print("L\(cache.level): \(cache.count) × \(cache.bytes / 1024) KiB")
        }
        for core in machine.cores {
            print("core \(core.index): package \(core.package), NUMA node \(core.numaNode), PUs \(core.processingUnits)")
        }
        print("allowed PUs: \(machine.processingUnits); CPU quota: \(CPUQuota.current().map { "\($0) CPUs" } ?? "none")")
        let plan = machine.plan(workers: workers ?? CPUQuota.workers(within: machine.cores.count))
        print("plan: \(plan)")
        if plan.sharesProcessingUnits { print("note: \(plan.units.count) workers on \(plan.allowedUnits) PUs: some share a core") }
        // Binding self-check, on a thread of our own so the main thread is never pinned.
        let results = LockedResults()
        let threads = plan.units.map { unit in
            Thread {
                let bound = ThreadBinding.bind(to: [unit])
                var spin = 0.0
                for i in 0..<2_000_000 { spin += Double(i) }
                results.append((unit, bound, spin > 0 ? ThreadBinding.lastProcessingUnit() : nil))
            }
        }
        threads.forEach { $0.start() }
        while results.count < threads.count { usleep(1000) }
        for (unit, bound, ranOn) in results.sorted() {
            print("binding check: PU \(unit): \(bound ? "bound" : "refused (workers would run unpinned)"), ran on PU \(ranOn.map(String.init) ?? "?")")
        }
    }
}

/// Results the check's threads report.
final class LockedResults: Sendable {
    private let values = Mutex<[(unit: Int, bound: Bool, ranOn: Int?)]>([])
    func append(_ value: (Int, Bool, Int?)) { values.withLock { $0.append((value.0, value.1, value.2)) } }
    var count: Int { values.withLock { $0.count } }
    func sorted() -> [(Int, Bool, Int?)] { values.withLock { $0.sorted { $0.unit < $1.unit }.map { ($0.unit, $0.bound, $0.ranOn) } } }
}
