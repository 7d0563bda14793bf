import CHwloc

/// A loaded hwloc topology of this machine, restricted to the CPUs the process may use.
///
/// This is a class because it owns the hwloc handle. It is `@unchecked Sendable` because hwloc
/// topologies are safe for concurrent *reads* (hwloc's documentation, "Thread Safety"): after
/// `init` loads it, nothing here modifies the topology; binding calls only read it.
final class HwlocTopology: @unchecked Sendable {
    let handle: hwloc_topology_t

    init() throws(TopologyError) {
        var topology: hwloc_topology_t?
        guard hwloc_topology_init(&topology) == 0, let topology else { throw .unavailable("hwloc_topology_init failed") }
        // Honour the process's CPU binding (taskset, numactl, an MPI launcher) as well as cgroups.
        let flags = UInt(HWLOC_TOPOLOGY_FLAG_IS_THISSYSTEM.rawValue | HWLOC_TOPOLOGY_FLAG_RESTRICT_TO_CPUBINDING.rawValue)
        _ = hwloc_topology_set_flags(topology, flags)
        guard hwloc_topology_load(topology) == 0 else {
            hwloc_topology_destroy(topology)
            throw .unavailable("hwloc_topology_load failed")
        }
        let runtime = hwloc_get_api_version()
        let compiled = swift_optim_hwloc_compiled_api_version()
        guard runtime >> 16 == compiled >> 16 else {
            hwloc_topology_destroy(topology)
            throw .unavailable("hwloc library API \(String(runtime, radix: 16)) does not match the headers' \(String(compiled, radix: 16))")
        }
        handle = topology
    }

    deinit { hwloc_topology_destroy(handle) }

    /// The process-wide topology, loaded on first use.
    static let shared: Result<HwlocTopology, TopologyError> = Result { () throws(TopologyError) in try HwlocTopology() }

    func objects(_ type: hwloc_obj_type_t) -> [hwloc_obj_t] {
        let count = hwloc_get_nbobjs_by_type(handle, type)
        guard count > 0 else { return [] }
        return (0..<UInt32(count)).compactMap { hwloc_get_obj_by_type(handle, type, $0) }
    }

    /// The ancestor of `object` of `type`, if any.
    func ancestor(of object: hwloc_obj_t, _ type: hwloc_obj_type_t) -> hwloc_obj_t? {
        var current = object.pointee.parent
        while let node = current {
            if node.pointee.type == type { return node }
            current = node.pointee.parent
        }
        return nil
    }
}

/// OS indices of the PUs in an hwloc bitmap.
func osIndices(in bitmap: hwloc_const_bitmap_t?) -> [Int] {
    guard let bitmap else { return [] }
    var result: [Int] = []
    var index = hwloc_bitmap_first(bitmap)
    while index >= 0 {
        result.append(Int(index))
        index = hwloc_bitmap_next(bitmap, index)
    }
    return result
}

/// A new hwloc bitmap holding `units`; the caller frees it.
func makeBitmap(_ units: [Int]) -> hwloc_bitmap_t {
    let bitmap = hwloc_bitmap_alloc()!
    for unit in units { hwloc_bitmap_set(bitmap, UInt32(unit)) }
    return bitmap
}
