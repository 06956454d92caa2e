// Vectorizable maths for the memory-bound kernels: an exponential the compiler turns into SIMD
// code (a call to expf is one value at a time), and ENGINE_CLONES for their float32 loops.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace engine_cpp {

// e^x in a form the compiler vectorizes (a call to expf is one value at a time, and costs more
// than the memory traffic here): x = k ln 2 + r with |r| <= ln 2 / 2, e^r by Cephes' degree-6
// polynomial (relative error about 1e-7), 2^k put into the exponent bits. -inf and anything
// below the smallest normal's log give 0, above 88.72 inf, nan stays nan.
inline float exp_vectorizable(float x) {
    constexpr float low = -87.33654f, high = 88.72283f;
    const float clamped = x < low ? low : (x > high ? high : x);
    // round to nearest by the 1.5 * 2^23 trick (no library call)
    const float k = (clamped * 1.44269504f + 12582912.0f) - 12582912.0f;
    const float r = clamped - k * 0.693359375f + k * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const float e = p * r * r + r + 1.0f;
    const int32_t bits = (static_cast<int32_t>(k) + 127) << 23;
    float scale;
    std::memcpy(&scale, &bits, sizeof scale);
    const float y = e * scale;
    return x < low ? 0.0f : (x > high ? std::numeric_limits<float>::infinity() : y);
}

inline double exp_vectorizable(double x) { return std::exp(x); }

// A function compiled also for AVX2 and AVX-512 (everything it calls inlined into each copy) and
// picked by the CPU at load time: the extension is otherwise built for the baseline x86-64,
// whose 4-wide vectors make exponentials 3x slower.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define ENGINE_CLONES __attribute__((target_clones("default", "avx2", "arch=x86-64-v4"), flatten))
#else
#define ENGINE_CLONES
#endif

}  // namespace engine_cpp
