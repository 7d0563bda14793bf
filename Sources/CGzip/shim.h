// zlib for Swift (Debian: zlib1g-dev): gzip-compressed data files. A private shim with no stable
// API of its own.
#ifndef SWIFT_OPTIM_CGZIP_SHIM_H
#define SWIFT_OPTIM_CGZIP_SHIM_H

#include <zlib.h>

/// inflateInit2 is a macro in zlib.h, which Swift cannot call.
static inline int swift_optim_inflate_init(z_stream *stream, int window_bits) {
    return inflateInit2(stream, window_bits);
}

#endif
