// hwloc for Swift: the library's header, and the one value Swift cannot import (a macro).
// A private shim with no stable API of its own: use the Topology module instead.
#ifndef SWIFT_OPTIM_CHWLOC_SHIM_H
#define SWIFT_OPTIM_CHWLOC_SHIM_H

#include <hwloc.h>

/// The hwloc API version the package was compiled against (HWLOC_API_VERSION).
static inline unsigned swift_optim_hwloc_compiled_api_version(void) { return HWLOC_API_VERSION; }

/// Whether this CPU runs the instructions the kernels are compiled for (x86-64: AVX2 and FMA, the
/// Haswell baseline); 1 on other architectures. Compiled without those instructions itself.
static inline int swift_optim_cpu_has_baseline(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 1;
#endif
}

#endif
