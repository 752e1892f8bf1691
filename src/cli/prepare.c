/* Placeholder until the prepare command lands; replaced by its owner. */
#include <stdio.h>

#include "cli/cli.h"

int cli_prepare(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "illgan prepare: not built yet\n");
    return 1;
}
