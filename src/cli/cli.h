/* cli: the `illgan` command's subcommands. Each takes the arguments after its own name
 * (argv[0] is the subcommand) and returns the process exit status: 0 on success, 1 on a
 * failure it reported on stderr, 2 on a usage error. */
#ifndef ILLGAN_CLI_H
#define ILLGAN_CLI_H

int cli_train(int argc, char **argv);
int cli_sample(int argc, char **argv);
int cli_prepare(int argc, char **argv);
int cli_serve(int argc, char **argv);

#endif
