/* diffode.c - the diffode command: dispatch to a subcommand (commands.h). The only place,
 * with the subcommands it calls, that prints and exits. */
#include <gsl/gsl_errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

static const exp_command commands[] = {
    { "list", cmd_list, "solvers, schedules, spacings and models, with orders and costs" },
    { "sample", cmd_sample, "one sampling run; prints one JSON line" },
    { "reference", cmd_reference, "a high-accuracy solve of the same ODE (gsl:rk8pd)" },
    { "run", cmd_run, "a sweep from CONFIG.ini into results/NAME/ (resumable)" },
    { "train", cmd_train, "fit an eps_theta MLP by denoising score matching (.safetensors)" },
    { "images", cmd_images, "PNG grids: solvers x NFE on the same x_T, slerp rows" },
    { "merge", cmd_merge, "join the shards of diffode run --shard K/N into one results dir" },
    { "plot", cmd_plot, "redraw a results dir's figures (plots/plot.sh) and print its table" },
    { "nll", cmd_nll, "log-likelihood through the probability-flow ODE (nats, bits/dim)" },
    { "grid", cmd_grid, "an optimised time grid (GITS, the optimum) as .npy for sample --grid" },
    /* further subcommands: one line each, here */
    { NULL, NULL, NULL },
};

static void usage(FILE *out)
{
    fprintf(out, "usage: diffode COMMAND [options]   (diffode COMMAND --help for its options)\n\n");
    for (const exp_command *c = commands; c->name != NULL; c++)
        fprintf(out, "  %-10s %s\n", c->name, c->summary);
    fprintf(out, "\nexit status: 0 success, 1 runtime failure (file system, memory, numerics),\n"
            "2 usage or input error (arguments, config or data file content), 130 interrupted\n");
}

int main(int argc, char **argv)
{
    gsl_set_error_handler_off();       /* GSL's default handler aborts; we report statuses */
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (const exp_command *c = commands; c->name != NULL; c++)
        if (strcmp(argv[1], c->name) == 0)
            return c->run(argc - 1, argv + 1);
    fprintf(stderr, "diffode: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return CLI_EXIT_USAGE;
}
