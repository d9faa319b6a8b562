/* vecops_body.h - the bodies of the update passes of vecops.c, included there once for
 * each instruction set: VEC_FN(name) names a function, VEC_ATTR is its target attribute.
 * Each loop takes four doubles at a time as one GNU C vector, then the tail one by one;
 * both do the element's operations of the scalar formula, in its order. */

VEC_ATTR static void VEC_FN(axpy)(double *xbar, double a, const double *v, size_t len)
{
    size_t k = 0;
    for (; k + 4 <= len; k += 4)
        vec_st(xbar + k, vec_ld(xbar + k) + a * vec_ld(v + k));
    for (; k < len; k++)
        xbar[k] += a * v[k];
}

VEC_ATTR static void VEC_FN(axpy_to)(double *out, const double *x, double a, const double *v,
                                     size_t len)
{
    size_t k = 0;
    for (; k + 4 <= len; k += 4)
        vec_st(out + k, vec_ld(x + k) + a * vec_ld(v + k));
    for (; k < len; k++)
        out[k] = x[k] + a * v[k];
}

/* k = 2, 3 or 4 (solver_axpy_n makes the others single axpys). */
VEC_ATTR static void VEC_FN(axpy_n)(double *xbar, int k, const double *w,
                                    const double *const *v, size_t len)
{
    const double *v2 = v[k > 2 ? 2 : 0], *v3 = v[k > 3 ? 3 : 0];
    size_t i = 0;
    for (; i + 4 <= len; i += 4) {
        vec_t x = vec_ld(xbar + i) + w[0] * vec_ld(v[0] + i);
        x = x + w[1] * vec_ld(v[1] + i);
        if (k > 2)
            x = x + w[2] * vec_ld(v2 + i);
        if (k > 3)
            x = x + w[3] * vec_ld(v3 + i);
        vec_st(xbar + i, x);
    }
    for (; i < len; i++) {
        double x = xbar[i] + w[0] * v[0][i];
        x = x + w[1] * v[1][i];
        if (k > 2)
            x = x + w[2] * v2[i];
        if (k > 3)
            x = x + w[3] * v3[i];
        xbar[i] = x;
    }
}

VEC_ATTR static void VEC_FN(lincomb)(double *out, size_t len, double a, const double *x,
                                     double b0, const double *v0, double b1, const double *v1,
                                     double b2, const double *v2, double b3, const double *v3)
{
    size_t k = 0;
    for (; k + 4 <= len; k += 4)
        vec_st(out + k, a * vec_ld(x + k) + b0 * vec_ld(v0 + k) + b1 * vec_ld(v1 + k)
               + b2 * vec_ld(v2 + k) + b3 * vec_ld(v3 + k));
    for (; k < len; k++)
        out[k] = a * x[k] + b0 * v0[k] + b1 * v1[k] + b2 * v2[k] + b3 * v3[k];
}

VEC_ATTR static void VEC_FN(x0h_lincomb)(double *out, size_t len, double sigma,
                                         const double *x, double *m, double a,
                                         const double *y, double b0, const double *v0,
                                         double b1, const double *v1, double b2,
                                         const double *v2, double b3, const double *v3)
{
    size_t k = 0;
    for (; k + 4 <= len; k += 4) {
        vec_st(m + k, vec_ld(x + k) - sigma * vec_ld(m + k));
        vec_st(out + k, a * vec_ld(y + k) + b0 * vec_ld(v0 + k) + b1 * vec_ld(v1 + k)
               + b2 * vec_ld(v2 + k) + b3 * vec_ld(v3 + k));
    }
    for (; k < len; k++) {
        m[k] = x[k] - sigma * m[k];
        out[k] = a * y[k] + b0 * v0[k] + b1 * v1[k] + b2 * v2[k] + b3 * v3[k];
    }
}

VEC_ATTR static void VEC_FN(div_sum)(double *out, const double *u, double p, const double *v,
                                     double q, size_t len)
{
    size_t k = 0;
    for (; k + 4 <= len; k += 4)
        vec_st(out + k, vec_ld(u + k) / p + vec_ld(v + k) / q);
    for (; k < len; k++)
        out[k] = u[k] / p + v[k] / q;
}

VEC_ATTR static void VEC_FN(add_scaled_sum)(double *xbar, double c, const double *u,
                                            const double *v, double d, size_t len)
{
    size_t k = 0;
    for (; k + 4 <= len; k += 4)
        vec_st(xbar + k, vec_ld(xbar + k) + c * (vec_ld(u + k) + vec_ld(v + k) / d));
    for (; k < len; k++)
        xbar[k] += c * (u[k] + v[k] / d);
}
