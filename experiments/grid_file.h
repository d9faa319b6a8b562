/* grid_file.h - a time grid read from a .npy file (`diffode sample --grid FILE.npy`,
 * written by `diffode grid`). */
#ifndef DIFFODE_EXP_GRID_FILE_H
#define DIFFODE_EXP_GRID_FILE_H

#include <stddef.h>
#include "diffode/grid.h"
#include "diffode/schedule.h"

/* Reads PATH, a 1-D float64 or float32 .npy array of sigmas sigma_0 > sigma_1 > ... >
 * sigma_S (the sampling direction: noise first), and makes the grid on schedule s with
 * dode_grid_from_sigmas. Sigmas only, never timesteps: a sigma means the same thing on
 * every schedule, a t does not. Checked: 1-D shape, 2 <= points <= DODE_MAX_STEPS + 1,
 * every entry finite, strictly decreasing, sigma_0 at most the schedule's largest sigma
 * sigma(t_limit) (and DODE_MAX_SIGMA), the last >= 0 and every other one > 0. A failure
 * names `flag`, the file and the first bad entry (0-based): DODE_EFORMAT for the content,
 * DODE_EIO / DODE_ENOTFOUND for a file that cannot be read. *out untouched on failure. */
int exp_grid_file_read(const char *flag, const char *path, const dode_schedule *s,
                       dode_grid *out, char *err, size_t errlen);

/* The same checks on an array in memory (`source` names it in messages). */
int exp_grid_check(const char *flag, const char *source, const double *sigma, size_t npoints,
                   const dode_schedule *s, char *err, size_t errlen);

/* Writes sigma[0..npoints) as a 1-D '<f8' .npy (shape (npoints,)), atomically. */
int exp_grid_file_write(const char *path, const double *sigma, size_t npoints, char *err,
                        size_t errlen);

#endif
