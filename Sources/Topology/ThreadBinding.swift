#if canImport(Glibc)
import Glibc
#endif
import CHwloc

/// Binding of the calling thread to processing units, with a soft fallback: where the system
/// refuses (EINVAL, EPERM, ENOSYS), the call reports failure and the thread runs unpinned.
public enum ThreadBinding {
    /// The OS indices of the PUs the calling thread may run on; nil when hwloc cannot tell.
    public static func current() -> [Int]? {
        guard let topology = try? HwlocTopology.shared.get() else { return nil }
        let bitmap = hwloc_bitmap_alloc()!
        defer { hwloc_bitmap_free(bitmap) }
        guard hwloc_get_cpubind(topology.handle, bitmap, Int32(HWLOC_CPUBIND_THREAD.rawValue)) == 0 else { return nil }
        return osIndices(in: bitmap)
    }

    /// Binds the calling thread to `units` (OS indices). Returns false, changing nothing, when
    /// the system refuses.
    @discardableResult
    public static func bind(to units: [Int]) -> Bool {
        guard !units.isEmpty, let topology = try? HwlocTopology.shared.get() else { return false }
        let bitmap = makeBitmap(units)
        defer { hwloc_bitmap_free(bitmap) }
        return hwloc_set_cpubind(topology.handle, bitmap, Int32(HWLOC_CPUBIND_THREAD.rawValue)) == 0
    }

    /// Binds another thread of this process, by its pthread handle, to `units`. Returns false when
    /// the system refuses (for instance because the thread has exited).
    @discardableResult
    public static func bind(thread: pthread_t, to units: [Int]) -> Bool {
        guard !units.isEmpty, let topology = try? HwlocTopology.shared.get() else { return false }
        let bitmap = makeBitmap(units)
        defer { hwloc_bitmap_free(bitmap) }
        return hwloc_set_thread_cpubind(topology.handle, thread, bitmap, Int32(HWLOC_CPUBIND_THREAD.rawValue)) == 0
    }

    /// The OS index of the PU the calling thread last ran on; nil when hwloc cannot tell.
    public static func lastProcessingUnit() -> Int? {
        guard let topology = try? HwlocTopology.shared.get() else { return nil }
        let bitmap = hwloc_bitmap_alloc()!
        defer { hwloc_bitmap_free(bitmap) }
        guard hwloc_get_last_cpu_location(topology.handle, bitmap, Int32(HWLOC_CPUBIND_THREAD.rawValue)) == 0 else { return nil }
        return osIndices(in: bitmap).first
    }
}
