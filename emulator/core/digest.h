/* Digests: hex MD5 (computed here) and SHA-256 (libcrypto), and AWS's MD5 of SQS
 * message attributes (sorted names, length-prefixed fields, transport
 * byte; ../shared/reference/sqs.md §3). */
#ifndef SLUICE_DIGEST_H
#define SLUICE_DIGEST_H

#include <stddef.h>
#include <cjson/cJSON.h>

#define DIGEST_MD5_HEX 33
#define DIGEST_SHA256_HEX 65

void digest_md5_hex(const void *data, size_t len, char out[DIGEST_MD5_HEX]);
void digest_sha256_hex(const void *data, size_t len, char out[DIGEST_SHA256_HEX]);

/* HMAC-SHA256 of data under key; writes 32 bytes to out. */
void digest_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len, unsigned char out[32]);

/* attrs: a JSON-protocol MessageAttributes map, {name: {DataType,
 * StringValue | BinaryValue (base64)}}. Writes the hex MD5; returns 0, or
 * -1 when attrs is NULL/empty (the field is then omitted) or malformed. */
int digest_message_attributes(const cJSON *attrs, char out[DIGEST_MD5_HEX]);

/* Base64 helpers (standard alphabet, padded). Return owned buffers. */
char *digest_base64_encode(const unsigned char *in, size_t len);
/* Returns owned bytes and sets *out_len; NULL when the input is not base64. */
unsigned char *digest_base64_decode(const char *in, size_t *out_len);

#endif
