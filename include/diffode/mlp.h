/* mlp.h - a learned eps-prediction network eps_theta(x, t): a multilayer perceptron on
 * [x, temb(label)] with SiLU hidden layers and a linear output of dim values, evaluated
 * for a batch with OpenBLAS dgemm, stored in .safetensors (safetensors.h).
 *
 * Input: x ([dim]) followed by the sinusoidal embedding of the time label (DDPM),
 *   temb(l) = [sin(l f_0) .. sin(l f_{h-1}), cos(l f_0) .. cos(l f_{h-1})],
 *   f_k = exp(-log(10000) k / h),  h = temb / 2,
 * where l = dode_schedule_model_time(train, t) is the label of the schedule the network
 * was trained on (1000 (t - 1/N) for ddpm-*, t for vp-*, sigma for edm).
 * Layers: Linear(dim + temb, w_0), SiLU, ..., Linear(w_{L-2}, w_{L-1}), SiLU,
 * Linear(w_{L-1}, dim), exactly torch.nn.Sequential(Linear, SiLU, ..., Linear) held in an
 * attribute `layers`, so its state_dict names are "layers.{2i}.weight" ([out][in], the
 * nn.Linear layout) and "layers.{2i}.bias" ([out]) for the i-th Linear (SiLU modules take
 * the odd indices). docs/models.md has a PyTorch export example.
 *
 * File __metadata__ (all strings): "diffode_arch": "mlp", "dim", "temb", "widths"
 * ("128,128,128"), "schedule" (a dode_schedule name), and optionally "prediction"
 * ("eps", the default, "x0", "v" or "flow"; dode_mlp_model wraps the others into eps; a
 * "flow" network, trained on schedule "flow" or "flow:shift=S", reads flow's x and
 * returns the velocity eps - x0, docs/flow.md).
 *
 * As a dode_model the network needs only sigma: eps(x, t, sigma) computes the label from
 * the training schedule's own t(sigma), so it is right whatever schedule the sampler uses
 * (x at noise level sigma is the same point in every VP parameterisation). */
#ifndef DIFFODE_MLP_H
#define DIFFODE_MLP_H

#include <stddef.h>
#include <gsl/gsl_rng.h>
#include "diffode/model.h"
#include "diffode/safetensors.h"

#define DODE_MLP_MAX_HIDDEN 16
#define DODE_MLP_MAX_WIDTH 65536

typedef struct {
    size_t dim;                            /* data dimension, >= 1 */
    size_t temb;                           /* time-embedding width, even, >= 2 */
    size_t nhidden;                        /* hidden layers, 1 .. DODE_MLP_MAX_HIDDEN */
    size_t widths[DODE_MLP_MAX_HIDDEN];    /* each 1 .. DODE_MLP_MAX_WIDTH */
    char schedule[32];                     /* the training schedule's name */
    dode_prediction prediction;            /* what the output means: eps (the trainer's),
                                              x0, v or flow (a PyTorch model's; wrapped) */
} dode_mlp_arch;

typedef struct dode_mlp dode_mlp;

/* Parses "128,128,128" into arch->widths / nhidden; DODE_EINVAL with a message. */
int dode_mlp_parse_widths(const char *text, dode_mlp_arch *arch, char *err, size_t errlen);

/* A new network with PyTorch's default nn.Linear initialisation (weights and biases
 * uniform in +-1/sqrt(fan_in)) drawn from rng; NULL with a message for a bad arch or one
 * of more than 2^28 parameters. */
dode_mlp *dode_mlp_new(const dode_mlp_arch *arch, gsl_rng *rng, char *err, size_t errlen);
void dode_mlp_free(dode_mlp *mlp);                       /* accepts NULL */

const dode_mlp_arch *dode_mlp_arch_get(const dode_mlp *mlp);
/* All parameters in one array: for each Linear i, weight [out][in] then bias [out].
 * The trainer updates them in place. */
size_t dode_mlp_nparams(const dode_mlp *mlp);
double *dode_mlp_params(dode_mlp *mlp);
/* Multiply-adds of one forward pass per row (for GFLOP/s: 2 * this * n). */
size_t dode_mlp_flops_per_row(const dode_mlp *mlp);

/* Activations for up to cap rows (what backward needs); one per caller and thread. */
typedef struct dode_mlp_work dode_mlp_work;
dode_mlp_work *dode_mlp_work_new(const dode_mlp *mlp, size_t cap, char *err, size_t errlen);
void dode_mlp_work_free(dode_mlp_work *w);               /* accepts NULL */

/* out = eps_theta(x, label) for n <= cap rows, each with its own time label.
 * DODE_EINVAL if n > cap. Keeps the activations in w for dode_mlp_backward. */
int dode_mlp_forward(const dode_mlp *mlp, dode_mlp_work *w, size_t n,
                     const double *x /* [n][dim] */, const double *label /* [n] */,
                     double *out /* [n][dim] */);

/* Given dL/dout ([n][dim]) for the rows of the last forward through w, writes dL/dtheta
 * into grad ([nparams], overwritten). Summed over rows in a fixed order (deterministic). */
int dode_mlp_backward(const dode_mlp *mlp, dode_mlp_work *w, size_t n,
                      const double *dout /* [n][dim] */, double *grad /* [nparams] */);

/* Saves to path (atomic) as F64 or F32 with the __metadata__ above. */
int dode_mlp_save(const dode_mlp *mlp, const char *path, dode_dtype dtype, char *err,
                  size_t errlen);

/* Reads a network from a .safetensors file. Fails (NULL, a message naming the file) on a
 * malformed file, missing or invalid __metadata__ keys, an unknown schedule, a missing
 * tensor or a shape that does not match the architecture, or non-finite weights;
 * every tensor is checked before the network (at most 2^28 parameters) is allocated. */
dode_mlp *dode_mlp_read(const char *path, char *err, size_t errlen);
dode_mlp *dode_mlp_from_safetensors(const dode_safetensors *st, const char *source,
                                    char *err, size_t errlen);

/* An eps-prediction dode_model around mlp (ownership passes to the model, also on
 * failure). eps() is the network at label(t_train(sigma)), its activations in the
 * model's workspace (model.h), so threads may share the model. No Jacobian. */
dode_model *dode_mlp_model(dode_mlp *mlp, char *err, size_t errlen);

/* dode_mlp_read + dode_mlp_model. */
dode_model *dode_mlp_load(const char *path, char *err, size_t errlen);

#endif
