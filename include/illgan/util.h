/* util: the few helpers every layer shares: error messages and clocks. */
#ifndef ILLGAN_UTIL_H
#define ILLGAN_UTIL_H

#include <stdarg.h>
#include <stddef.h>

/* Formats a message into the caller's err buffer (when err is not NULL and errlen > 0,
 * always NUL-terminated) and returns -1, so that a failing function can end with
 * `return util_fail(err, errlen, "...", ...);`. */
int util_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same with a va_list, for wrappers that add their own arguments. */
int util_vfail(char *err, size_t errlen, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Seconds on the monotonic clock (for durations) and on the wall clock (Unix time). */
double util_mono_seconds(void);
double util_wall_seconds(void);

#endif
