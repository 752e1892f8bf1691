/* cli/args: strict parsing of numeric command-line values. Each returns 0 on success, or
 * prints "illgan: OPTION: reason" to stderr and returns -1 (the caller exits with 2). */
#ifndef ILLGAN_CLI_ARGS_H
#define ILLGAN_CLI_ARGS_H

#include <stdint.h>

int args_int(const char *text, const char *option, long lo, long hi, long *out);
int args_u64(const char *text, const char *option, uint64_t *out);
int args_float(const char *text, const char *option, double lo, double hi, double *out);

#endif
