/* Placeholder until the train command lands; replaced by its owner. */
#include <stdio.h>

#include "cli/cli.h"

int cli_train(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "illgan train: not built yet\n");
    return 1;
}
