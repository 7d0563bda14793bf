// What the model kernels need from C, because Swift cannot say it: a horizontal sum that LLVM
// will not rewrite, a pointer and a vector it cannot see through, and a Float-to-Double
// conversion that is always inlined. All are inlined into the Swift kernels, and none changes a
// result: they only stop rewrites that made the kernels slower (measured in the comments).
// And for the trainer's spinning workers, the CPU's spin-wait hint.
#ifndef OPTIM_KERNEL_SUPPORT_H
#define OPTIM_KERNEL_SUPPORT_H

typedef float optim_float8 __attribute__((ext_vector_type(8)));
typedef double optim_double8 __attribute__((ext_vector_type(8)));

/// The eight lanes as Double: two vcvtps2pd on x86-64. Swift's `SIMD8<Double>(_: SIMD8<Float>)`
/// is generic and was left as a call per block (with its arguments split into 128-bit halves).
static inline __attribute__((always_inline)) optim_double8 optim_widen8(optim_float8 v) {
    return __builtin_convertvector(v, optim_double8);
}

/// `p` itself, through an empty asm statement. The optimizer no longer knows that the result
/// equals `p`, so loads through it are not merged with earlier loads through `p`. The eight-row
/// kernels read each row twice (the dot products, then the gradient); merged, the 32 loaded
/// vectors of a block stay live across the loss and spill to the stack, which is slower than
/// reading the rows again from L1.
static inline __attribute__((always_inline)) const float *_Nonnull optim_opaque(const float *_Nonnull p) {
    __asm__("" : "+r"(p));
    return p;
}

/// Lane r = the sum of a_r's eight lanes, in the same order for every r:
/// ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)).
/// On x86-64 with AVX these are vhaddps: written as generic shuffles, LLVM moves the shuffles
/// back into the multiply-adds that produced the a_r and runs them on 128-bit halves, twice the
/// instructions (measured 1.5x slower).
#if defined(__x86_64__)
#include <immintrin.h>
static inline __attribute__((always_inline, target("avx"))) optim_float8
optim_lane_sums8(optim_float8 a0, optim_float8 a1, optim_float8 a2, optim_float8 a3,
                 optim_float8 a4, optim_float8 a5, optim_float8 a6, optim_float8 a7) {
    // Per 128-bit half: (a0+a1, a2+a3, b0+b1, b2+b3), twice, gives each row's two half sums.
    __m256 low = _mm256_hadd_ps(_mm256_hadd_ps((__m256)a0, (__m256)a1), _mm256_hadd_ps((__m256)a2, (__m256)a3));
    __m256 high = _mm256_hadd_ps(_mm256_hadd_ps((__m256)a4, (__m256)a5), _mm256_hadd_ps((__m256)a6, (__m256)a7));
    return (optim_float8)_mm256_add_ps(_mm256_permute2f128_ps(low, high, 0x20), _mm256_permute2f128_ps(low, high, 0x31));
}

/// v itself, through an empty asm statement: the lanes of a kernel's per-row coefficients are
/// then broadcast from one register. Otherwise LLVM takes the vector apart into 64-bit pieces
/// from the loss onwards to feed the eight broadcasts, and stitches them back together for the
/// loss sums: 60 shuffles per eight rows.
static inline __attribute__((always_inline, target("avx"))) optim_float8 optim_opaque_vector(optim_float8 v) {
    __asm__("" : "+x"(v));
    return v;
}
#else
// Elsewhere: the same sums in the same order in plain C, and no barrier.
static inline __attribute__((always_inline)) optim_float8 optim_opaque_vector(optim_float8 v) {
    return v;
}

static inline __attribute__((always_inline)) optim_float8
optim_lane_sums8(optim_float8 a0, optim_float8 a1, optim_float8 a2, optim_float8 a3,
                 optim_float8 a4, optim_float8 a5, optim_float8 a6, optim_float8 a7) {
    optim_float8 rows[8] = {a0, a1, a2, a3, a4, a5, a6, a7};
    optim_float8 sums;
    for (int r = 0; r < 8; r++) {
        optim_float8 a = rows[r];
        sums[r] = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    }
    return sums;
}
#endif

/// A spin-wait hint for the trainer's waiting workers (pause, or yield on Arm): it frees the
/// core's other hardware thread and saves power while the worker polls.
static inline __attribute__((always_inline)) void optim_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield");
#endif
}

#endif
