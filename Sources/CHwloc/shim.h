// hwloc for Swift: the library's header, and the one value Swift cannot import (a macro).
// A private shim with no stable API of its own: use the Topology module instead.
#ifndef SWIFT_OPTIM_CHWLOC_SHIM_H
#define SWIFT_OPTIM_CHWLOC_SHIM_H

#include <hwloc.h>

/// The hwloc API version the package was compiled against (HWLOC_API_VERSION).
static inline unsigned swift_optim_hwloc_compiled_api_version(void) { return HWLOC_API_VERSION; }

#endif
