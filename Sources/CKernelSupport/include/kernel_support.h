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

// The same helpers for Double lanes: an 8-lane Double vector is two 256-bit registers.

/// `p` itself, hidden from the optimizer (see ``optim_opaque``).
static inline __attribute__((always_inline)) const double *_Nonnull optim_opaque_double(const double *_Nonnull p) {
    __asm__("" : "+r"(p));
    return p;
}

/// Lane r = the sum of a_r's eight lanes, in the Float version's order:
/// ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)).
#if defined(__x86_64__)
/// Four rows' sums from their 256-bit halves (rows a, b, c, d; low and high): per row,
/// (a0 + a1) + (a2 + a3) of the low half and (a4 + a5) + (a6 + a7) of the high half, by vhaddpd
/// and a swap of 128-bit lanes; then their sum.
static inline __attribute__((always_inline, target("avx"))) __m256d
optim_four_sums(__m256d al, __m256d ah, __m256d bl, __m256d bh, __m256d cl, __m256d ch, __m256d dl, __m256d dh) {
    // (a01, b01, a23, b23) and (c01, d01, c23, d23), then lanes regrouped: (a01, b01, c01, d01) + (a23, b23, c23, d23).
    __m256d ab = _mm256_hadd_pd(al, bl), cd = _mm256_hadd_pd(cl, dl);
    __m256d low = _mm256_add_pd(_mm256_permute2f128_pd(ab, cd, 0x20), _mm256_permute2f128_pd(ab, cd, 0x31));
    ab = _mm256_hadd_pd(ah, bh); cd = _mm256_hadd_pd(ch, dh);
    __m256d high = _mm256_add_pd(_mm256_permute2f128_pd(ab, cd, 0x20), _mm256_permute2f128_pd(ab, cd, 0x31));
    return _mm256_add_pd(low, high);
}

/// The low (lanes 0-3) and high (4-7) halves of an 8-lane Double vector.
#define OPTIM_LOW(v) ((__m256d)__builtin_shufflevector(v, v, 0, 1, 2, 3))
#define OPTIM_HIGH(v) ((__m256d)__builtin_shufflevector(v, v, 4, 5, 6, 7))

static inline __attribute__((always_inline, target("avx"))) optim_double8
optim_lane_sums8_double(optim_double8 a0, optim_double8 a1, optim_double8 a2, optim_double8 a3,
                        optim_double8 a4, optim_double8 a5, optim_double8 a6, optim_double8 a7) {
    typedef double double4 __attribute__((ext_vector_type(4)));
    double4 first = (double4)optim_four_sums(OPTIM_LOW(a0), OPTIM_HIGH(a0), OPTIM_LOW(a1), OPTIM_HIGH(a1),
                                             OPTIM_LOW(a2), OPTIM_HIGH(a2), OPTIM_LOW(a3), OPTIM_HIGH(a3));
    double4 second = (double4)optim_four_sums(OPTIM_LOW(a4), OPTIM_HIGH(a4), OPTIM_LOW(a5), OPTIM_HIGH(a5),
                                              OPTIM_LOW(a6), OPTIM_HIGH(a6), OPTIM_LOW(a7), OPTIM_HIGH(a7));
    return __builtin_shufflevector(first, second, 0, 1, 2, 3, 4, 5, 6, 7);
}

/// v itself, through an empty asm statement on each 256-bit half (see ``optim_opaque_vector``).
static inline __attribute__((always_inline, target("avx"))) optim_double8 optim_opaque_vector_double(optim_double8 v) {
    typedef double double4 __attribute__((ext_vector_type(4)));
    double4 low = __builtin_shufflevector(v, v, 0, 1, 2, 3), high = __builtin_shufflevector(v, v, 4, 5, 6, 7);
    __asm__("" : "+x"(low));
    __asm__("" : "+x"(high));
    return __builtin_shufflevector(low, high, 0, 1, 2, 3, 4, 5, 6, 7);
}
#else
static inline __attribute__((always_inline)) optim_double8 optim_opaque_vector_double(optim_double8 v) {
    return v;
}

static inline __attribute__((always_inline)) optim_double8
optim_lane_sums8_double(optim_double8 a0, optim_double8 a1, optim_double8 a2, optim_double8 a3,
                        optim_double8 a4, optim_double8 a5, optim_double8 a6, optim_double8 a7) {
    optim_double8 rows[8] = {a0, a1, a2, a3, a4, a5, a6, a7};
    optim_double8 sums;
    for (int r = 0; r < 8; r++) {
        optim_double8 a = rows[r];
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
