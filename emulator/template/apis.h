/* API Gateway from a template, into the config's `apis:` shape (as a tnode
 * map the resources module writes out): SAM Api/HttpApi events, SAM
 * Serverless::Api/HttpApi with OpenAPI x-amazon-apigateway-integration,
 * AWS::ApiGateway::RestApi/Resource/Method/Stage/Deployment and
 * AWS::ApiGatewayV2::Api/Integration/Route/Stage. */
#ifndef SLUICE_TEMPLATE_APIS_H
#define SLUICE_TEMPLATE_APIS_H

#include "template/intrinsics.h"

typedef struct tpl_apis tpl_apis_t;

tpl_apis_t *apis_new(tpl_t *t); /* returns owned */
void apis_free(tpl_apis_t *a);   /* NULL is a no-op */

/* 1 when type is an API type this module reads. */
int apis_reads(const char *type);

/* A SAM function's event of Type Api or HttpApi (ev: the event map).
 * function is the function's name at sluice. */
void apis_add_event(tpl_apis_t *a, const char *function, const char *type, const tnode_t *ev);

/* After every resource: reads the API resources of the template (those
 * whose Condition holds) and returns the `apis:` map (owned), or NULL when
 * there are none. Problems go through the tpl_t. */
tnode_t *apis_finish(tpl_apis_t *a);

#endif
