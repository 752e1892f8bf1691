/* server unit tests, without a socket: the strict query parser (ranges, garbage, repeats,
 * unknown names), JSON bodies (malformed, trailing text, repeated keys, non-objects), the
 * error shape, the path fences of static files (including links out of web_dir), the
 * constant-time token comparison, loopback detection, and the generation limit: with the
 * limit reached a render is refused with 429 and counted, before any model is touched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/fs.h"

#include "server/internal.h"

static http_request request(const char *const *kv, int n)
{
    http_request q;
    memset(&q, 0, sizeof q);
    q.method = "GET";
    q.path = "/x";
    for (int i = 0; i < n; i++) {
        q.params[i].name = kv[2 * i];
        q.params[i].value = kv[2 * i + 1];
    }
    q.nparams = n;
    return q;
}

/* Runs param_int on one parameter; returns the status (0 when accepted) and prints it. */
static int int_status(const char *value, int64_t lo, int64_t hi, int64_t *out, char *code)
{
    const char *kv[] = {"n", value};
    http_request q = request(kv, 1);
    http_reply r;
    reply_init(&r);
    int rc = param_int(&q, "n", lo, hi, 16, out, &r);
    int status = rc ? r.status : 0;
    code[0] = 0;
    if (rc) {
        cJSON *j = cJSON_ParseWithLength(r.body, r.len);
        cJSON *e = cJSON_GetObjectItem(j, "error");
        snprintf(code, 32, "%s", cJSON_GetObjectItem(e, "code")->valuestring);
        assert_string_equal(cJSON_GetObjectItem(e, "field")->valuestring, "n");
        cJSON_Delete(j);
    }
    printf("n=%-28s -> %d %s\n", value ? value : "(none)", status, code);
    reply_free(&r);
    return status;
}

static void test_param_int(void **state)
{
    (void)state;
    int64_t v;
    char code[32];
    assert_int_equal(int_status("5", 1, 256, &v, code), 0);
    assert_int_equal(v, 5);
    assert_int_equal(int_status("256", 1, 256, &v, code), 0);
    assert_int_equal(int_status("0", 1, 256, &v, code), 400);
    assert_string_equal(code, "out_of_range");
    assert_int_equal(int_status("-3", 1, 256, &v, code), 400);
    assert_string_equal(code, "out_of_range");
    assert_int_equal(int_status("99999999999999999999999", 1, 256, &v, code), 400);
    assert_string_equal(code, "out_of_range");
    assert_int_equal(int_status("9223372036854775808", 0, INT64_MAX, &v, code), 400);
    assert_int_equal(int_status("9223372036854775807", 0, INT64_MAX, &v, code), 0);
    assert_true(v == INT64_MAX);
    const char *bad[] = {"", "5x", "0x10", " 5", "5 ", "1.0", "+5", "1e3", "-", NULL};
    for (int i = 0; i < 10; i++) {
        assert_int_equal(int_status(bad[i], 1, 256, &v, code), 400);
        assert_string_equal(code, "wrong_type");
    }
    /* absent: the default */
    http_request q = request(NULL, 0);
    http_reply r;
    reply_init(&r);
    assert_int_equal(param_int(&q, "n", 1, 256, 16, &v, &r), 0);
    assert_int_equal(v, 16);
}

static void test_param_check(void **state)
{
    (void)state;
    static const char *const allowed[] = {"n", "seed", NULL};
    const char *ok[] = {"n", "3", "seed", "4"};
    const char *unknown[] = {"n", "3", "size", "4"};
    const char *twice[] = {"n", "3", "n", "4"};
    http_reply r;
    http_request q = request(ok, 2);
    reply_init(&r);
    assert_int_equal(param_check(&q, allowed, &r), 0);
    q = request(unknown, 2);
    assert_int_equal(param_check(&q, allowed, &r), -1);
    printf("unknown: %d %.*s\n", r.status, (int)r.len, r.body);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "\"code\":\"unknown_parameter\""));
    assert_non_null(strstr(r.body, "\"field\":\"size\""));
    reply_free(&r);
    reply_init(&r);
    q = request(twice, 2);
    assert_int_equal(param_check(&q, allowed, &r), -1);
    printf("twice: %d %.*s\n", r.status, (int)r.len, r.body);
    assert_non_null(strstr(r.body, "\"field\":\"n\""));
    reply_free(&r);
}

static int body_status(const char *body, char *out, size_t len)
{
    http_request q = request(NULL, 0);
    q.body = body;
    q.body_len = strlen(body);
    http_reply r;
    reply_init(&r);
    cJSON *j = NULL;
    int rc = body_object(&q, &j, &r);
    snprintf(out, len, "%.*s", (int)r.len, r.body ? r.body : "");
    printf("body %-32s -> %d %s\n", body, rc ? r.status : 0, out);
    cJSON_Delete(j);
    reply_free(&r);
    return rc ? r.status : 0;
}

static void test_body_object(void **state)
{
    (void)state;
    char out[512];
    assert_int_equal(body_status("", out, sizeof out), 0);
    assert_int_equal(body_status("  {\"a\": 1}\n", out, sizeof out), 0);
    assert_int_equal(body_status("{\"a\": 1", out, sizeof out), 400);
    assert_non_null(strstr(out, "\"code\":\"bad_json\""));
    assert_non_null(strstr(out, "\"field\":null"));
    assert_int_equal(body_status("{\"a\": 1} x", out, sizeof out), 400);
    assert_int_equal(body_status("[1]", out, sizeof out), 400);
    assert_int_equal(body_status("null", out, sizeof out), 400);
    assert_int_equal(body_status("{\"a\": 1, \"a\": 2}", out, sizeof out), 400);
    assert_non_null(strstr(out, "\"field\":\"a\""));
}

