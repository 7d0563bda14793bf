/// A raw buffer that worker threads share: the one place in the trainer where memory crosses
/// threads without Swift's checking.
///
/// Why it is safe, by construction of every use in this module:
/// - During a parallel phase (one `WorkerPool.run`), worker w writes only its own
///   disjoint elements (the gradient slots and loss partials of the chunks it claimed, each chunk
///   claimed by exactly one worker through an atomic counter; its slice of the reduction; its
///   rows of generated data) and reads only data no one writes in that phase (the features, the
///   parameters, other chunks' finished partials).
/// - Phases are separated by the run's return, which happens-after every iteration (the return
///   of `concurrentPerform`, or a ``WorkerTeam`` seeing every iteration's release-ordered count),
///   and the next phase starts after the caller's writes (a new `concurrentPerform`, or the
///   team's release-ordered phase number), so what one phase or the caller wrote is visible to
///   the next.
/// - The caller writes a ``WorkerTeam``'s body slot only between phases, and members read it only
///   within one (after claiming an iteration of it).
/// - The storage outlives every phase: its owner (a `FloatStorage`, `Parameters`, a team, or a
///   scratch allocation the trainer frees after its last phase) is held by the caller throughout.
struct SharedBuffer<Element>: @unchecked Sendable {
    let base: UnsafeMutablePointer<Element>
    let count: Int

    init(_ base: UnsafeMutablePointer<Element>, count: Int) {
        self.base = base
        self.count = count
    }

    /// A new allocation of `count` elements, 64-byte aligned, initialized to `value`; release it
    /// with ``deallocate()``.
    static func allocate(count: Int, repeating value: Element) -> SharedBuffer {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Element>.stride, alignment: 64)
        let base = raw.bindMemory(to: Element.self, capacity: max(count, 1))
        base.initialize(repeating: value, count: max(count, 1))
        return SharedBuffer(base, count: count)
    }

    func deallocate() {
        base.deinitialize(count: max(count, 1))
        UnsafeMutableRawPointer(base).deallocate()
    }

    subscript(index: Int) -> Element {
        get { base[index] }
        nonmutating set { base[index] = newValue }
    }
}
