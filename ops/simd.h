/* Compiling hot loops for several CPU feature levels at once, and keeping kernels as
 * their own symbols. */
#ifndef SAMRT_SIMD_H
#define SAMRT_SIMD_H

/* Kernels are compiled for several CPU feature levels and picked when the library
 * loads, so one binary is fast on AVX-512 machines and still runs on any x86-64.
 * Feature levels, not CPU names: "arch=skylake-avx512" would dispatch on the CPU
 * model and leave an AVX-512 AMD machine on the baseline code. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(SAM_NO_MULTIVERSION)
#define SAM_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define SAM_MULTIVERSION
#endif

/* Kernels stay separate symbols so perf attributes time to ops. */
#define SAM_KERNEL __attribute__((noinline))

#endif
