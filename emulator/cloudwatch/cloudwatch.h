/* The CloudWatch metrics API at the AWS endpoint, in all three protocols
 * CloudWatch clients speak: Smithy RPC v2 CBOR (a smithy-protocol header and
 * POST /service/GraniteServiceVersion20100801/operation/<Op>), AWS JSON 1.0
 * (X-Amz-Target: GraniteServiceVersion20100801.<Op>) and the query protocol
 * (Action=<Op>&Version=2010-08-01), detected in that order. Each request is
 * decoded into the canonical model, run once by cloudwatch/actions and
 * rendered in its own protocol. Bodies sent with Content-Encoding: gzip
 * (botocore gzips PutMetricData from 10 KiB) are inflated, up to
 * CW_MAX_INFLATED bytes. */
#ifndef SLUICE_CLOUDWATCH_H
#define SLUICE_CLOUDWATCH_H

#include <event2/http.h>

#define CW_MAX_INFLATED (4 * 1024 * 1024)

/* Answers req and returns 1 when it is a CloudWatch request; returns 0
 * (req untouched) otherwise. path: the URL path; query: the URL query or
 * NULL. region: the request's (its SigV4 credential scope; NULL or "":
 * the default region): the metrics put and read are that region's. Metrics
 * come from metrics_get() (none recorded or read when it is NULL:
 * `observe: {enabled: false}`). */
int cloudwatch_handle(struct evhttp_request *req, const char *path, const char *query, const char *region);

#endif
