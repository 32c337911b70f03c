/* The CloudWatch Logs API over observe/logs: AWS JSON 1.1, POST / with
 * X-Amz-Target: Logs_20140328.<Operation>. Offered: DescribeLogGroups,
 * DescribeLogStreams, GetLogEvents, FilterLogEvents, CreateLogGroup,
 * CreateLogStream, PutLogEvents, DeleteLogGroup, DeleteLogStream; any other
 * operation answers UnknownOperationException. Errors are HTTP 400
 * {"__type", "message"} with AWS's codes and messages. */
#ifndef SLUICE_OBSERVE_LOGS_API_H
#define SLUICE_OBSERVE_LOGS_API_H

#include <event2/http.h>

#include "observe/logs.h"

#define LOGS_API_TARGET_PREFIX "Logs_20140328."

/* Answers req, whose target is LOGS_API_TARGET_PREFIX op. region (the
 * request's) and account name the ARNs; groups are region's, and those of
 * home_region (the config's) are the ones Lambda and API Gateway write.
 * ls NULL: ServiceUnavailableException. */
void logs_api_handle(logstore_t *ls, struct evhttp_request *req, const char *op, const char *region,
                     const char *home_region, const char *account);

#endif
