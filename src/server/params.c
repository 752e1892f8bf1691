/* server/params: strict parsing of query parameters and JSON bodies.
 *
 * Strict on purpose: an unknown or repeated parameter, an empty value, "12x", a fraction
 * or an out-of-range number is an error naming the parameter, so a typo in a script fails
 * loudly instead of silently using a default. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/internal.h"

int param_check(const http_request *q, const char *const *allowed, http_reply *r)
{
    if (q->too_many_params)
        return reply_error(r, 400, "unknown_parameter", NULL, "too many query parameters");
    for (int i = 0; i < q->nparams; i++) {
        const char *name = q->params[i].name;
        int known = 0;
        for (const char *const *a = allowed; *a; a++)
            known |= !strcmp(*a, name);
        if (!known)
            return reply_error(r, 400, "unknown_parameter", name,
                               "unknown query parameter '%s'", name);
        for (int j = 0; j < i; j++)
            if (!strcmp(q->params[j].name, name))
                return reply_error(r, 400, "wrong_type", name,
                                   "query parameter '%s' given more than once", name);
    }
    return 0;
}

int param_present(const http_request *q, const char *name)
{
    for (int i = 0; i < q->nparams; i++)
        if (!strcmp(q->params[i].name, name))
            return 1;
    return 0;
}

int param_int(const http_request *q, const char *name, int64_t lo, int64_t hi, int64_t def,
              int64_t *out, http_reply *r)
{
    const char *v = NULL;
    int found = 0;
    for (int i = 0; i < q->nparams; i++)
        if (!strcmp(q->params[i].name, name)) {
            v = q->params[i].value;
            found = 1;
        }
    if (!found) {
        *out = def;
        return 0;
    }
    const char *p = v ? v : "";
    int neg = *p == '-';
    if (neg)
        p++;
    if (!*p)
        return reply_error(r, 400, "wrong_type", name, "%s must be an integer in %lld..%lld",
                           name, (long long)lo, (long long)hi);
    for (const char *c = p; *c; c++)
        if (!isdigit((unsigned char)*c))
            return reply_error(r, 400, "wrong_type", name,
                               "%s must be an integer in %lld..%lld, not '%.40s'", name,
                               (long long)lo, (long long)hi, v);
    errno = 0;
    unsigned long long mag = strtoull(p, NULL, 10);
    int overflow = errno == ERANGE || mag > (unsigned long long)INT64_MAX;
    int64_t val = overflow ? 0 : (neg ? -(int64_t)mag : (int64_t)mag);
    if (overflow || val < lo || val > hi)
        return reply_error(r, 400, "out_of_range", name, "%s must be an integer in %lld..%lld",
                           name, (long long)lo, (long long)hi);
    *out = val;
    return 0;
}

/* Whether a JSON string in b[0..n) holds the escape \u0000. cJSON decodes it to a NUL that
 * ends the C string, so {"lr_d\u0000junk": 1} would pass as the key lr_d. */
static int has_escaped_nul(const char *b, size_t n)
{
    int in_string = 0;
    for (size_t i = 0; i < n; i++) {
        if (!in_string) {
            in_string = b[i] == '"';
        } else if (b[i] == '"') {
            in_string = 0;
        } else if (b[i] == '\\' && i + 1 < n) {
            if (b[i + 1] == 'u' && i + 5 < n && !strncmp(b + i + 2, "0000", 4))
                return 1;
            i++; /* the escaped character, so \\ and \" are skipped whole */
        }
    }
    return 0;
}

int body_object(const http_request *q, cJSON **out, http_reply *r)
{
    *out = NULL;
    size_t n = q->body_len;
    const char *b = q->body;
    while (n && isspace((unsigned char)*b)) {
        b++;
        n--;
    }
    if (!n) {
        *out = cJSON_CreateObject();
        if (!*out)
            return reply_error(r, 500, "internal", NULL, "out of memory");
        return 0;
    }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(b, n, &end, 0);
    if (j) {
        /* Anything but whitespace after the value is malformed too. */
        size_t used = (size_t)(end - b);
        for (size_t i = used; i < n; i++)
            if (!isspace((unsigned char)b[i])) {
                cJSON_Delete(j);
                return reply_error(r, 400, "bad_json", NULL,
                                   "request body: unexpected text after the JSON value at byte %zu",
                                   i);
            }
    }
    if (!j)
        return reply_error(r, 400, "bad_json", NULL, "request body is not valid JSON");
    if (has_escaped_nul(b, n)) {
        cJSON_Delete(j);
        return reply_error(r, 400, "bad_json", NULL, "request body: \\u0000 in a string");
    }
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return reply_error(r, 400, "bad_json", NULL, "request body must be a JSON object");
    }
    /* No endpoint takes more than a few keys; the bound also keeps the check below cheap. */
    if (cJSON_GetArraySize(j) > 64) {
        cJSON_Delete(j);
        return reply_error(r, 400, "bad_json", NULL, "request body has more than 64 keys");
    }
    /* A repeated key would be ambiguous: refuse it. */
    for (cJSON *a = j->child; a; a = a->next)
        for (cJSON *c = a->next; c; c = c->next)
            if (a->string && c->string && !strcmp(a->string, c->string)) {
                char name[64];
                snprintf(name, sizeof name, "%s", a->string);
                cJSON_Delete(j);
                return reply_error(r, 400, "bad_json", name, "key '%s' appears more than once",
                                   name);
            }
    *out = j;
    return 0;
}
