/* datalaw.h - the data law of the exact models, for distribution-level metrics: the
 * Gaussian's parameters, a mixture's weights, its component responsibilities and exact
 * draws from it at any noise level.
 *
 * At noise level sigma the exact models are known in closed form (MATH.md section 5):
 * gaussian: xbar ~ N(mu, (v + sigma^2) I); mixture: xbar ~ sum_k w_k N(mu_k, S_k + sigma^2 I).
 * These functions expose exactly that, so a metric can compare samples with the true law
 * (exact W2 and KL, mass per mode, energy distance to exact draws) without re-deriving the
 * model. They are read-only on the model, like its callbacks (model.h). */
#ifndef DIFFODE_DATALAW_H
#define DIFFODE_DATALAW_H

#include <stddef.h>

#include "diffode/model.h"

/* The Gaussian model's mean ([dim]) and variance v = std^2 (dode_gaussian_new). Only the
 * eps-predicting model itself qualifies (a wrapped one, predict=x0 ..., is another model):
 * DODE_EUNSUPPORTED with a message naming the model otherwise; outputs untouched then. */
int dode_gaussian_law(const dode_model *m, double *mean, double *var, char *err,
                      size_t errlen);

/* The number K of components of a mixture (dode_gmm_new), 0 for any other model. */
size_t dode_gmm_components(const dode_model *m);

/* The mixture's normalised weights ([K]). DODE_EUNSUPPORTED if m is not a mixture. */
int dode_gmm_weights(const dode_model *m, double *w, char *err, size_t errlen);

/* The posterior responsibilities gamma[i][k] = p(k | xbar_i) at noise level sigma >= 0
 * (softmax of log w_k + log N(xbar_i; mu_k, S_k + sigma^2 I), log-sum-exp), [n][K].
 * ws: m's workspace for >= 1 rows (dode_model_workspace_new). DODE_EUNSUPPORTED (not a
 * mixture), DODE_EINVAL (sigma < 0 or not finite); gamma untouched on failure. */
int dode_gmm_responsibilities(const dode_model *m, void *ws, size_t n, const double *xbar,
                              double sigma, double *gamma, char *err, size_t errlen);

/* n exact draws of the mixture at noise level sigma >= 0 into xbar ([n][dim]), from the
 * caller's randomness: row i takes component k, the first with u[i] < w_0 + ... + w_k
 * (u[i] in [0, 1)), and xbar_i = mu_k + L_k z_i with L_k L_k^T = S_k + sigma^2 I (the
 * Cholesky factor; sqrt of the diagonal for isotropic and diagonal S_k), z [n][dim]
 * standard normals. ws as above. Errors as dode_gmm_responsibilities. */
int dode_gmm_draw(const dode_model *m, void *ws, size_t n, double sigma, const double *u,
                  const double *z, double *xbar, char *err, size_t errlen);

#endif
