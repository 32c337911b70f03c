/* STS on the AWS endpoint: GetCallerIdentity, so that code and test suites
 * that ask "which account am I in?" learn the configured account. Both
 * wire protocols: query (form in, XML out; what the AWS CLI, boto3 and the
 * JS SDK v3 send) and AWS JSON (X-Amz-Target AWSSecurityTokenServiceV20110615.*). */
#ifndef SLUICE_STS_H
#define SLUICE_STS_H

#include <event2/http.h>

/* The fixed identity every caller is: what LocalStack and moto users expect. */
#define STS_USER_ID "AKIAIOSFODNN7EXAMPLE"

/* Serves req when it is an STS request -- X-Amz-Target names STS, or the
 * SigV4 credential scope's service is "sts", or an unsigned request's
 * Action is GetCallerIdentity -- and returns 1 (answered). Otherwise
 * returns 0 and reads nothing. account_id: the configured account
 * (borrowed). Other STS actions are answered with InvalidAction. */
int sts_handle(struct evhttp_request *req, const char *account_id);

#endif
