/* sweep_split.c - the split model of sweep_split.h: each call posts rows [n/2, n) to a
 * helper thread, computes rows [0, n/2) itself, and waits. The halves have workspaces of
 * their own (one model call at a time per workspace, model.h), and the call's status and
 * eps_xbar flags are combined as one call over all rows would give them: the first half's
 * failure, else the second's; flag 1 (a non-finite state) over 2 (a non-finite eps). */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "diffode/status.h"
#include "sweep_split.h"

/* One half-call: eps, or eps_xbar when fused. */
typedef struct {
    int fused;
    void *ws;
    size_t n;
    const double *x;
    double a, t, sigma;
    double *out;
    int bad, rc;
} half_call;

struct split_model {
    dode_model model;          /* what the solve calls; state points back here */
    const dode_model *inner;
    pthread_t thread;
    /* The hand-off: the caller writes job, then sets posted; the helper runs it, then sets
     * done. Both sides wait by spinning (a sleeping thread's wake-up took longer than the
     * half-call it saved), yielding the core to any other runnable thread meanwhile. */
    atomic_int posted, done, quit;
    half_call job;
};

/* A workspace of the split model: one of the inner model's for each half (and the inner
 * model, whose workspace_free frees them: workspace_free is given no model). */
typedef struct {
    const dode_model *inner;
    void *half[2];
} split_ws;

static void run_half(const dode_model *m, half_call *c)
{
    c->bad = 0;
    c->rc = c->fused ? m->eps_xbar(m, c->ws, c->n, c->x, c->a, c->t, c->sigma, c->out, &c->bad)
                     : m->eps(m, c->ws, c->n, c->x, c->t, c->sigma, c->out);
}

/* Waits until *flag is set, yielding the core while it waits. */
static void wait_for(atomic_int *flag)
{
    while (!atomic_load_explicit(flag, memory_order_acquire))
        sched_yield();
}

static void *helper(void *arg)
{
    split_model *s = arg;
    for (;;) {
        while (!atomic_load_explicit(&s->posted, memory_order_acquire)) {
            if (atomic_load_explicit(&s->quit, memory_order_acquire))
                return NULL;
            sched_yield();
        }
        atomic_store_explicit(&s->posted, 0, memory_order_relaxed);
        run_half(s->inner, &s->job);
        atomic_store_explicit(&s->done, 1, memory_order_release);
    }
}

/* One call over n rows: the second half to the helper, the first here. */
static int split_call(const dode_model *m, half_call whole, void *ws, int *bad)
{
    split_model *s = m->state;
    split_ws *w = ws;
    const size_t d = s->inner->dim, h = whole.n / 2;
    half_call first = whole;
    first.n = h, first.ws = w->half[0];
    if (h > 0) {
        s->job = whole;
        s->job.n = whole.n - h, s->job.ws = w->half[1];
        s->job.x = whole.x + h * d, s->job.out = whole.out + h * d;
        atomic_store_explicit(&s->done, 0, memory_order_relaxed);
        atomic_store_explicit(&s->posted, 1, memory_order_release);
        run_half(s->inner, &first);
        wait_for(&s->done);
    } else {                    /* one row: nothing to share */
        first.n = whole.n;
        run_half(s->inner, &first);
        s->job.rc = DODE_OK, s->job.bad = 0;
    }
    if (bad != NULL)
        *bad = first.bad == 1 || s->job.bad == 1 ? 1 : first.bad == 2 || s->job.bad == 2 ? 2 : 0;
    return first.rc != DODE_OK ? first.rc : s->job.rc;
}

static int split_eps(const dode_model *m, void *ws, size_t n, const double *x, double t,
                     double sigma, double *out)
{
    const half_call c = { .fused = 0, .n = n, .x = x, .t = t, .sigma = sigma, .out = out };
    return split_call(m, c, ws, NULL);
}

static int split_eps_xbar(const dode_model *m, void *ws, size_t n, const double *xbar,
                          double a, double t, double sigma, double *out, int *bad)
{
    const half_call c = { .fused = 1, .n = n, .x = xbar, .a = a, .t = t, .sigma = sigma,
                          .out = out };
    return split_call(m, c, ws, bad);
}

static void split_ws_free(void *ws)
{
    split_ws *w = ws;
    if (w == NULL)
        return;
    for (int k = 0; k < 2; k++)
        if (w->half[k] != NULL)
            w->inner->workspace_free(w->half[k]);
    free(w);
}

static void *split_ws_new(const dode_model *m, size_t n)
{
    const dode_model *inner = ((const split_model *)m->state)->inner;
    split_ws *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    w->inner = inner;
    for (int k = 0; k < 2 && inner->workspace_new != NULL; k++)
        if ((w->half[k] = inner->workspace_new(inner, n - n / 2)) == NULL) {
            split_ws_free(w);
            return NULL;
        }
    return w;
}

int split_model_applies(const dode_model *inner)
{
    return inner != NULL && inner->eps_xbar != NULL;
}

split_model *split_model_start(const dode_model *inner, char *err, size_t errlen)
{
    split_model *s = calloc(1, sizeof *s);
    if (s == NULL) {
        dode_fail(err, errlen, DODE_ENOMEM, "out of memory for a split model");
        return NULL;
    }
    s->inner = inner;
    s->model = (dode_model){ .name = inner->name, .dim = inner->dim,
                             .prediction = inner->prediction, .eps = split_eps,
                             .eps_xbar = split_eps_xbar, .workspace_new = split_ws_new,
                             .workspace_free = split_ws_free, .state = s };
    if (pthread_create(&s->thread, NULL, helper, s) != 0) {
        free(s);
        dode_fail(err, errlen, DODE_ESOLVER, "cannot start the reference's helper thread");
        return NULL;
    }
    return s;
}

const dode_model *split_model_get(const split_model *s)
{
    return &s->model;
}

void split_model_stop(split_model *s)
{
    if (s == NULL)
        return;
    atomic_store_explicit(&s->quit, 1, memory_order_release);
    pthread_join(s->thread, NULL);
    free(s);
}
