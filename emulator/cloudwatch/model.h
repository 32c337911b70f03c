/* The CloudWatch canonical request model every wire codec decodes into and
 * renders from: a cJSON object keyed by AWS member names (as in the JSON 1.0
 * protocol), with every timestamp an epoch-seconds number. Also the one
 * table of CloudWatch errors (HTTP status, modelled shape, query code,
 * fault side), rendered per protocol by the codecs. */
#ifndef SLUICE_CLOUDWATCH_MODEL_H
#define SLUICE_CLOUDWATCH_MODEL_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    CW_ERR_NONE = 0,
    CW_ERR_INVALID_PARAMETER_VALUE,
    CW_ERR_INVALID_PARAMETER_COMBINATION,
    CW_ERR_MISSING_PARAMETER,
    CW_ERR_INVALID_NEXT_TOKEN,
    CW_ERR_INVALID_ACTION,      /* an operation CloudWatch does not have */
    CW_ERR_NOT_SUPPORTED,       /* a CloudWatch operation sluice does not serve (alarms) */
    CW_ERR_SERIALIZATION,       /* a body that does not parse */
    CW_ERR_TOO_LARGE,
    CW_ERR_INTERNAL,
    CW_ERR_VALIDATION,          /* a model constraint (400 ValidationError) */
    CW_ERR_RESOURCE_NOT_FOUND,  /* 404 ResourceNotFound (SetAlarmState of an unknown alarm) */
    CW_ERR_INVALID_FORMAT,      /* InvalidFormat (StateReasonData that is not JSON) */
    CW_ERR__COUNT
} cw_err_code_t;

typedef struct {
    int http_status;
    const char *shape;      /* __type in JSON 1.0 and CBOR bodies */
    const char *code;       /* the query code: XML <Code>, x-amzn-query-error */
    const char *fault;      /* "Sender" or "Receiver" */
} cw_err_info_t;

typedef struct {
    cw_err_code_t code;
    char message[1024];
} cw_err_t;

const cw_err_info_t *cw_err_info(cw_err_code_t code);
/* Sets e with a printf-style message. Always returns -1. */
int cw_err_set(cw_err_t *e, cw_err_code_t code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "InvalidParameterValue;Sender": the x-amzn-query-error header value. */
void cw_err_query_header(const cw_err_t *e, char *out, size_t n);

/* Member kinds by name (CloudWatch's metric members share names across
 * shapes, so the name decides): timestamps (Timestamp, StartTime, EndTime,
 * and the list Timestamps), doubles and integers, booleans. The query and
 * CBOR codecs use these to type what the wire leaves untyped. */
int cw_member_is_timestamp(const char *name);
int cw_member_is_number(const char *name);
int cw_member_is_bool(const char *name);
/* Integer members in outputs (Period, EvaluationPeriods, DatapointsToAlarm):
 * rendered without a fraction (XML "60", CBOR an integer), as clients
 * parse them as integers. */
int cw_member_is_integer(const char *name);

/* 1 when u is one of CloudWatch's StandardUnit names ("Seconds", "Count",
 * "Bytes/Second", ... "None"). */
int cw_unit_valid(const char *u);

/* ISO 8601 ("2026-02-12T10:00:00Z", "...T10:00:00.123Z", "+01:00" offsets,
 * a bare date) to epoch seconds. Returns 0, or -1 when s is not one. */
int cw_iso8601_parse(const char *s, double *out);
/* Epoch seconds to "2026-02-12T10:00:00Z" (".123Z" when there are
 * milliseconds). out must hold 32 bytes. */
void cw_iso8601_format(double epoch_s, char *out, size_t n);

#endif
