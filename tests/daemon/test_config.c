/* config tests: the sample etc/illgan.conf parses to exactly the built-in defaults and
 * mentions every live key; errors name the file, line and key; values out of range or of
 * the wrong type leave the setting unchanged; booleans and quoting; the live-key table's
 * ranges agree with the model's own validation at both ends; SIGHUP reloading reads only
 * live keys and reports which were given; listen addresses split correctly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <math.h>

#include "illgan/config.h"

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_sample_file_is_the_defaults(void **state)
{
    (void)state;
    config a, b;
    char err[512];
    config_default(&a);
    config_default(&b);
    if (config_load_file(&b, "etc/illgan.conf", err, sizeof err)) {
        printf("etc/illgan.conf: %s\n", err);
        fail();
    }
    assert_int_equal(config_finish(&a, err, sizeof err), 0);
    assert_int_equal(config_finish(&b, err, sizeof err), 0);
    memset(a.live_given, 0, sizeof a.live_given);
    memset(b.live_given, 0, sizeof b.live_given);
    printf("sample: listen %s, preset %s, data %s, lr_d %g, sample_every %d\n", b.listen,
           b.preset, b.data, b.live.hp.lr_d, b.live.sample_every);
    assert_memory_equal(&a, &b, sizeof a);
    /* Every live key is documented in the sample. */
    FILE *f = fopen("etc/illgan.conf", "r");
    assert_non_null(f);
    char text[16384];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = 0;
    fclose(f);
    for (int i = 0; i < LIVE_KEY_COUNT; i++) {
        char pat[64];
        snprintf(pat, sizeof pat, "\n%s = ", live_key_at(i)->name);
        int found = strstr(text, pat) != NULL;
        snprintf(pat, sizeof pat, "\n# %s = ", live_key_at(i)->name);
        found |= strstr(text, pat) != NULL;
        if (!found)
            printf("missing from the sample: %s\n", live_key_at(i)->name);
        assert_true(found);
    }
}

static void test_errors_name_line_and_key(void **state)
{
    (void)state;
    char path[] = "/tmp/illgan-conf-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    struct {
        const char *text, *expect;
    } cases[] = {
        {"# ok\nlr_d = 0.001\nbogus = 1\n", ":3: unknown key 'bogus'"},
        {"lr_d = fast\n", ":1: lr_d must be a number, not 'fast'"},
        {"\n\nbatch_size = 1\n", ":3: batch_size must be an integer in 2..256"},
        {"d_steps = 1.5\n", ":1: d_steps must be an integer"},
        {"zpred = maybe\n", ":1: zpred must be true or false"},
        {"listen = 127.0.0.1\n", ":1: listen: expected ADDRESS:PORT"},
        {"listen = 127.0.0.1:70000\n", ":1: listen: expected ADDRESS:PORT with a port"},
        {"preset = huge\n", ":1: preset:"},
        {"max_connections = 0\n", ":1: max_connections must be an integer in 1..10000"},
        {"just words\n", ":1: expected 'key = value'"},
        {"seed = -1\n", ":1: seed must be a non-negative integer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        write_file(path, cases[i].text);
        config c;
        char err[512] = "";
        config_default(&c);
        assert_int_equal(config_load_file(&c, path, err, sizeof err), -1);
        printf("%s\n", err);
        assert_non_null(strstr(err, path));
        assert_non_null(strstr(err, cases[i].expect));
    }
    config c;
    char err[512];
    config_default(&c);
    assert_int_equal(config_load_file(&c, "/nonexistent/illgan.conf", err, sizeof err), -1);
    printf("%s\n", err);
    unlink(path);
}

static void test_set_keeps_old_value_on_error(void **state)
{
    (void)state;
    config c;
    char err[256];
    config_default(&c);
    assert_int_equal(config_set(&c, "lr_d", "0.001", err, sizeof err), 0);
    assert_int_equal(config_set(&c, "lr_d", "2", err, sizeof err), -1);
    assert_float_equal(c.live.hp.lr_d, 0.001, 1e-9);
    assert_int_equal(config_set(&c, "zpred", "off", err, sizeof err), 0);
    assert_int_equal(c.live.hp.zpred, 0);
    assert_int_equal(config_set(&c, "auth_reads", "YES", err, sizeof err), 0);
    assert_int_equal(c.auth_reads, 1);
    assert_int_equal(config_set(&c, "state_dir", "", err, sizeof err), -1);
    assert_string_equal(c.state_dir, "state");
    assert_int_equal(config_set(&c, "auth_token_file", "", err, sizeof err), 0);
    assert_int_equal(config_set(&c, "levels", "3", err, sizeof err), 0);
    assert_int_equal(config_set(&c, "preset", "tiny", err, sizeof err), 0);
    gan_config arch;
    assert_int_equal(config_finish(&c, err, sizeof err), 0);
    assert_int_equal(config_arch(&c, &arch, err, sizeof err), 0);
    printf("tiny + levels 3: %s, side %d, batch %d\n", arch.preset, gan_config_side(&arch),
           c.live.hp.batch_size);
    assert_string_equal(arch.preset, "custom");
    /* batch_size not given: the preset's default after config_finish */
    gan_hparams hp;
    gan_hparams_default(&hp, "tiny");
    assert_int_equal(c.live.hp.batch_size, hp.batch_size);
}

