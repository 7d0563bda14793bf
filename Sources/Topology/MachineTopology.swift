import CHwloc

/// An immutable snapshot of the machine as hwloc sees it, restricted to the CPUs this process
/// may use (its CPU binding from taskset, numactl or a launcher, and its cgroup cpuset).
///
/// ```swift
/// let machine = try MachineTopology.current()
/// let plan = machine.plan(workers: 8)   // physical cores first, spread over packages and NUMA nodes
/// ```
public struct MachineTopology: Sendable, Equatable {
    /// One physical core and its hardware threads.
    public struct Core: Sendable, Equatable {
        /// hwloc's logical index of the core (topology order: neighbours share caches).
        public let index: Int
        /// The package (socket) holding the core, by logical index.
        public let package: Int
        /// The NUMA node local to the core, by logical index.
        public let numaNode: Int
        /// The OS indices of the core's processing units (hardware threads), the first one first.
        public let processingUnits: [Int]

        /// A core, for planning by hand and for tests.
        public init(index: Int, package: Int, numaNode: Int, processingUnits: [Int]) {
            self.index = index
            self.package = package
            self.numaNode = numaNode
            self.processingUnits = processingUnits
        }
    }

    /// A level of cache and how many of it there are.
    public struct Cache: Sendable, Equatable {
        /// 1 for L1 data, 2, 3, ...
        public let level: Int
        /// Size in bytes of one cache of this level.
        public let bytes: Int
        /// How many caches of this level the allowed cores use.
        public let count: Int
    }

    /// The number of packages (sockets) with allowed cores.
    public let packages: Int
    /// The number of NUMA nodes with allowed cores.
    public let numaNodes: Int
    /// The allowed physical cores, in hwloc's logical order.
    public let cores: [Core]
    /// The caches, by level.
    public let caches: [Cache]

    /// The OS indices of every allowed processing unit.
    public var processingUnits: [Int] { cores.flatMap(\.processingUnits).sorted() }

    /// The topology of this machine, as this process may use it.
    public static func current() throws(TopologyError) -> MachineTopology {
        try MachineTopology(HwlocTopology.shared.get())
    }

    init(_ hwloc: HwlocTopology) {
        let packageObjects = hwloc.objects(HWLOC_OBJ_PACKAGE)
        let numaObjects = hwloc.objects(HWLOC_OBJ_NUMANODE)
        cores = hwloc.objects(HWLOC_OBJ_CORE).compactMap { core -> Core? in
            let units = osIndices(in: core.pointee.cpuset)
            guard !units.isEmpty else { return nil }
            let package = hwloc.ancestor(of: core, HWLOC_OBJ_PACKAGE).map { Int($0.pointee.logical_index) } ?? 0
            let numa = numaObjects.firstIndex { hwloc_bitmap_intersects($0.pointee.cpuset, core.pointee.cpuset) != 0 } ?? 0
            return Core(index: Int(core.pointee.logical_index), package: package, numaNode: numa, processingUnits: units)
        }
        packages = max(1, Set(cores.map(\.package)).count)
        numaNodes = max(1, min(numaObjects.count, Set(cores.map(\.numaNode)).count))
        _ = packageObjects
        var caches: [Cache] = []
        let levels: [(Int, hwloc_obj_type_t)] = [(1, HWLOC_OBJ_L1CACHE), (2, HWLOC_OBJ_L2CACHE), (3, HWLOC_OBJ_L3CACHE)]
        for (level, type) in levels {
            let objects = hwloc.objects(type)
            guard let first = objects.first, let attributes = first.pointee.attr else { continue }
            caches.append(Cache(level: level, bytes: Int(attributes.pointee.cache.size), count: objects.count))
        }
        self.caches = caches
    }

    /// The same machine with only `units` (OS indices) allowed: a rank's share of a host.
    public func restricted(to units: [Int]) -> MachineTopology {
        let allowed = Set(units)
        let kept = cores.compactMap { core -> Core? in
            let own = core.processingUnits.filter(allowed.contains)
            return own.isEmpty ? nil : Core(index: core.index, package: core.package, numaNode: core.numaNode, processingUnits: own)
        }
        return MachineTopology(packages: max(1, Set(kept.map(\.package)).count), numaNodes: max(1, Set(kept.map(\.numaNode)).count),
                               cores: kept, caches: caches)
    }

    /// For tests and planning by hand: a machine with the given cores.
    public init(packages: Int, numaNodes: Int, cores: [Core], caches: [Cache] = []) {
        self.packages = packages
        self.numaNodes = numaNodes
        self.cores = cores
        self.caches = caches
    }

    /// Where `workers` workers should run: one processing unit each.
    ///
    /// Physical cores come first, spread round-robin over packages and NUMA nodes so that the
    /// workers share as little as possible; then the cores' second hardware threads (SMT
    /// siblings), in the same order; beyond that, workers share processing units, and the plan
    /// says so.
    public func plan(workers: Int) -> WorkerPlan {
        precondition(workers > 0, "a plan needs at least one worker")
        // Group cores by (package, NUMA node), then interleave the groups.
        var groups: [[Core]] = []
        var keys: [[Int]] = []
        for core in cores {
            let key = [core.package, core.numaNode]
            if let i = keys.firstIndex(of: key) { groups[i].append(core) } else { keys.append(key); groups.append([core]) }
        }
        var spread: [Core] = []
        for rank in 0..<(groups.map(\.count).max() ?? 0) {
            for group in groups where rank < group.count { spread.append(group[rank]) }
        }
        let maxThreads = spread.map(\.processingUnits.count).max() ?? 0
        var order: [Int] = []
        for thread in 0..<maxThreads {
            for core in spread where thread < core.processingUnits.count { order.append(core.processingUnits[thread]) }
        }
        guard !order.isEmpty else { return WorkerPlan(units: [], allowedUnits: 0, physicalCores: 0) }
        let units = (0..<workers).map { order[$0 % order.count] }
        return WorkerPlan(units: units, allowedUnits: order.count, physicalCores: cores.count)
    }
}

/// The processing unit each worker runs on.
public struct WorkerPlan: Sendable, Equatable, CustomStringConvertible {
    /// The OS index of worker w's processing unit. Empty when the machine could not be read:
    /// workers then run unpinned.
    public let units: [Int]
    /// How many processing units the process may use.
    public let allowedUnits: Int
    /// How many physical cores the process may use.
    public let physicalCores: Int

    /// A plan: `units[w]` for worker w, out of `allowedUnits` PUs on `physicalCores` cores.
    public init(units: [Int], allowedUnits: Int, physicalCores: Int) {
        self.units = units
        self.allowedUnits = allowedUnits
        self.physicalCores = physicalCores
    }

    /// Whether some workers share a processing unit (more workers than allowed PUs).
    public var sharesProcessingUnits: Bool { units.count > allowedUnits }
    /// Whether some workers run on SMT siblings of other workers' cores.
    public var usesSMTSiblings: Bool { Set(units).count > physicalCores }

    public var description: String {
        guard !units.isEmpty else { return "unpinned" }
        return units.enumerated().map { "worker \($0.offset) → PU \($0.element)" }.joined(separator: ", ")
    }
}
