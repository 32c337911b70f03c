/* AWS Signature Version 4 checks (see sigv4.h). Everything here works on
 * the bytes of one request and a key lookup; the HTTP side (which
 * requests are checked, the error shapes) is core/auth.c. */
#include "core/sigv4.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "core/buf.h"
#include "core/digest.h"
#include "core/xalloc.h"

#define ALGORITHM "AWS4-HMAC-SHA256"
#define UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

/* ---- small helpers ---- */

static void msgf(char *msg, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void msgf(char *msg, size_t n, const char *fmt, ...)
{
    if (!msg || !n)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, n, fmt, ap);
    va_end(ap);
}

/* Copies n bytes of s into out (size cap); returns -1 when they do not fit. */
static int copy_field(char *out, size_t cap, const char *s, size_t n)
{
    if (n >= cap) {
        out[0] = '\0';
        return -1;
    }
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

/* AWS's URI encoding: every byte but the unreserved ones (and '/' when
 * keep_slash) as %XX with uppercase hex. */
static void uri_encode(buf_t *b, const char *s, size_t n, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            buf_append(b, &s[i], 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            buf_append(b, e, 3);
        }
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into out ('+' stays '+'; a malformed escape is
 * kept as it is). Returns the decoded length; out holds n bytes. */
static size_t pct_decode(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int h, l;
        if (s[i] == '%' && i + 2 < n && (h = hexval(s[i + 1])) >= 0 && (l = hexval(s[i + 2])) >= 0) {
            out[o++] = (char)(h * 16 + l);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    return o;
}

/* ---- the request's parts ---- */

/* The path and query of a request-target: "/p?q", "http://h/p?q", "*". */
static void split_target(const char *target, const char **path, size_t *path_len, const char **query,
                         size_t *query_len)
{
    const char *t = target ? target : "";
    const char *scheme = strstr(t, "://");
    if (scheme && (size_t)(scheme - t) < 8 && t[0] != '/') {
        const char *p = strchr(scheme + 3, '/');
        const char *q = strchr(scheme + 3, '?');
        t = p && (!q || p < q) ? p : q ? q : "";
    }
    size_t plen = strcspn(t, "?#");
    *path = t;
    *path_len = plen;
    if (t[plen] == '?') {
        *query = t + plen + 1;
        *query_len = strcspn(*query, "#");
    } else {
        *query = "";
        *query_len = 0;
    }
}

/* Every value of header name (any case), each trimmed with inner runs of
 * spaces and tabs made one space, joined by ','; appended to b. Returns
 * how many headers there were. */
static size_t header_values(const sigv4_request_t *r, const char *name, size_t name_len, buf_t *b)
{
    size_t count = 0;
    for (size_t i = 0; i < r->n_headers; i++) {
        const char *hn = r->headers[i].name;
        if (!hn || strlen(hn) != name_len || strncasecmp(hn, name, name_len) != 0)
            continue;
        if (count++)
            buf_append(b, ",", 1);
        const char *v = r->headers[i].value ? r->headers[i].value : "";
        int pending_space = 0, started = 0;
        for (; *v; v++) {
            if (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n') {
                pending_space = started;
                continue;
            }
            if (pending_space)
                buf_append(b, " ", 1);
            pending_space = 0;
            started = 1;
            buf_append(b, v, 1);
        }
    }
    return count;
}

/* The first value of header name, or NULL. */
static const char *header_get(const sigv4_request_t *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (r->headers[i].name && strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value ? r->headers[i].value : "";
    return NULL;
}

typedef struct {
    char *name, *value; /* decoded; NUL-terminated, may hold NULs before the end */
    size_t name_len, value_len;
    char *enc;          /* "encname=encvalue" */
    size_t enc_name_len;
} qpair_t;

typedef struct {
    qpair_t *p;
    size_t n;
} qlist_t;

static void qlist_free(qlist_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->p[i].name);
        free(l->p[i].value);
        free(l->p[i].enc);
    }
    free(l->p);
    l->p = NULL;
    l->n = 0;
}

/* Splits a query into decoded pairs ('&' between pairs, the first '='
 * between name and value; empty pieces are skipped). */
static void qlist_parse(const char *q, size_t n, qlist_t *l)
{
    l->p = NULL;
    l->n = 0;
    size_t i = 0;
    while (i <= n) {
        size_t end = i;
        while (end < n && q[end] != '&')
            end++;
        if (end > i) {
            const char *piece = q + i;
            size_t plen = end - i;
            const char *eq = memchr(piece, '=', plen);
            size_t nlen = eq ? (size_t)(eq - piece) : plen;
            const char *val = eq ? eq + 1 : piece + plen;
            size_t vlen = eq ? plen - nlen - 1 : 0;
            l->p = xrealloc(l->p, (l->n + 1) * sizeof *l->p);
            qpair_t *p = &l->p[l->n++];
            p->name = xrealloc(NULL, nlen + 1);
            p->name_len = pct_decode(piece, nlen, p->name);
            p->name[p->name_len] = '\0';
            p->value = xrealloc(NULL, vlen + 1);
            p->value_len = pct_decode(val, vlen, p->value);
            p->value[p->value_len] = '\0';
            buf_t b;
            buf_init(&b);
            uri_encode(&b, p->name, p->name_len, 0);
            p->enc_name_len = b.len;
            buf_append(&b, "=", 1);
            uri_encode(&b, p->value, p->value_len, 0);
            p->enc = buf_steal(&b, NULL);
        }
        i = end + 1;
    }
}

/* The decoded value of name (exact case) in l, or NULL. */
static const qpair_t *qlist_get(const qlist_t *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->p[i].name_len == strlen(name) && memcmp(l->p[i].name, name, l->p[i].name_len) == 0)
            return &l->p[i];
    return NULL;
}

static int qpair_cmp(const void *a, const void *b)
{
    const qpair_t *x = a, *y = b;
    size_t n = x->enc_name_len < y->enc_name_len ? x->enc_name_len : y->enc_name_len;
    int c = memcmp(x->enc, y->enc, n);
    if (c)
        return c;
    if (x->enc_name_len != y->enc_name_len)
        return x->enc_name_len < y->enc_name_len ? -1 : 1;
    return strcmp(x->enc + x->enc_name_len + 1, y->enc + y->enc_name_len + 1);
}

/* ---- parsing the signature ---- */

/* "AKID/DATE/REGION/SERVICE/aws4_request" into a. */
static int parse_credential(const char *s, size_t n, sigv4_auth_t *a, char *msg, size_t msg_size, const char *where)
{
    const char *parts[5];
    size_t lens[5];
    size_t k = 0, start = 0;
    /* The access key cannot hold '/', so the last four '/'-separated parts
     * are the scope. */
    for (size_t i = 0; i <= n && k < 5; i++) {
        if (i == n || s[i] == '/') {
            parts[k] = s + start;
            lens[k] = i - start;
            k++;
            start = i + 1;
        }
    }
    if (k != 5 || start <= n) {
        msgf(msg, msg_size,
             "Credential should be scoped to a valid region, service and terminator: '%.*s' is not "
             "ACCESS_KEY/YYYYMMDD/REGION/SERVICE/aws4_request. %s",
             (int)(n > 200 ? 200 : n), s, where);
        return -1;
    }
    if (!lens[0] || copy_field(a->access_key, sizeof a->access_key, parts[0], lens[0])) {
        msgf(msg, msg_size, "Credential must name an access key of 1 to 128 characters. %s", where);
        return -1;
    }
    if (lens[1] != 8 || strspn(parts[1], "0123456789") < 8 ||
        copy_field(a->scope_date, sizeof a->scope_date, parts[1], lens[1])) {
        msgf(msg, msg_size, "Credential should be scoped to a valid date (YYYYMMDD), not '%.*s'. %s",
             (int)(lens[1] > 32 ? 32 : lens[1]), parts[1], where);
        return -1;
    }
    if (!lens[2] || copy_field(a->region, sizeof a->region, parts[2], lens[2])) {
        msgf(msg, msg_size, "Credential should be scoped to a valid region. %s", where);
        return -1;
    }
    if (!lens[3] || copy_field(a->service, sizeof a->service, parts[3], lens[3])) {
        msgf(msg, msg_size, "Credential should be scoped to a valid service. %s", where);
        return -1;
    }
    if (lens[4] != 12 || memcmp(parts[4], "aws4_request", 12) != 0) {
        msgf(msg, msg_size, "Credential should be scoped with a valid terminator: 'aws4_request', not '%.*s'. %s",
             (int)(lens[4] > 32 ? 32 : lens[4]), parts[4], where);
        return -1;
    }
    memcpy(a->terminator, "aws4_request", 13);
    return 0;
}

/* SignedHeaders: names of [!-~] but ';' and ':' separated by ';',
 * lowercase; host among them. */
static int check_signed_headers(const char *s, char *msg, size_t msg_size)
{
    int host = 0;
    const char *p = s;
    if (!*s) {
        msgf(msg, msg_size, "SignedHeaders must name at least the 'host' header.");
        return -1;
    }
    while (*p) {
        size_t n = strcspn(p, ";");
        if (n == 0) {
            msgf(msg, msg_size, "SignedHeaders holds an empty header name: '%.200s'.", s);
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)p[i];
            if (c <= ' ' || c > '~' || c == ':' || (c >= 'A' && c <= 'Z')) {
                msgf(msg, msg_size, "SignedHeaders must be lowercase header names separated by ';': '%.200s'.",
                     s);
                return -1;
            }
        }
        if (n == 4 && memcmp(p, "host", 4) == 0)
            host = 1;
        p += n;
        if (*p == ';')
            p++;
    }
    if (!host) {
        msgf(msg, msg_size, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
        return -1;
    }
    return 0;
}

static int is_hex64(const char *s)
{
    if (strlen(s) != 64)
        return 0;
    for (size_t i = 0; i < 64; i++)
        if (hexval(s[i]) < 0 || (s[i] >= 'A' && s[i] <= 'F'))
            return 0;
    return 1;
}

/* The Authorization header form: "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...". */
static sigv4_status_t parse_header_form(const sigv4_request_t *r, const char *auth, sigv4_auth_t *a, char *msg,
                                        size_t msg_size)
{
    char where[300];
    snprintf(where, sizeof where, "Authorization=%.250s", auth);
    size_t alg = strcspn(auth, " \t");
    if (alg != strlen(ALGORITHM) || strncmp(auth, ALGORITHM, alg) != 0) {
        msgf(msg, msg_size, "Unsupported AWS 'algorithm': '%.*s' (sluice checks " ALGORITHM " only). %s",
             (int)(alg > 64 ? 64 : alg), auth, where);
        return SIGV4_INCOMPLETE;
    }
    const char *cred = NULL, *sh = NULL, *sig = NULL;
    size_t cred_n = 0, sh_n = 0, sig_n = 0;
    const char *p = auth + alg;
    while (*p) {
        p += strspn(p, " \t,");
        if (!*p)
            break;
        size_t n = strcspn(p, ",");
        size_t end = n;
        while (end && (p[end - 1] == ' ' || p[end - 1] == '\t'))
            end--;
        const char *eq = memchr(p, '=', end);
        if (eq) {
            size_t kn = (size_t)(eq - p), vn = end - kn - 1;
            if (kn == 10 && strncmp(p, "Credential", 10) == 0)
                cred = eq + 1, cred_n = vn;
            else if (kn == 13 && strncmp(p, "SignedHeaders", 13) == 0)
                sh = eq + 1, sh_n = vn;
            else if (kn == 9 && strncmp(p, "Signature", 9) == 0)
                sig = eq + 1, sig_n = vn;
        }
        p += n;
    }
    char missing[320] = ""; /* all four sentences fit */
    if (!cred)
        strcat(missing, "Authorization header requires 'Credential' parameter. ");
    if (!sh)
        strcat(missing, "Authorization header requires 'SignedHeaders' parameter. ");
    if (!sig)
        strcat(missing, "Authorization header requires 'Signature' parameter. ");
    const char *date = header_get(r, "X-Amz-Date");
    if (!date)
        date = header_get(r, "Date");
    if (!date)
        strcat(missing, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ");
    if (missing[0]) {
        msgf(msg, msg_size, "%s%s", missing, where);
        return SIGV4_INCOMPLETE;
    }
    if (parse_credential(cred, cred_n, a, msg, msg_size, where))
        return SIGV4_INCOMPLETE;
    if (copy_field(a->signed_headers, sizeof a->signed_headers, sh, sh_n)) {
        msgf(msg, msg_size, "SignedHeaders is too long. %s", where);
        return SIGV4_INCOMPLETE;
    }
    if (check_signed_headers(a->signed_headers, msg, msg_size))
        return SIGV4_INCOMPLETE;
    if (copy_field(a->signature, sizeof a->signature, sig, sig_n) || !is_hex64(a->signature)) {
        msgf(msg, msg_size, "Signature must be 64 lowercase hexadecimal digits. %s", where);
        return SIGV4_INCOMPLETE;
    }
    if (sigv4_parse_amz_date(date) < 0) {
        /* A Date header (RFC 1123) is not signed in basic format; sluice
         * takes the basic format only, as every SDK sends X-Amz-Date. */
        msgf(msg, msg_size, "Date must be in ISO-8601 'basic format'. Got '%.40s'. See "
             "http://en.wikipedia.org/wiki/ISO_8601", date);
        return SIGV4_INCOMPLETE;
    }
    copy_field(a->amz_date, sizeof a->amz_date, date, strlen(date));
    a->presigned = 0;
    return SIGV4_OK;
}

static sigv4_status_t parse_query_form(const qlist_t *q, sigv4_auth_t *a, char *msg, size_t msg_size)
{
    static const char *const names[] = {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature",
                                        "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Expires"};
    const qpair_t *v[6];
    for (size_t i = 0; i < 6; i++) {
        v[i] = qlist_get(q, names[i]);
        if (!v[i]) {
            msgf(msg, msg_size,
                 "AWS query-string parameters must include '%s'. Re-examine the query-string parameters.",
                 names[i]);
            return SIGV4_INCOMPLETE;
        }
    }
    if (strcmp(v[0]->value, ALGORITHM) != 0) {
        msgf(msg, msg_size, "X-Amz-Algorithm only supports \"" ALGORITHM "\", not '%.64s'.", v[0]->value);
        return SIGV4_INCOMPLETE;
    }
    const char *where = "Re-examine the query-string parameters.";
    if (parse_credential(v[1]->value, v[1]->value_len, a, msg, msg_size, where))
        return SIGV4_INCOMPLETE;
    if (copy_field(a->signature, sizeof a->signature, v[2]->value, v[2]->value_len) || !is_hex64(a->signature)) {
        msgf(msg, msg_size, "X-Amz-Signature must be 64 lowercase hexadecimal digits. %s", where);
        return SIGV4_INCOMPLETE;
    }
    if (v[3]->value_len != 16 || sigv4_parse_amz_date(v[3]->value) < 0) {
        msgf(msg, msg_size, "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\", not '%.40s'.",
             v[3]->value);
        return SIGV4_INCOMPLETE;
    }
    memcpy(a->amz_date, v[3]->value, 17);
    if (copy_field(a->signed_headers, sizeof a->signed_headers, v[4]->value, v[4]->value_len) ||
        check_signed_headers(a->signed_headers, msg, msg_size)) {
        if (!a->signed_headers[0] && v[4]->value_len)
            msgf(msg, msg_size, "X-Amz-SignedHeaders is too long.");
        return SIGV4_INCOMPLETE;
    }
    const char *e = v[5]->value;
    long secs = 0;
    int ok = v[5]->value_len > 0 && v[5]->value_len <= 7 && strspn(e, "0123456789") == v[5]->value_len;
    if (ok)
        secs = strtol(e, NULL, 10);
    if (!ok || secs < 1 || secs > SIGV4_MAX_EXPIRES) {
        msgf(msg, msg_size, "X-Amz-Expires must be between 1 and %d seconds, not '%.20s'.", SIGV4_MAX_EXPIRES, e);
        return SIGV4_INCOMPLETE;
    }
    a->expires = secs;
    a->presigned = 1;
    return SIGV4_OK;
}

sigv4_status_t sigv4_parse(const sigv4_request_t *r, sigv4_auth_t *a, char *msg, size_t msg_size)
{
    memset(a, 0, sizeof *a);
    msgf(msg, msg_size, "%s", "");
    const char *auth = header_get(r, "Authorization");
    if (auth) {
        if (!*auth) {
            msgf(msg, msg_size, "Authorization header is empty.");
            return SIGV4_INCOMPLETE;
        }
        return parse_header_form(r, auth, a, msg, msg_size);
    }
    const char *path, *query;
    size_t path_len, query_len;
    split_target(r->target, &path, &path_len, &query, &query_len);
    qlist_t q;
    qlist_parse(query, query_len, &q);
    sigv4_status_t st = SIGV4_MISSING;
    if (qlist_get(&q, "X-Amz-Algorithm") || qlist_get(&q, "X-Amz-Signature") || qlist_get(&q, "X-Amz-Credential"))
        st = parse_query_form(&q, a, msg, msg_size);
    else
        msgf(msg, msg_size, "Request is missing Authentication Token");
    qlist_free(&q);
    return st;
}

/* ---- the canonical request ---- */

/* The path without dot segments and empty segments, encoded (above). */
static void canonical_path(buf_t *b, const char *path, size_t n)
{
    if (n == 0) {
        buf_append(b, "/", 1);
        return;
    }
    /* Segment starts and lengths, with ".." popping the last one. */
    size_t cap = 16, count = 0;
    size_t *start = xrealloc(NULL, cap * sizeof *start), *len = xrealloc(NULL, cap * sizeof *len);
    size_t i = 0;
    while (i <= n) {
        size_t e = i;
        while (e < n && path[e] != '/')
            e++;
        size_t sl = e - i;
        if (sl == 0 || (sl == 1 && path[i] == '.')) {
            /* skipped */
        } else if (sl == 2 && path[i] == '.' && path[i + 1] == '.') {
            if (count)
                count--;
        } else {
            if (count == cap) {
                cap *= 2;
                start = xrealloc(start, cap * sizeof *start);
                len = xrealloc(len, cap * sizeof *len);
            }
            start[count] = i;
            len[count] = sl;
            count++;
        }
        i = e + 1;
    }
    if (path[0] == '/')
        buf_append(b, "/", 1);
    for (size_t k = 0; k < count; k++) {
        if (k)
            buf_append(b, "/", 1);
        uri_encode(b, path + start[k], len[k], 0);
    }
    if (path[n - 1] == '/' && count)
        buf_append(b, "/", 1);
    free(start);
    free(len);
}

char *sigv4_canonical_request(const sigv4_request_t *r, const sigv4_auth_t *a, const char *payload_hash)
{
    buf_t b;
    buf_init(&b);
    buf_puts(&b, r->method ? r->method : "");
    buf_append(&b, "\n", 1);

    const char *path, *query;
    size_t path_len, query_len;
    split_target(r->target, &path, &path_len, &query, &query_len);
    canonical_path(&b, path, path_len);
    buf_append(&b, "\n", 1);

    qlist_t q;
    qlist_parse(query, query_len, &q);
    size_t kept = 0;
    for (size_t i = 0; i < q.n; i++) {
        if (a->presigned && q.p[i].name_len == 15 && memcmp(q.p[i].name, "X-Amz-Signature", 15) == 0) {
            free(q.p[i].name);
            free(q.p[i].value);
            free(q.p[i].enc);
            continue;
        }
        q.p[kept++] = q.p[i];
    }
    q.n = kept;
    if (q.n)
        qsort(q.p, q.n, sizeof *q.p, qpair_cmp);
    for (size_t i = 0; i < q.n; i++) {
        if (i)
            buf_append(&b, "&", 1);
        buf_puts(&b, q.p[i].enc);
    }
    qlist_free(&q);
    buf_append(&b, "\n", 1);

    const char *sh = a->signed_headers;
    while (*sh) {
        size_t n = strcspn(sh, ";");
        buf_append(&b, sh, n);
        buf_append(&b, ":", 1);
        header_values(r, sh, n, &b);
        buf_append(&b, "\n", 1);
        sh += n;
        if (*sh == ';')
            sh++;
    }
    buf_append(&b, "\n", 1);
    buf_puts(&b, a->signed_headers);
    buf_append(&b, "\n", 1);

    if (payload_hash) {
        buf_puts(&b, payload_hash);
    } else {
        const char *given = header_get(r, "X-Amz-Content-Sha256");
        if (given) {
            buf_puts(&b, given);
        } else {
            char hex[DIGEST_SHA256_HEX];
            digest_sha256_hex(r->body ? r->body : "", r->body_len, hex);
            buf_puts(&b, hex);
        }
    }
    return buf_steal(&b, NULL);
}

char *sigv4_string_to_sign(const sigv4_auth_t *a, const char *canonical)
{
    char hex[DIGEST_SHA256_HEX];
    digest_sha256_hex(canonical, strlen(canonical), hex);
    buf_t b;
    buf_init(&b);
    buf_printf(&b, ALGORITHM "\n%s\n%s/%s/%s/%s\n%s", a->amz_date, a->scope_date, a->region, a->service,
               a->terminator[0] ? a->terminator : "aws4_request", hex);
    return buf_steal(&b, NULL);
}

void sigv4_signature(const char *secret, const sigv4_auth_t *a, const char *string_to_sign, char out[65])
{
    unsigned char k[32], k2[32];
    size_t sl = strlen(secret);
    char *first = xrealloc(NULL, sl + 5);
    memcpy(first, "AWS4", 4);
    memcpy(first + 4, secret, sl + 1);
    digest_hmac_sha256(first, sl + 4, a->scope_date, strlen(a->scope_date), k);
    OPENSSL_cleanse(first, sl + 4);
    free(first);
    digest_hmac_sha256(k, 32, a->region, strlen(a->region), k2);
    digest_hmac_sha256(k2, 32, a->service, strlen(a->service), k);
    digest_hmac_sha256(k, 32, "aws4_request", 12, k2);
    digest_hmac_sha256(k2, 32, string_to_sign, strlen(string_to_sign), k);
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = hex[k[i] >> 4];
        out[2 * i + 1] = hex[k[i] & 15];
    }
    out[64] = '\0';
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(k2, sizeof k2);
}

/* ---- time ---- */

static int digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int64_t sigv4_parse_amz_date(const char *s)
{
    int y, mo, d, h, mi, se;
    if (!s || strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z' || digits(s, 4, &y) || digits(s + 4, 2, &mo) ||
        digits(s + 6, 2, &d) || digits(s + 9, 2, &h) || digits(s + 11, 2, &mi) || digits(s + 13, 2, &se))
        return -1;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 60)
        return -1;
    /* Days from 1970-01-01 (civil calendar). */
    int64_t yy = y - (mo <= 2);
    int64_t era = yy / 400;
    int64_t yoe = yy - era * 400;
    int64_t mp = (mo + 9) % 12;
    int64_t doy = (153 * mp + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + doe - 719468;
    return ((days * 24 + h) * 60 + mi) * 60000LL + se * 1000LL;
}

void sigv4_format_amz_date(int64_t ms, char out[17])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    if (strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16)
        memcpy(out, "00000000T000000Z", 17);
}

