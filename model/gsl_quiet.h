/* gsl_quiet.h - private to the library (model/ and solvers/), never installed: keeps
 * GSL's default error handler, which aborts the process, out of every library call.
 *
 * dode_gsl_quiet() is called first thing at each public entry that can reach a GSL
 * routine able to call the handler (Cholesky, odeiv2, eigen, rng and matrix allocation),
 * so the promise of status.h holds whether or not the caller switched the handler off.
 * See status.c for why it switches it off for good instead of restoring it on return. */
#ifndef DIFFODE_GSL_QUIET_H
#define DIFFODE_GSL_QUIET_H

void dode_gsl_quiet(void);

#endif