static void test_quotes_and_spaces(void **state)
{
    (void)state;
    char path[] = "/tmp/illgan-conf-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    write_file(path, "  data   =   \"/srv/my images\"  \n\tweb_dir=/usr/share/illgan/web\n");
    config c;
    char err[256];
    config_default(&c);
    assert_int_equal(config_load_file(&c, path, err, sizeof err), 0);
    printf("data '%s', web_dir '%s'\n", c.data, c.web_dir);
    assert_string_equal(c.data, "/srv/my images");
    assert_string_equal(c.web_dir, "/usr/share/illgan/web");
    unlink(path);
}

/* The table's bounds are accepted by the model's validation, and just beyond them (or the
 * bound itself when it is exclusive) is refused by the table. */
static void test_live_ranges_agree_with_model(void **state)
{
    (void)state;
    char err[256];
    for (int i = 0; i < LIVE_KEY_COUNT; i++) {
        const live_key *k = live_key_at(i);
        live_params p;
        live_default(&p, "small");
        double lo = k->exclusive_min ? k->min + 1e-6 : k->min;
        double hi = k->exclusive_max ? k->max - 1e-6 : k->max;
        assert_int_equal(live_check(i, lo, err, sizeof err), 0);
        assert_int_equal(live_check(i, hi, err, sizeof err), 0);
        const char *field = NULL;
        live_set(&p, i, lo);
        assert_int_equal(gan_hparams_validate(&p.hp, &field, err, sizeof err), 0);
        live_set(&p, i, hi);
        assert_int_equal(gan_hparams_validate(&p.hp, &field, err, sizeof err), 0);
        double below = k->exclusive_min ? k->min : k->min - (k->type == LIVE_NUMBER ? 1e-3 : 1);
        double above = k->exclusive_max ? k->max : k->max + (k->type == LIVE_NUMBER ? 1e-3 : 1);
        assert_int_equal(live_check(i, below, err, sizeof err), -1);
        assert_int_equal(live_check(i, above, err, sizeof err), -1);
        assert_int_equal(live_check(i, NAN, err, sizeof err), -1);
        if (k->type != LIVE_NUMBER)
            assert_int_equal(live_check(i, lo + 0.5, err, sizeof err), -1);
        printf("%-16s %-7s [%g, %g] ok; %g and %g refused\n", k->name,
               k->type == LIVE_NUMBER ? "number" : k->type == LIVE_INTEGER ? "integer" : "bool",
               lo, hi, below, above);
    }
    live_params p;
    live_default(&p, "small");
    char buf[32];
    live_format(&p, live_key_find("lr_d"), buf, sizeof buf);
    assert_string_equal(buf, "0.0002");
    live_format(&p, live_key_find("zpred"), buf, sizeof buf);
    assert_string_equal(buf, "true");
    assert_true(live_get(&p, live_key_find("lr_d")) == 0.0002);
    assert_int_equal(live_key_find("nope"), -1);
}

static void test_reload_reads_live_keys_only(void **state)
{
    (void)state;
    char path[] = "/tmp/illgan-conf-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    write_file(path, "listen = 127.0.0.1:9999\nlr_g = 0.0005\nsample_every = 9\n");
    live_params live;
    live_default(&live, "small");
    unsigned char given[LIVE_KEY_COUNT];
    char err[256];
    assert_int_equal(config_load_live(path, &live, given, err, sizeof err), 0);
    printf("lr_g %g sample_every %d, given lr_g %d lr_d %d\n", live.hp.lr_g, live.sample_every,
           given[live_key_find("lr_g")], given[live_key_find("lr_d")]);
    assert_float_equal(live.hp.lr_g, 0.0005, 1e-9);
    assert_int_equal(live.sample_every, 9);
    assert_int_equal(given[live_key_find("lr_g")], 1);
    assert_int_equal(given[live_key_find("lr_d")], 0);
    /* A bad file changes nothing. */
    write_file(path, "lr_g = 0.0007\nlr_d = 5\n");
    assert_int_equal(config_load_live(path, &live, given, err, sizeof err), -1);
    printf("%s\n", err);
    assert_float_equal(live.hp.lr_g, 0.0005, 1e-9);
    unlink(path);
}

static void test_split_listen(void **state)
{
    (void)state;
    char host[64], err[256];
    int port;
    assert_int_equal(
        config_split_listen("127.0.0.1:8080", host, sizeof host, &port, err, sizeof err), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8080);
    assert_int_equal(config_split_listen("[::1]:0", host, sizeof host, &port, err, sizeof err), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 0);
    const char *bad[] = {"::1:80", "127.0.0.1", ":80", "[::1]80", "host:-1", "host:65536", "h:8x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(
            config_split_listen(bad[i], host, sizeof host, &port, err, sizeof err), -1);
        printf("%-12s %s\n", bad[i], err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_file_is_the_defaults),
        cmocka_unit_test(test_errors_name_line_and_key),
        cmocka_unit_test(test_set_keeps_old_value_on_error),
        cmocka_unit_test(test_quotes_and_spaces),
        cmocka_unit_test(test_live_ranges_agree_with_model),
        cmocka_unit_test(test_reload_reads_live_keys_only),
        cmocka_unit_test(test_split_listen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