/* ---- the check ---- */

static int signature_matches(const sigv4_request_t *r, const sigv4_auth_t *a, const char *secret,
                             const char *payload_hash, char **canonical_out, char **sts_out)
{
    char *canonical = sigv4_canonical_request(r, a, payload_hash);
    char *sts = sigv4_string_to_sign(a, canonical);
    char sig[65];
    sigv4_signature(secret, a, sts, sig);
    int ok = CRYPTO_memcmp(sig, a->signature, 64) == 0;
    if (canonical_out && !*canonical_out) {
        *canonical_out = canonical;
        *sts_out = sts;
    } else {
        free(canonical);
        free(sts);
    }
    return ok;
}

sigv4_status_t sigv4_check(const sigv4_request_t *r, sigv4_lookup_fn lookup, void *ctx, int64_t now_ms,
                           sigv4_result_t *res)
{
    memset(res, 0, sizeof *res);
    sigv4_auth_t *a = &res->auth;
    res->status = sigv4_parse(r, a, res->message, sizeof res->message);
    if (res->status != SIGV4_OK)
        return res->status;

    const char *principal = NULL;
    const char *secret = lookup ? lookup(ctx, a->access_key, &principal) : NULL;
    if (!secret) {
        snprintf(res->message, sizeof res->message, "The security token included in the request is invalid.");
        return res->status = SIGV4_UNKNOWN_KEY;
    }

    int64_t t = sigv4_parse_amz_date(a->amz_date);
    char now_s[17], edge_s[17];
    sigv4_format_amz_date(now_ms, now_s);
    if (strncmp(a->amz_date, a->scope_date, 8) != 0) {
        snprintf(res->message, sizeof res->message,
                 "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                 "'%s' != '%.8s', from '%s'.",
                 a->scope_date, a->amz_date, a->amz_date);
        return res->status = SIGV4_MISMATCH;
    }
    if (t - now_ms > SIGV4_SKEW_MS) {
        sigv4_format_amz_date(now_ms + SIGV4_SKEW_MS, edge_s);
        snprintf(res->message, sizeof res->message,
                 "Signature not yet current: %s is still later than %s (%s + 15 min.)", a->amz_date, edge_s, now_s);
        return res->status = SIGV4_MISMATCH;
    }
    if (!a->presigned && now_ms - t > SIGV4_SKEW_MS) {
        sigv4_format_amz_date(now_ms - SIGV4_SKEW_MS, edge_s);
        snprintf(res->message, sizeof res->message,
                 "Signature expired: %s is now earlier than %s (%s - 15 min.)", a->amz_date, edge_s, now_s);
        return res->status = SIGV4_MISMATCH;
    }
    if (a->presigned && now_ms - t > (int64_t)a->expires * 1000) {
        sigv4_format_amz_date(now_ms - (int64_t)a->expires * 1000, edge_s);
        snprintf(res->message, sizeof res->message,
                 "Signature expired: %s is now earlier than %s (%s - %ld sec.)", a->amz_date, edge_s, now_s,
                 a->expires);
        return res->status = SIGV4_MISMATCH;
    }

    /* A hex x-amz-content-sha256 must be the body's: the signature covers
     * the header, not the bytes. */
    const char *given = header_get(r, "X-Amz-Content-Sha256");
    if (given && strlen(given) == 64) {
        char hex[DIGEST_SHA256_HEX];
        digest_sha256_hex(r->body ? r->body : "", r->body_len, hex);
        if (strcasecmp(hex, given) != 0) {
            snprintf(res->message, sizeof res->message,
                     "The provided 'x-amz-content-sha256' header does not match what was computed.");
            return res->status = SIGV4_MISMATCH;
        }
    }

    char *canonical = NULL, *sts = NULL;
    int ok = signature_matches(r, a, secret, NULL, &canonical, &sts);
    /* A presigned URL may sign its payload as UNSIGNED-PAYLOAD (S3 style). */
    if (!ok && a->presigned && !given)
        ok = signature_matches(r, a, secret, UNSIGNED_PAYLOAD, NULL, NULL);
    if (ok) {
        res->principal = principal;
        res->status = SIGV4_OK;
    } else {
        snprintf(res->message, sizeof res->message,
                 "The request signature we calculated does not match the signature you provided. Check your AWS "
                 "Secret Access Key and signing method. Consult the service documentation for details.\n\n"
                 "The Canonical String for this request should have been\n'%.600s'\n\n"
                 "The String-to-Sign should have been\n'%.300s'\n",
                 canonical, sts);
        res->status = SIGV4_MISMATCH;
    }
    free(canonical);
    free(sts);
    return res->status;
}
