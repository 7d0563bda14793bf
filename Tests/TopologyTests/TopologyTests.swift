import Dispatch
import Foundation
import Synchronization
import Testing
@testable import Topology

@Suite("Topology")
struct TopologyTests {
    @Test("hwloc reads this machine: allowed cores, each with its processing units")
    func readsMachine() throws {
        let machine = try MachineTopology.current()
        #expect(!machine.cores.isEmpty)
        #expect(machine.packages >= 1 && machine.numaNodes >= 1)
        #expect(Set(machine.processingUnits).count == machine.processingUnits.count, "a PU belongs to one core")
        // The process may use what the kernel says it may (sched_getaffinity).
        #expect(machine.processingUnits.count <= ProcessInfo.processInfo.processorCount)
    }

    @Test("Plans put workers on physical cores first, spread over packages and NUMA nodes, SMT siblings last")
    func planOrder() {
        // 2 packages × 2 cores × 2 hardware threads; PU numbering as Linux often does it.
        let cores = [
            MachineTopology.Core(index: 0, package: 0, numaNode: 0, processingUnits: [0, 4]),
            MachineTopology.Core(index: 1, package: 0, numaNode: 0, processingUnits: [1, 5]),
            MachineTopology.Core(index: 2, package: 1, numaNode: 1, processingUnits: [2, 6]),
            MachineTopology.Core(index: 3, package: 1, numaNode: 1, processingUnits: [3, 7]),
        ]
        let machine = MachineTopology(packages: 2, numaNodes: 2, cores: cores)
        #expect(machine.plan(workers: 2).units == [0, 2], "one worker per package first")
        #expect(machine.plan(workers: 4).units == [0, 2, 1, 3])
        #expect(!machine.plan(workers: 4).usesSMTSiblings)
        #expect(machine.plan(workers: 6).units == [0, 2, 1, 3, 4, 6], "then SMT siblings")
        #expect(machine.plan(workers: 6).usesSMTSiblings)
        let oversubscribed = machine.plan(workers: 10)
        #expect(oversubscribed.units == [0, 2, 1, 3, 4, 6, 5, 7, 0, 2])
        #expect(oversubscribed.sharesProcessingUnits)
    }

    @Test("Binding the calling thread pins it, and the old binding can be restored")
    func bindAndRestore() throws {
        let machine = try MachineTopology.current()
        let before = try #require(ThreadBinding.current())
        let target = machine.processingUnits.last!
        // Bind on a thread of our own, so that the test runner's threads are never touched.
        let result = runOnNewThread { () -> ([Int]?, Int?, [Int]?) in
            let original = ThreadBinding.current()
            guard ThreadBinding.bind(to: [target]) else { return (nil, nil, nil) }
            let pinned = ThreadBinding.current()
            var spin = 0.0
            for i in 0..<200_000 { spin += Double(i) }
            let ranOn = spin > 0 ? ThreadBinding.lastProcessingUnit() : nil
            ThreadBinding.bind(to: original ?? machine.processingUnits)
            return (pinned, ranOn, ThreadBinding.current())
        }
        #expect(result.0 == [target])
        #expect(result.1 == target)
        #expect(result.2 == before)
        #expect(ThreadBinding.current() == before, "the test's own thread was not touched")
        #expect(!ThreadBinding.bind(to: [100_000]), "binding to a PU that does not exist is refused, not fatal")
    }
}

@Suite("CPU quota")
struct CPUQuotaTests {
    @Test("cgroup quotas parse to CPUs (v2's cpu.max and v1's quota over period); 'max' and -1 mean none")
    func parsing() {
        #expect(CPUQuota.parse(cpuMax: "200000 100000\n") == 2)
        #expect(CPUQuota.parse(cpuMax: "150000 100000") == 1.5)
        #expect(CPUQuota.parse(cpuMax: "max 100000\n") == nil)
        #expect(CPUQuota.parse(cpuMax: "") == nil)
        #expect(CPUQuota.parse(quota: "50000\n", period: "100000\n") == 0.5)
        #expect(CPUQuota.parse(quota: "-1\n", period: "100000\n") == nil)
        #expect(CPUQuota.parse(quota: "garbage", period: "100000") == nil)
        #expect(CPUQuota.ancestors(of: "/a/b") == ["/a/b", "/a", ""])
        #expect(CPUQuota.ancestors(of: "/") == [""])
    }

    @Test("Workers within a quota: the quota rounded up, never more than the cores nor fewer than one")
    func workers() {
        #expect(CPUQuota.workers(within: 16, quota: 2) == 2)
        #expect(CPUQuota.workers(within: 16, quota: 1.5) == 2)
        #expect(CPUQuota.workers(within: 16, quota: 0.25) == 1)
        #expect(CPUQuota.workers(within: 4, quota: 32) == 4)
        #expect(CPUQuota.workers(within: 8, quota: nil) == 8)
        if let quota = CPUQuota.current() { #expect(quota > 0) }
    }
}

/// Runs `body` on a new thread and returns its result.
func runOnNewThread<T: Sendable>(_ body: @escaping @Sendable () -> T) -> T {
    let result = Mutex<T?>(nil)
    let done = DispatchSemaphore(value: 0)
    Thread {
        let value = body()
        result.withLock { $0 = value }
        done.signal()
    }.start()
    done.wait()
    return result.withLock { $0! }
}
