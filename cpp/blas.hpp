// Matrix products for the C++ kernels on numpy's own BLAS (the OpenBLAS in numpy's wheels),
// whose cblas_sgemm / cblas_dgemm addresses kernels/cpu/threads.py finds and hands over once
// (set_blas). The extension calls them from its own OpenMP threads while BLAS runs on one
// thread, so that one threading runtime does all the parallel work and no thread pool spins
// over another's cores.
#pragma once

#include <climits>

#include "common.hpp"

namespace engine_cpp {

struct Blas {
    void* sgemm = nullptr;
    void* dgemm = nullptr;
    bool ilp64 = false;  // 64-bit integer arguments (numpy's scipy-openblas64)
};

inline Blas& blas() {
    static Blas b;
    return b;
}

inline bool have_blas() { return blas().sgemm != nullptr && blas().dgemm != nullptr; }

// A matrix extent that the BLAS in use takes: any with 64-bit integers, else below 2**31.
inline void require_blas_extent(const char* op, int64_t extent) {
    if (!have_blas())
        shape_error(std::string(op) + ": no BLAS was found to call from C++ (numpy's OpenBLAS); "
                    "use the im2col variant");
    if (!blas().ilp64 && extent > INT_MAX)
        shape_error(std::string(op) + ": a matrix extent of " + str(extent) +
                    " passes the 32-bit BLAS's limit of 2**31 - 1");
}

// The cost, in parallel_for's loop steps, of a product of m*n*k multiply-adds: BLAS runs
// about 32 of them in the time of one step of a scalar loop (SIMD fused multiply-adds), so a
// chunk between two Ctrl-C checks stays a few milliseconds long instead of a few dozen
// microseconds, which would wake the thread team for each pair of tasks.
inline int64_t gemm_cost(int64_t m, int64_t n, int64_t k) { return m * n * k / 32 + 1; }

// C (m x n, row stride ldc) = alpha op(A) op(B) + beta C, all row-major, as cblas_?gemm; the
// extents were checked with require_blas_extent.
template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
          int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
    constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;
    void* f = sizeof(T) == 4 ? blas().sgemm : blas().dgemm;
    const int ta = trans_a ? kTrans : kNoTrans, tb = trans_b ? kTrans : kNoTrans;
    if (blas().ilp64) {
        using Fn = void (*)(int, int, int, int64_t, int64_t, int64_t, T, const T*, int64_t,
                            const T*, int64_t, T, T*, int64_t);
        reinterpret_cast<Fn>(f)(kRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    } else {
        using Fn = void (*)(int, int, int, int, int, int, T, const T*, int, const T*, int, T, T*,
                            int);
        reinterpret_cast<Fn>(f)(kRowMajor, ta, tb, int(m), int(n), int(k), alpha, a, int(lda), b,
                                int(ldb), beta, c, int(ldc));
    }
}

}  // namespace engine_cpp
