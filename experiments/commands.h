/* commands.h - the subcommands of the diffode command; each takes the arguments after its
 * name (argv[0] is the subcommand name), prints its own errors as "diffode NAME: ..." on
 * stderr and returns the process exit status (0 ok, 1 failure, 2 usage). */
#ifndef DIFFODE_COMMANDS_H
#define DIFFODE_COMMANDS_H

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} exp_command;

int cmd_list(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_reference(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_images(int argc, char **argv);
int cmd_nll(int argc, char **argv);
int cmd_grid(int argc, char **argv);

#endif
