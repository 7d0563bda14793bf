import CHwloc

/// The instruction set the package's kernels are compiled for, and whether this CPU has it.
///
/// On x86-64 the vector modules are built for Haswell's AVX2 and FMA (`Package.swift` says why);
/// a CPU without them would stop at the first such instruction with SIGILL. This module is built
/// for the baseline ISA, so it can ask first: `optim` checks before anything else, and `fit`
/// before it touches a kernel.
public enum CPUBaseline {
    /// What the kernels need, in words.
    public static let requirement = "an x86-64 CPU with AVX2 and FMA (Intel Haswell or AMD Excavator, 2013-2015, or later)"

    /// Whether this CPU runs the kernels (always true off x86-64).
    public static let isSupported: Bool = swift_optim_cpu_has_baseline() != 0

    /// The message for a CPU that cannot.
    public static var unsupportedMessage: String {
        "this CPU lacks AVX2 or FMA: swift-optim's kernels are compiled for \(requirement)"
    }
}
