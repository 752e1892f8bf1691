/* notify: the systemd service notification protocol (sd_notify), without libsystemd.
 *
 * systemd passes a datagram socket in $NOTIFY_SOCKET (a path, or "@name" for the abstract
 * namespace); a service reports "READY=1", "STOPPING=1", "RELOADING=1", "WATCHDOG=1" or
 * "STATUS=..." by sending that text as one datagram. Outside systemd the variable is unset
 * and every call is a no-op. */
#ifndef ILLGAN_NOTIFY_H
#define ILLGAN_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

/* Sends state; returns 1 when sent, 0 when there is no $NOTIFY_SOCKET, -1 with err on
 * failure. */
int notify_send(const char *state, char *err, size_t errlen);

/* The watchdog interval systemd asked for ($WATCHDOG_USEC, when $WATCHDOG_PID is unset or
 * ours), in microseconds; 0 when there is none. */
uint64_t notify_watchdog_usec(void);

#endif
