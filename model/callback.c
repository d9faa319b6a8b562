/* callback.c - a model whose prediction comes from a caller's function: the way a user's
 * own network (in C, or in Python through the bindings in python/diffode) drives every
 * solver. The function sees the same batch the ODE passes (x at noise level sigma, time
 * t) and writes its prediction; a non-eps prediction is wrapped to eps (wrap.c). A
 * non-zero return stops the solve: the ODE reports "model NAME failed at sigma = ..". */
#include <stdio.h>
#include <stdlib.h>

#include "diffode/model.h"
#include "diffode/status.h"

typedef struct {
    dode_eps_callback fn;
    void *user;
    char name[64];
} callback_state;

static int callback_eps(const dode_model *m, void *ws, size_t n, const double *x, double t,
                        double sigma, double *out)
{
    (void)ws;
    const callback_state *c = m->state;
    const int rc = c->fn(c->user, n, m->dim, x, t, sigma, out);
    return rc == DODE_OK ? DODE_OK : rc > DODE_OK && rc <= DODE_EUNSUPPORTED ? rc : DODE_ESOLVER;
}

static void callback_free(dode_model *m)
{
    if (m != NULL)
        free(m->state);
    free(m);
}

dode_model *dode_model_from_callback(const char *name, size_t dim, dode_prediction prediction,
                                     dode_eps_callback fn, void *user, char *err,
                                     size_t errlen)
{
    if (fn == NULL || dim == 0 || (unsigned)prediction >= DODE_PRED_COUNT) {
        dode_fail(err, errlen, DODE_EINVAL, "callback model: %s", fn == NULL ? "no function"
                  : dim == 0 ? "dim must be >= 1" : "unknown prediction kind");
        return NULL;
    }
    dode_model *m = malloc(sizeof *m);
    callback_state *c = malloc(sizeof *c);
    if (m == NULL || c == NULL) {
        free(m), free(c);
        dode_fail(err, errlen, DODE_ENOMEM, "callback model: out of memory");
        return NULL;
    }
    *c = (callback_state){ .fn = fn, .user = user };
    snprintf(c->name, sizeof c->name, "%s",
             name != NULL && name[0] != '\0' ? name : "callback");
    *m = (dode_model){ .name = c->name, .dim = dim, .prediction = prediction,
                       .eps = callback_eps, .free = callback_free, .state = c };
    return prediction == DODE_PRED_EPS ? m : dode_model_as_eps(m, err, errlen);
}
