/* log: one event a line on a stream (include/illgan/log.h).
 *
 * The whole line is formatted into one buffer and written with a single fwrite under the
 * logger's mutex, so concurrent threads never interleave partial lines. */
#include "illgan/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct logger {
    FILE *stream;
    log_level min_level;
    int journal;  /* stderr is the journal: priority prefix, no time */
    pthread_mutex_t lock;
};

/* $JOURNAL_STREAM is "DEVICE:INODE" of the journal's socket; it only counts when our
 * stderr is that very socket (a child may inherit the variable with stderr redirected). */
static int stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st))
        return 0;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

logger *logger_new(FILE *stream, log_level min_level)
{
    logger *lg = calloc(1, sizeof *lg);
    if (!lg)
        return NULL;
    lg->stream = stream;
    lg->min_level = min_level;
    lg->journal = stream == stderr && stderr_is_journal();
    pthread_mutex_init(&lg->lock, NULL);
    return lg;
}

void logger_free(logger *lg)
{
    if (!lg)
        return;
    pthread_mutex_destroy(&lg->lock);
    free(lg);
}

void log_msg(logger *lg, log_level level, const char *event, const char *fmt, ...)
{
    static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    static const int priorities[] = {7, 6, 4, 3};
    if (!lg || level < lg->min_level)
        return;
    char line[2048];
    size_t n;
    if (lg->journal) {
        n = (size_t)snprintf(line, sizeof line, "<%d>%s: ", priorities[level], event);
    } else {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
        n += (size_t)snprintf(line + n, sizeof line - n, ".%03ldZ %-5s %s: ",
                              ts.tv_nsec / 1000000, names[level], event);
    }
    if (n >= sizeof line)
        n = sizeof line - 1;
    size_t head = n;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    if (m > 0)
        n += (size_t)m < sizeof line - n ? (size_t)m : sizeof line - n - 1;
    for (size_t i = head; i < n; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[n++] = '\n';
    pthread_mutex_lock(&lg->lock);
    fwrite(line, 1, n, lg->stream);
    fflush(lg->stream);
    pthread_mutex_unlock(&lg->lock);
}
