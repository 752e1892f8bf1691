/* cli/args.c: numbers from the command line, refused unless the whole text is a number in
 * range, so that "--steps 10k" or "--seed -1" is an error rather than a surprise. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/args.h"

int args_int(const char *text, const char *option, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi) {
        fprintf(stderr, "illgan: %s: expected a whole number in %ld..%ld, got '%s'\n", option, lo,
                hi, text);
        return -1;
    }
    *out = v;
    return 0;
}

int args_u64(const char *text, const char *option, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 0);
    if (errno || end == text || *end || text[0] == '-') {
        fprintf(stderr, "illgan: %s: expected a non-negative whole number, got '%s'\n", option,
                text);
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

int args_float(const char *text, const char *option, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "illgan: %s: expected a number in [%g, %g], got '%s'\n", option, lo, hi,
                text);
        return -1;
    }
    *out = v;
    return 0;
}
