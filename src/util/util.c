/* util/util.c: error-message formatting and clocks shared by every module. */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "illgan/util.h"

int util_vfail(char *err, size_t errlen, const char *fmt, va_list ap)
{
    if (err && errlen)
        vsnprintf(err, errlen, fmt, ap);
    return -1;
}

int util_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    util_vfail(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static double seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double util_mono_seconds(void)
{
    return seconds(CLOCK_MONOTONIC);
}

double util_wall_seconds(void)
{
    return seconds(CLOCK_REALTIME);
}
