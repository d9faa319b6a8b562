/* vecops.c - the update passes every fixed-step solver makes between model calls (axpy,
 * the k-term combinations of multistep and exponential integrators, the data prediction
 * fused into them; solver_impl.h), on four doubles at a time.
 *
 * gcc at -O2 leaves a loop of unknown length scalar (its "very cheap" vectorisation cost
 * model), so the loops are written on GNU C vectors of four doubles, whose + and * are the
 * element-wise IEEE operations of the scalar code: every element is rounded as the scalar
 * loop rounds it (and -std=c11 contracts no a*b+c into an FMA). Compiled twice: for AVX,
 * chosen at run time where the CPU has it (one 256-bit instruction per four doubles), and
 * for the x86-64 baseline (the same vector as two SSE2 halves), so the numbers are the
 * same bits on any machine. On the K = 3 mixture at n = 10^4 the AVX passes took the share
 * of the solve outside the model from 4.5-6% to 2.5-3.5% for the k-term solvers (issue
 * 16, docs/benchmarks.md). */
#include <string.h>

#include "solver_impl.h"

typedef double vec_t __attribute__((vector_size(32)));

/* Loads and stores of four doubles (macros: a function taking or returning the 32-byte
 * vector would pass it differently in the AVX and the baseline code, -Wpsabi). */
#define vec_ld(p) __extension__({ vec_t v_; memcpy(&v_, (p), sizeof v_); v_; })
#define vec_st(p, v) do { const vec_t s_ = (v); memcpy((p), &s_, sizeof s_); } while (0)

#define VEC_FN(name) name##_base
#define VEC_ATTR
#include "vecops_body.h"
#undef VEC_FN
#undef VEC_ATTR

#if defined(__x86_64__) && defined(__GNUC__)
#define VEC_FN(name) name##_avx
#define VEC_ATTR __attribute__((target("avx")))
#include "vecops_body.h"
#undef VEC_FN
#undef VEC_ATTR
#define HAVE_AVX() __builtin_cpu_supports("avx")
#define PICK(name, ...) (HAVE_AVX() ? name##_avx(__VA_ARGS__) : name##_base(__VA_ARGS__))
#else
#define PICK(name, ...) name##_base(__VA_ARGS__)
#endif

void solver_axpy(double *xbar, double a, const double *v, size_t len)
{
    PICK(axpy, xbar, a, v, len);
}

void solver_axpy_to(double *out, const double *x, double a, const double *v, size_t len)
{
    PICK(axpy_to, out, x, a, v, len);
}

void solver_axpy_n(double *xbar, int k, const double *w, const double *const *v, size_t len)
{
    if (k < 2 || k > 4) {
        for (int j = 0; j < k; j++)
            solver_axpy(xbar, w[j], v[j], len);
        return;
    }
    PICK(axpy_n, xbar, k, w, v, len);
}

void solver_lincomb(double *out, size_t len, double a, const double *x, double b0,
                    const double *v0, double b1, const double *v1, double b2, const double *v2,
                    double b3, const double *v3)
{
    PICK(lincomb, out, len, a, x, b0, v0, b1, v1, b2, v2, b3, v3);
}

void solver_x0h_lincomb(double *out, size_t len, double sigma, const double *x, double *m,
                        double a, const double *y, double b0, const double *v0, double b1,
                        const double *v1, double b2, const double *v2, double b3,
                        const double *v3)
{
    PICK(x0h_lincomb, out, len, sigma, x, m, a, y, b0, v0, b1, v1, b2, v2, b3, v3);
}

void solver_div_sum(double *out, const double *u, double p, const double *v, double q,
                    size_t len)
{
    PICK(div_sum, out, u, p, v, q, len);
}

void solver_add_scaled_sum(double *xbar, double c, const double *u, const double *v, double d,
                           size_t len)
{
    PICK(add_scaled_sum, xbar, c, u, v, d, len);
}
