/* The SQS query-protocol request codec (sqs/wire_query.c): the first byte
 * picks an action (or, past the list, the action comes from the form's
 * Action field), the rest is a form body; a refusal is rendered as the
 * query protocol's XML error. */
#include "fuzz.h"

#include <cjson/cJSON.h>

#include "core/form.h"
#include "sqs/actions.h"
#include "sqs/wire_query.h"

static const char *const actions[] = {
    "SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage", "DeleteMessageBatch",
    "ChangeMessageVisibility", "ChangeMessageVisibilityBatch", "CreateQueue", "DeleteQueue", "GetQueueUrl",
    "GetQueueAttributes", "SetQueueAttributes", "ListQueues", "ListDeadLetterSourceQueues", "PurgeQueue",
    "TagQueue", "UntagQueue", "ListQueueTags", "AddPermission", "RemovePermission", "StartMessageMoveTask",
    "CancelMessageMoveTask", "ListMessageMoveTasks",
};
#define N_ACTIONS (sizeof actions / sizeof *actions)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    form_t *form = form_parse((const char *)data + 1, size - 1);
    const char *action = data[0] < N_ACTIONS ? actions[data[0]] : form_get(form, "Action");
    if (action && sqs_action_known(action)) {
        cJSON *params = NULL;
        err_t err = {0};
        if (sqs_wire_query_decode(action, form, &params, &err) != 0) {
            size_t len = 0;
            char *xml = sqs_wire_query_render_error(&err, "00000000-0000-0000-0000-000000000000", &len);
            free(xml);
        }
        cJSON_Delete(params);
    }
    form_free(form);
    return 0;
}
