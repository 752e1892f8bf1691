/* notify tests: the sd_notify protocol against a datagram socket of our own (path and
 * abstract addresses), the watchdog variables, and the real daemon under a fake systemd:
 * READY=1 arrives only when /healthz already answers, WATCHDOG=1 follows while it trains,
 * and SIGTERM brings STOPPING=1 and exit status 0. The daemon binary is found next to the
 * test binary's build folder (BUILD/tests/daemon/test_notify -> BUILD/illgan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/fs.h"
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "illgan/notify.h"

static const char *self_path;
static pid_t daemon_pid; /* killed by the teardown whatever the test did */

/* A bound datagram socket; addr "@name" is abstract. Returns the fd. */
static int listen_dgram(const char *addr)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t len = strlen(addr);
    memcpy(sa.sun_path, addr, len);
    if (addr[0] == '@')
        sa.sun_path[0] = 0;
    socklen_t sl =
        (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (addr[0] == '@' ? 0 : 1));
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sl), 0);
    struct timeval tv = {60, 0}; /* a bound on waiting, not a timing assumption */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void recv_msg(int fd, char *buf, size_t len)
{
    ssize_t n = recv(fd, buf, len - 1, 0);
    assert_true(n > 0);
    buf[n] = 0;
}

static void test_send_path_and_abstract(void **state)
{
    (void)state;
    char dir[] = "/tmp/illgan-notify-XXXXXX", path[128], err[256], buf[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/notify.sock", dir);
    int fd = listen_dgram(path);
    setenv("NOTIFY_SOCKET", path, 1);
    assert_int_equal(notify_send("READY=1\nSTATUS=x", err, sizeof err), 1);
    recv_msg(fd, buf, sizeof buf);
    printf("path socket got '%s'\n", buf);
    assert_string_equal(buf, "READY=1\nSTATUS=x");
    close(fd);
    unlink(path);
    rmdir(dir);

    char abs[64];
    snprintf(abs, sizeof abs, "@illgan-test-%d", (int)getpid());
    fd = listen_dgram(abs);
    setenv("NOTIFY_SOCKET", abs, 1);
    assert_int_equal(notify_send("WATCHDOG=1", err, sizeof err), 1);
    recv_msg(fd, buf, sizeof buf);
    printf("abstract socket got '%s'\n", buf);
    assert_string_equal(buf, "WATCHDOG=1");
    close(fd);

    unsetenv("NOTIFY_SOCKET");
    assert_int_equal(notify_send("READY=1", err, sizeof err), 0);
    setenv("NOTIFY_SOCKET", "relative/path", 1);
    assert_int_equal(notify_send("READY=1", err, sizeof err), -1);
    printf("bad address: %s\n", err);
    unsetenv("NOTIFY_SOCKET");
}

static void test_watchdog_env(void **state)
{
    (void)state;
    char pid[32];
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    assert_int_equal(notify_watchdog_usec(), 0);
    setenv("WATCHDOG_USEC", "30000000", 1);
    assert_int_equal(notify_watchdog_usec(), 30000000);
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    setenv("WATCHDOG_PID", pid, 1);
    assert_int_equal(notify_watchdog_usec(), 30000000);
    setenv("WATCHDOG_PID", "1", 1); /* meant for another process */
    assert_int_equal(notify_watchdog_usec(), 0);
    unsetenv("WATCHDOG_PID");
    setenv("WATCHDOG_USEC", "12x", 1);
    assert_int_equal(notify_watchdog_usec(), 0);
    unsetenv("WATCHDOG_USEC");
}

/* GET /healthz on 127.0.0.1:port; the status code, or -1 when nothing answers. */
static int healthz(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char buf[64] = "";
    int code = -1;
    static const char req[] = "GET /healthz HTTP/1.0\r\n\r\n";
    if (!connect(fd, (struct sockaddr *)&sa, sizeof sa) &&
        send(fd, req, sizeof req - 1, MSG_NOSIGNAL) > 0 &&
        recv(fd, buf, sizeof buf - 1, MSG_WAITALL) > 12)
        code = atoi(buf + 9);
    close(fd);
    return code;
}

static void test_daemon_under_fake_systemd(void **state)
{
    (void)state;
    char bin[PATH_MAX];
    snprintf(bin, sizeof bin, "%s", self_path);
    char *cut = strstr(bin, "/tests/daemon/");
    assert_non_null(cut);
    snprintf(cut, sizeof bin - (size_t)(cut - bin), "/illgan");
    if (access(bin, X_OK)) {
        printf("no daemon binary at %s: build it first\n", bin);
        fail();
    }
    char dir[] = "/tmp/illgan-notify-XXXXXX", sock[128], st[128], logp[160];
    assert_non_null(mkdtemp(dir));
    snprintf(sock, sizeof sock, "%s/notify.sock", dir);
    snprintf(st, sizeof st, "%s/state", dir);
    snprintf(logp, sizeof logp, "%s/log", dir);
    int fd = listen_dgram(sock);
    pid_t pid = fork();
    assert_true(pid >= 0);
    daemon_pid = pid;
    if (pid == 0) {
        setenv("NOTIFY_SOCKET", sock, 1);
        setenv("WATCHDOG_USEC", "400000", 1);
        unsetenv("WATCHDOG_PID");
        FILE *lf = freopen(logp, "w", stderr);
        (void)lf;
        execl(bin, bin, "serve", "--listen", "127.0.0.1:0", "--state-dir", st, "--preset", "tiny",
              "--set", "synthetic_count=32", "--set", "batch_size=2", (char *)NULL);
        _exit(127);
    }
    char buf[512];
    recv_msg(fd, buf, sizeof buf);
    printf("first message: '%s'\n", buf);
    assert_non_null(strstr(buf, "READY=1"));
    /* The port is in the STATUS line that came with READY. */
    const char *p = strstr(buf, "on port ");
    assert_non_null(p);
    int port = atoi(p + 8);
    int code = healthz(port);
    printf("at READY=1, /healthz on port %d answers %d\n", port, code);
    assert_int_equal(code, 200);
    int watchdogs = 0;
    for (int i = 0; i < 50 && watchdogs < 2; i++) {
        recv_msg(fd, buf, sizeof buf);
        watchdogs += strcmp(buf, "WATCHDOG=1") == 0;
    }
    printf("watchdog pings seen: %d\n", watchdogs);
    assert_int_equal(watchdogs, 2);
    kill(pid, SIGTERM);
    int stopping = 0;
    for (int i = 0; i < 50 && !stopping; i++) {
        recv_msg(fd, buf, sizeof buf);
        stopping = strstr(buf, "STOPPING=1") != NULL;
    }
    assert_true(stopping);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    daemon_pid = 0;
    printf("exit: %s %d\n", WIFEXITED(status) ? "status" : "signal",
           WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    close(fd);
    assert_int_equal(test_remove_tree(dir), 0);
}

static int stop_daemon(void **state)
{
    (void)state;
    if (daemon_pid > 0) {
        kill(daemon_pid, SIGKILL);
        waitpid(daemon_pid, NULL, 0);
        daemon_pid = 0;
    }
    return 0;
}

int main(int argc, char **argv)
{
    (void)argc;
    self_path = argv[0];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send_path_and_abstract),
        cmocka_unit_test(test_watchdog_env),
        cmocka_unit_test_teardown(test_daemon_under_fake_systemd, stop_daemon),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