static void test_error_shape(void **state)
{
    (void)state;
    http_reply r;
    reply_init(&r);
    assert_int_equal(reply_error(&r, 409, "conflict", NULL, "the daemon is %s", "stopping"), -1);
    cJSON *j = cJSON_ParseWithLength(r.body, r.len);
    assert_non_null(j);
    cJSON *e = cJSON_GetObjectItem(j, "error");
    printf("%.*s\n", (int)r.len, r.body);
    assert_int_equal(cJSON_GetArraySize(j), 1);
    assert_int_equal(cJSON_GetArraySize(e), 3);
    assert_string_equal(cJSON_GetObjectItem(e, "code")->valuestring, "conflict");
    assert_string_equal(cJSON_GetObjectItem(e, "message")->valuestring, "the daemon is stopping");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(e, "field")));
    assert_int_equal(r.status, 409);
    assert_string_equal(r.content_type, "application/json");
    cJSON_Delete(j);
    reply_free(&r);
}

static void test_static_path_fences(void **state)
{
    (void)state;
    const char *good[] = {"/", "/index.html", "/js/app.js", "/dir/", "/a-b_c.d.txt"};
    const char *bad[] = {"", "index.html", "/..", "/../etc/passwd", "/a/../../b", "/./a",
                         "/a/./b", "//etc/passwd", "/a//b", "/.git/config", "/a/.hidden",
                         "/a\\..\\b", "/a\tb", "/a\x7f"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        printf("ok  %s\n", good[i]);
        assert_true(static_path_ok(good[i]));
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        printf("bad %s\n", bad[i]);
        assert_false(static_path_ok(bad[i]));
    }
}

static void test_static_file_links_stay_inside(void **state)
{
    (void)state;
    char dir[] = "/tmp/illgan-static-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s/web/sub %s/out && echo in > %s/web/sub/in.txt && echo out > %s/out/s.txt"
             " && ln -s %s/out/s.txt %s/web/out.txt && ln -s sub/in.txt %s/web/inside.txt"
             " && echo i > %s/web/index.html",
             dir, dir, dir, dir, dir, dir, dir, dir);
    assert_int_equal(system(cmd), 0);
    char root[128];
    snprintf(root, sizeof root, "%s/web", dir);
    char *real = realpath(root, NULL);
    struct {
        const char *path;
        int status;
    } cases[] = {{"/sub/in.txt", 200}, {"/inside.txt", 200}, {"/", 200}, {"/sub", 404},
                 {"/out.txt", 404}, {"/nope", 404}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        http_reply r;
        reply_init(&r);
        static_file(real, cases[i].path, &r);
        printf("%-14s -> %d %s\n", cases[i].path, r.status, r.content_type ? r.content_type : "");
        assert_int_equal(r.status, cases[i].status);
        reply_free(&r);
    }
    free(real);
    assert_int_equal(test_remove_tree(dir), 0);
}

static void test_token_and_loopback(void **state)
{
    (void)state;
    assert_true(server_token_equal("secret-token", "secret-token"));
    assert_false(server_token_equal("secret-tokem", "secret-token"));
    assert_false(server_token_equal("secret-toke", "secret-token"));
    assert_false(server_token_equal("secret-token2", "secret-token"));
    assert_false(server_token_equal("", "secret-token"));
    const char *lo[] = {"127.0.0.1:8080", "127.1.2.3:0", "[::1]:80", "localhost:8080"};
    const char *not_lo[] = {"0.0.0.0:8080", "[::]:80", "192.168.1.5:80", "10.0.0.1:0"};
    for (int i = 0; i < 4; i++) {
        printf("%-16s loopback %d; %-16s loopback %d\n", lo[i], server_listen_is_loopback(lo[i]),
               not_lo[i], server_listen_is_loopback(not_lo[i]));
        assert_true(server_listen_is_loopback(lo[i]));
        assert_false(server_listen_is_loopback(not_lo[i]));
    }
}

static void test_generation_limit(void **state)
{
    (void)state;
    server s;
    memset(&s, 0, sizeof s);
    s.o.max_generate = 2;
    atomic_init(&s.generating, 2); /* two renders in progress */
    atomic_init(&s.generate_rejected, 0);
    const char *kv[] = {"n", "4", "seed", "1"};
    http_request q = request(kv, 2);
    http_reply r;
    reply_init(&r);
    assert_int_equal(img_sample_get(&s, &q, &r), -1);
    printf("third render: %d %.*s, Retry-After %s\n", r.status, (int)r.len, r.body,
           r.nheaders ? r.headers[0][1] : "-");
    assert_int_equal(r.status, 429);
    assert_non_null(strstr(r.body, "\"code\":\"busy\""));
    assert_string_equal(r.headers[0][0], "Retry-After");
    assert_int_equal(atomic_load(&s.generate_rejected), 1);
    assert_int_equal(atomic_load(&s.generating), 2); /* the slot count is restored */
    reply_free(&r);
    /* Parameters are checked first: a bad request is a 400 even when busy. */
    const char *bad[] = {"n", "0"};
    q = request(bad, 1);
    reply_init(&r);
    assert_int_equal(img_sample_get(&s, &q, &r), -1);
    assert_int_equal(r.status, 400);
    reply_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_param_int),
        cmocka_unit_test(test_param_check),
        cmocka_unit_test(test_body_object),
        cmocka_unit_test(test_error_shape),
        cmocka_unit_test(test_static_path_fences),
        cmocka_unit_test(test_static_file_links_stay_inside),
        cmocka_unit_test(test_token_and_loopback),
        cmocka_unit_test(test_generation_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
