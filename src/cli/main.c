/* illgan: entry point. Dispatches to a subcommand; every subcommand has its own --help. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"serve", cli_serve, "run the training daemon with its HTTP API and dashboard"},
    {"train", cli_train, "train headless (no server), writing checkpoints and sample grids"},
    {"sample", cli_sample, "draw a PNG grid of generated images from a checkpoint"},
    {"prepare", cli_prepare, "turn a folder of pictures into a training set"},
};

static void usage(FILE *out)
{
    fprintf(out,
            "illgan %s: a GAN that learns to draw illustrations\n\n"
            "usage: illgan COMMAND [OPTIONS]\n\ncommands:\n",
            ILLGAN_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n`illgan COMMAND --help` describes a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("illgan %s\n", ILLGAN_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "illgan: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
