/* Placeholder until the sample command lands; replaced by its owner. */
#include <stdio.h>

#include "cli/cli.h"

int cli_sample(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "illgan sample: not built yet\n");
    return 1;
}
