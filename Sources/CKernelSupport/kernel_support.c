// The target's functions are all inline, in include/kernel_support.h.
#include "kernel_support.h"
