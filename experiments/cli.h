/* cli.h - what the diffode subcommands share: a table-driven flag parser (cli_args.c),
 * and the --schedule / --model readers over the library's spec strings (diffode/spec.h,
 * included here for the subcommands and configs that name models and schedules).
 *
 * The parser reads flags into a caller's options struct through offsets held in a const
 * table, so each subcommand declares its flags once and gets parsing, checking and --help
 * from the same rows. Nothing here prints except cli_usage: failures come back as a
 * status and one sentence in err (naming the flag and the value), and the subcommand
 * prints "diffode NAME: <sentence>". */
#ifndef DIFFODE_EXPERIMENTS_CLI_H
#define DIFFODE_EXPERIMENTS_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "diffode/model.h"
#include "diffode/options.h"
#include "diffode/schedule.h"
#include "diffode/spec.h"

/* How a flag's value is read and where it is stored (the field's C type in brackets). */
typedef enum {
    CLI_STRING,     /* [const char *] the argument itself (borrowed from argv) */
    CLI_DOUBLE,     /* [double] a finite number */
    CLI_POSITIVE,   /* [double] a finite number > 0 */
    CLI_NONNEG,     /* [double] a finite number >= 0 */
    CLI_COUNT,      /* [size_t] a decimal integer >= 1 */
    CLI_UINT,       /* [size_t] a decimal integer >= 0 */
    CLI_SWITCH,     /* [int] no value; sets 1 */
    CLI_CHOICE,     /* [int] the index of the value in choices[] */
    CLI_SOLVER_OPTIONS  /* [dode_solver_opts] one row standing for every option of the
                           library's table (options.h): --KEY with '_' written '-' */
} cli_kind;

typedef struct {
    const char *name;               /* "--nfe" */
    cli_kind kind;
    size_t offset;                  /* offsetof(options struct, field) */
    const char *const *choices;     /* CLI_CHOICE: NULL-terminated list of values */
    const char *metavar;            /* "K" in "--nfe K" for --help; NULL for switches */
    const char *help;               /* one line for --help */
    unsigned mask;                  /* which commands accept it (caller's bit flags) */
} cli_flag;

/* What cli_parse found besides flags. */
enum { CLI_PARSED = 0, CLI_HELP = -1 };

/* Parses argv[1 .. argc-1] (argv[0] is the subcommand) against the rows of flags (ended
 * by a row with name == NULL) whose mask intersects `mask`; values go into opts. Accepts
 * "--flag value" and "--flag=value". Returns CLI_PARSED, CLI_HELP when --help or -h is
 * seen, or DODE_EINVAL / DODE_ENOTFOUND with a sentence naming the flag and value
 * (unknown flag, missing value, malformed or out-of-range number, unknown choice,
 * positional argument). A flag given twice keeps the last value. A flag not given leaves
 * its field alone, so callers mark "unset" with a value the kind cannot produce (NULL,
 * NaN, 0 for CLI_COUNT, -1 for CLI_CHOICE). */
int cli_parse(const cli_flag *flags, unsigned mask, int argc, char **argv, void *opts,
              char *err, size_t errlen);

/* Prints "usage: diffode CMD SYNOPSIS" and one aligned line per accepted flag. */
void cli_usage(FILE *out, const char *cmd, const char *synopsis, const cli_flag *flags,
               unsigned mask);

/* The one exit-code convention of every diffode command (stated in `diffode --help` and
 * the README): 0 success; 2 usage or input error, i.e. the arguments or the content of an
 * input file are wrong (DODE_EINVAL, DODE_ENOTFOUND, DODE_EUNSUPPORTED, DODE_EFORMAT);
 * 1 runtime failure (a file cannot be opened or written, out of memory, a numerical
 * failure: DODE_EIO, DODE_ENOMEM, DODE_ENONFINITE, DODE_EMAXITER, DODE_ESOLVER);
 * 130 interrupted (SIGINT, after the completed work is saved). */
enum { CLI_EXIT_OK = 0, CLI_EXIT_RUNTIME = 1, CLI_EXIT_USAGE = 2, CLI_EXIT_INTERRUPTED = 130 };
int cli_exit_status(int rc);

struct cJSON;
/* The end of a command that reports one JSON line: with rc DODE_OK, json on one line on
 * stdout (DODE_ENOMEM, said, if it is NULL or cannot be formatted); otherwise
 * "diffode CMD: err" on stderr. Returns the final status; json stays the caller's. */
int cli_finish_report(const char *cmd, int rc, const struct cJSON *json, char *err,
                      size_t errlen);

/* The --schedule and --model specs of a subcommand, in that order, into *sched and then
 * *model (each set only on its success; the caller frees what was set). A failure's
 * sentence is the spec reader's, prefixed by the flag: "--model: why". */
int cli_schedule_and_model(const char *schedule_spec, const char *model_spec,
                           dode_schedule **sched, dode_model **model, char *err,
                           size_t errlen);

/* The folder holding plot.sh and the gnuplot scripts, found from the executable (never
 * the working directory): $DIFFODE_PLOTS, or EXEDIR/../plots, EXEDIR/../../plots,
 * EXEDIR/../share/diffode/plots. DODE_EIO saying where it looked. */
int cli_plots_dir(char *dir, size_t len, char *err, size_t errlen);

/* Draws every figure results_dir has data for (plot.sh). DODE_OK, or the reason none or
 * not all were drawn: DODE_EFORMAT (no figure data in the directory), DODE_EIO (no
 * scripts, no gnuplot, a figure failed). */
int cli_draw_figures(const char *results_dir, char *err, size_t errlen);

/* What is wrong with s as a number, for a message after the value ("is subnormal (...)",
 * "overflows a double", "is not a number", ...), or NULL when s is a finite normal number
 * or 0 (then a range check failed, and the caller says which). */
const char *cli_number_problem(const char *s);

/* The .npy file a flag names (flag "--x-T", path) as rows x dim doubles, rows >= min_rows;
 * *x (free it) and *rows on success. A read failure is "FLAG: why"; a wrong shape is
 * DODE_EFORMAT naming the file, its shape and the expected one. Outputs untouched on
 * failure. */
int cli_read_rows(const char *flag, const char *path, size_t dim, size_t min_rows,
                  double **x, size_t *rows, char *err, size_t errlen);

#endif
