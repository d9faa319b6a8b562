/* data.h - training data for `diffode train`: a sampler of x0 rows from a named source.
 *
 *   gmm:FILE.json      a Gaussian mixture spec (model.h's JSON: weights, means, and stds |
 *                      diag_stds | covs), sampled exactly
 *   toy:checkerboard   2-D toys as in FFJORD's toy_data.py: an 8-square checkerboard on
 *   toy:moons          [-4, 4]^2; sklearn's two moons (noise 0.1) scaled by 2 and shifted by
 *   toy:swissroll      (-1, -0.2); sklearn's swiss roll (noise 1) in (x, z), divided by 5
 *   npy:FILE.npy       rows of a 2-D .npy array, drawn uniformly with replacement
 *
 * Every draw comes from the caller's gsl_rng, so a seed fixes the data stream. */
#ifndef DIFFODE_DATA_H
#define DIFFODE_DATA_H

#include <stddef.h>
#include <gsl/gsl_rng.h>

typedef struct dode_data dode_data;

/* Opens a source by its spec (above) into *out. DODE_ENOTFOUND for an unknown source kind
 * or toy name, else the reader's status (DODE_EIO, DODE_EFORMAT), with a message naming
 * the spec and the problem; *out unchanged on failure. */
int dode_data_open(const char *spec, dode_data **out, char *err, size_t errlen);

/* A GMM source from JSON text (`source` names it in messages). */
dode_data *dode_data_gmm_json_string(const char *json, const char *source, char *err,
                                     size_t errlen);

/* A source drawing rows of x ([rows][cols], copied) uniformly with replacement. */
dode_data *dode_data_from_rows(const double *x, size_t rows, size_t cols, const char *name,
                               char *err, size_t errlen);

void dode_data_free(dode_data *d);                  /* accepts NULL */
size_t dode_data_dim(const dode_data *d);
const char *dode_data_name(const dode_data *d);     /* the spec it was opened with */

/* n draws into x ([n][dim]). */
void dode_data_sample(const dode_data *d, gsl_rng *rng, size_t n, double *x);

/* The 2-D toys by name ("checkerboard", "moons", "swissroll"): n draws into x ([n][2]).
 * DODE_ENOTFOUND with a message listing the names. */
int dode_toy_sample(const char *name, gsl_rng *rng, size_t n, double *x, char *err,
                    size_t errlen);

#endif
