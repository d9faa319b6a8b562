/* spec.h - the strings that name a model, a schedule or a prediction type, as the command
 * line and configs write them: "gaussian:dim=2,std=0.5", "gmm:FILE.json",
 * "mlp:FILE.safetensors", "ideal:fashion-mnist,n=2000", "ddpm-linear", "betas:FILE.npy".
 *
 * A model spec is "KIND" or "KIND:ARG"; each kind is one row of a const table
 * (dode_model_kinds), so a new kind is a make function and a row, and every caller that
 * walks the table (`diffode list`, --help) shows it. Readers return a status and one
 * sentence in err naming the spec and the bad key or value; an output is set only on
 * success. Specs are read once, so nothing here is on a hot path. */
#ifndef DIFFODE_SPEC_H
#define DIFFODE_SPEC_H

#include <stddef.h>

#include "diffode/model.h"
#include "diffode/schedule.h"

/* One model kind. make reads arg, the text after "KIND:" ("" if none), with spec the whole
 * string for messages; it returns a status and sets *out (caller frees with
 * dode_model_free) only on success. */
typedef struct {
    const char *kind;       /* "gaussian" */
    const char *syntax;     /* for `diffode list` and --help */
    const char *summary;
    int (*make)(const char *arg, const char *spec, dode_model **out, char *err,
                size_t errlen);
} dode_model_kind;

/* The kinds (gaussian, gmm, mlp, ideal), ended by a row with kind == NULL; a const table
 * owned by the library. */
const dode_model_kind *dode_model_kinds(void);

/* gaussian:dim=D,mean=M,std=S[,predict=eps|x0|v|score|flow] (defaults 2, 0, 1, eps; the mean
 * is a scalar broadcast to every dimension; a non-eps prediction is wrapped back to eps),
 * gmm:FILE.json, mlp:FILE.safetensors or ideal:... (dode_ideal_make). Returns DODE_OK and
 * *out (free with dode_model_free); DODE_ENOTFOUND for an unknown kind or key,
 * DODE_EINVAL for a bad value (both name it), DODE_EIO when a gmm: or mlp: file cannot
 * be opened, DODE_EFORMAT when it is read but cannot be loaded (the loader's message).
 * *out is untouched on failure. */
int dode_model_from_spec(const char *spec, dode_model **out, char *err, size_t errlen);

/* The model kind "ideal" (ideal.h's model; its row in dode_model_kinds):
 *   fashion-mnist[,n=M][,seed=S][,split=train|t10k]   Debian's dataset-fashion-mnist
 *   FILE.idx | FILE.idx.gz | FILE.npy [,n=M][,seed=S]  any IDX images file or .npy rows
 * n=M keeps M points: the first M, or with seed=S a seeded random subset (idx.h). IDX
 * pixels are scaled to [-1, 1]; .npy rows are taken as they are. arg is the text after
 * "ideal:", spec the whole string (for messages). DODE_EINVAL / DODE_ENOTFOUND for a bad
 * or unknown key (named), the reader's status for a file. *out untouched on failure. */
int dode_ideal_make(const char *arg, const char *spec, dode_model **out, char *err,
                    size_t errlen);

/* Schedule specs: a name for dode_schedule_new ("ddpm-linear" ...), or betas:FILE.npy /
 * alphas_cumprod:FILE.npy (a 1-D .npy of n >= 2 training levels, all kept). Returns
 * DODE_OK and *out (free with dode_schedule_free), DODE_ENOTFOUND for an unknown name,
 * DODE_EFORMAT for a file of the wrong shape or values, or the reader's status (file
 * problems). *out is untouched on failure. */
int dode_schedule_from_spec(const char *spec, dode_schedule **out, char *err,
                            size_t errlen);

/* The named schedules `diffode list` shows, ended by NULL (a const table). */
const char *const *dode_schedule_names(void);

/* Prediction type names, indexed by dode_prediction ("eps" "x0" "v" "score"; "unknown"
 * out of range), and the parser: DODE_OK and *out, or DODE_ENOTFOUND naming the value
 * with *out untouched. */
const char *dode_prediction_name(dode_prediction p);
int dode_prediction_parse(const char *name, dode_prediction *out, char *err, size_t errlen);

/* The strict number readers of spec values (and of the command's flags): the whole
 * string must be the number. dode_spec_whole: a decimal integer >= 0 (digits only, no
 * sign, no overflow); dode_spec_number: a finite double (strtod syntax, no overflow).
 * Return 0, or -1 leaving *out alone. */
int dode_spec_whole(const char *s, size_t *out);
int dode_spec_number(const char *s, double *out);

#endif
