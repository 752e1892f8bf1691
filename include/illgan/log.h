/* log: the daemon's log, one event a line on a stream (stderr).
 *
 * A line is `TIME LEVEL EVENT: message` with TIME in UTC (ISO 8601, milliseconds). When
 * stderr is connected to the systemd journal ($JOURNAL_STREAM names it) the time is left
 * to the journal and the line starts with the syslog priority instead (`<6>EVENT: ...`),
 * so `journalctl -p warning` works. Newlines inside a message are replaced by spaces, so
 * one call is always one line. Thread-safe: lines from several threads never interleave.
 * This module, with src/cli, is the only code that prints. */
#ifndef ILLGAN_LOG_H
#define ILLGAN_LOG_H

#include <stdio.h>

typedef enum { LOGLV_DEBUG, LOGLV_INFO, LOGLV_WARN, LOGLV_ERROR } log_level;

typedef struct logger logger;

/* A logger writing to stream (not closed by logger_free) at min_level and above; journal
 * mode is detected from $JOURNAL_STREAM when the stream is stderr. Returns NULL when out
 * of memory. */
logger *logger_new(FILE *stream, log_level min_level);
void logger_free(logger *lg);

/* Logs `event: message`. lg may be NULL (then nothing is logged). */
void log_msg(logger *lg, log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
