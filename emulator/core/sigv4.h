/* AWS Signature Version 4, checked by the receiving side: the pure part
 * (no sockets, no config, no clock of its own), so the unit tests run
 * AWS's published test-suite vectors through it and the fuzzer feeds it
 * any bytes.
 *
 * A request is signed either by an Authorization header
 *   AWS4-HMAC-SHA256 Credential=AKID/YYYYMMDD/REGION/SERVICE/aws4_request,
 *   SignedHeaders=a;b;c, Signature=<64 hex>
 * with the time in X-Amz-Date (or Date), or by query parameters (a
 * presigned URL): X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date,
 * X-Amz-Expires, X-Amz-SignedHeaders, X-Amz-Signature.
 *
 * The canonical request is AWS's: the method; the path with dot segments
 * and empty segments removed, each byte outside A-Z a-z 0-9 - . _ ~ and '/'
 * percent-encoded (so an already-encoded path is encoded a second time, as
 * every service but S3 signs it); the query's pairs decoded and re-encoded
 * the same way ('+' is a plus, not a space), sorted by name then value,
 * X-Amz-Signature left out; each signed header as lowercase name ':' value
 * with the value trimmed and inner runs of spaces made one, repeated
 * headers joined by ','; the signed header names; and the payload hash:
 * the x-amz-content-sha256 header when present (UNSIGNED-PAYLOAD
 * included), else the hex SHA-256 of the body. */
#ifndef SLUICE_SIGV4_H
#define SLUICE_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#define SIGV4_SKEW_MS (15 * 60 * 1000) /* AWS's allowed clock difference */
#define SIGV4_MAX_EXPIRES 604800       /* a presigned URL lives at most 7 days */

typedef struct {
    const char *name; /* any case */
    const char *value;
} sigv4_header_t;

/* A request as it arrived. target: the request-target of the request line
 * ("/path?query", or an absolute URL), bytes as sent. */
typedef struct {
    const char *method;
    const char *target;
    const sigv4_header_t *headers;
    size_t n_headers;
    const void *body;
    size_t body_len;
} sigv4_request_t;

typedef enum {
    SIGV4_OK = 0,
    SIGV4_MISSING,      /* no signature at all: MissingAuthenticationToken */
    SIGV4_INCOMPLETE,   /* a signature that is malformed or lacks parts: IncompleteSignature */
    SIGV4_UNKNOWN_KEY,  /* the access key is not known: InvalidClientTokenId */
    SIGV4_MISMATCH,     /* wrong signature, out of the clock window, expired: SignatureDoesNotMatch */
} sigv4_status_t;

/* What the request says about its signature. Strings are NUL-terminated
 * copies; they are cut at their size (a longer field then fails). */
typedef struct {
    int presigned;            /* 1: query parameters, 0: Authorization header */
    char access_key[129];
    char scope_date[9];       /* YYYYMMDD */
    char region[64];
    char service[64];
    char terminator[16];      /* aws4_request */
    char amz_date[17];        /* YYYYMMDDTHHMMSSZ */
    char signed_headers[1024];
    char signature[65];
    long expires;             /* presigned: X-Amz-Expires seconds; else 0 */
} sigv4_auth_t;

/* Looks up the secret for an access key: returns it (borrowed) and sets
 * *principal (borrowed) when known, else NULL. */
typedef const char *(*sigv4_lookup_fn)(void *ctx, const char *access_key, const char **principal);

typedef struct {
    sigv4_status_t status;
    char message[1536];       /* AWS's wording for the status (empty for OK) */
    sigv4_auth_t auth;        /* as parsed (valid from SIGV4_UNKNOWN_KEY on) */
    const char *principal;    /* SIGV4_OK: the key's principal (borrowed from lookup) */
} sigv4_result_t;

/* Checks r's signature against the keys lookup knows, at now_ms (the
 * emulated clock): the time must be within SIGV4_SKEW_MS of now (presigned:
 * not in the future by more than that, and not past X-Amz-Date +
 * X-Amz-Expires). Fills res; returns res->status. */
sigv4_status_t sigv4_check(const sigv4_request_t *r, sigv4_lookup_fn lookup, void *ctx, int64_t now_ms,
                           sigv4_result_t *res);

/* The parts, for tests and for the SignatureDoesNotMatch message. */

/* Parses the signature out of r. Returns SIGV4_OK, SIGV4_MISSING or
 * SIGV4_INCOMPLETE (with AWS's message in msg). */
sigv4_status_t sigv4_parse(const sigv4_request_t *r, sigv4_auth_t *a, char *msg, size_t msg_size);

/* The canonical request (owned, NUL-terminated) for r as a signed;
 * payload_hash NULL: from r (see above). */
char *sigv4_canonical_request(const sigv4_request_t *r, const sigv4_auth_t *a, const char *payload_hash);

/* "AWS4-HMAC-SHA256\n" amz_date "\n" scope "\n" hex(SHA-256(canonical)). Owned. */
char *sigv4_string_to_sign(const sigv4_auth_t *a, const char *canonical);

/* The hex signature of string_to_sign under secret and a's scope. */
void sigv4_signature(const char *secret, const sigv4_auth_t *a, const char *string_to_sign, char out[65]);

/* "YYYYMMDDTHHMMSSZ" -> milliseconds since the epoch; -1 when malformed. */
int64_t sigv4_parse_amz_date(const char *s);
/* The reverse; out holds 17. */
void sigv4_format_amz_date(int64_t ms, char out[17]);

#endif
