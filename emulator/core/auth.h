/* Who gets in: with `auth:` keys configured, every AWS API request on the
 * AWS endpoint (SQS, Lambda, STS, CloudWatch, CloudWatch Logs: everything
 * but the /_sluice/ admin paths, which keep core/guard.c's rules, and the
 * Lambda Runtime API under /2018-06-01/, which handlers call unsigned)
 * must carry a valid AWS Signature Version 4 (core/sigv4.c) by one of the
 * keys, within 15 minutes of the emulated clock. Otherwise the request is
 * answered with AWS's error in the shape of its protocol:
 *   MissingAuthenticationToken  403  no signature at all
 *   IncompleteSignature         400  a malformed or partial signature
 *   InvalidClientTokenId        403  an access key not configured
 *   SignatureDoesNotMatch       403  wrong signature, skew, expired URL
 * (query XML <Code> and SQS's x-amzn-query-error carry these codes; JSON
 * __type and Lambda's x-amzn-ErrorType carry the JSON names
 * MissingAuthenticationTokenException, IncompleteSignatureException,
 * UnrecognizedClientException, InvalidSignatureException.)
 * Without `auth:` nothing is checked. Answers to checked requests carry a
 * Date header from the emulated clock, as AWS's carry AWS's time, so SDKs
 * that correct their clock skew from it (SDK v3) follow a moved clock. */
#ifndef SLUICE_AUTH_H
#define SLUICE_AUTH_H

#include <event2/http.h>

#include "core/config.h"

/* Takes the keys from cfg (copied); none: checks off. Call at start-up. */
void auth_configure(const config_t *cfg);
void auth_reset(void);
int auth_enabled(void);

/* Checks req before dispatch. Returns 0 to go on, with *principal set to
 * the signing key's principal (borrowed until auth_configure/auth_reset;
 * NULL when checks are off or the path is not checked), or 1 after
 * answering the refusal. path: the URI path. */
int auth_check(struct evhttp_request *req, const char *path, const char **principal);

#endif
