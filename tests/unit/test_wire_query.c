/* The query-protocol codec: every flattened request shape decoded to the
 * canonical JSON (compared as exact unformatted JSON text, so order counts),
 * and exact XML for results and errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sqs/wire_query.h"

/* Decodes the form text for action and compares the JSON text exactly. */
static void decodes_to(const char *action, const char *form_text, const char *want)
{
    form_t *f = form_parse(form_text, strlen(form_text));
    cJSON *out = NULL;
    err_t err = {0};
    assert_int_equal(sqs_wire_query_decode(action, f, &out, &err), 0);
    assert_non_null(out);
    char *got = cJSON_PrintUnformatted(out);
    assert_string_equal(got, want);
    free(got);
    cJSON_Delete(out);
    form_free(f);
}

static void test_decode_scalars_and_ignored(void **state)
{
    (void)state;
    decodes_to("DeleteMessage",
               "Action=DeleteMessage&Version=2012-11-05&QueueUrl=http%3A%2F%2Fh%2F1%2Fq&ReceiptHandle=rh%2B1"
               "&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abc&Unknown=1",
               "{\"QueueUrl\":\"http://h/1/q\",\"ReceiptHandle\":\"rh+1\"}");
    decodes_to("GetQueueUrl", "QueueName=q1&QueueOwnerAWSAccountId=000000000000",
               "{\"QueueName\":\"q1\",\"QueueOwnerAWSAccountId\":\"000000000000\"}");
    decodes_to("ListQueues", "QueueNamePrefix=pre&MaxResults=5&NextToken=tok",
               "{\"QueueNamePrefix\":\"pre\",\"NextToken\":\"tok\",\"MaxResults\":5}");
    decodes_to("ListDeadLetterSourceQueues", "QueueUrl=u&MaxResults=1000",
               "{\"QueueUrl\":\"u\",\"MaxResults\":1000}");
    decodes_to("PurgeQueue", "QueueUrl=u", "{\"QueueUrl\":\"u\"}");
    decodes_to("DeleteQueue", "QueueUrl=u", "{\"QueueUrl\":\"u\"}");
    decodes_to("ListQueueTags", "QueueUrl=u", "{\"QueueUrl\":\"u\"}");
    decodes_to("RemovePermission", "QueueUrl=u&Label=l", "{\"QueueUrl\":\"u\",\"Label\":\"l\"}");
    decodes_to("ListQueues", "", "{}");
}

static void test_decode_integers(void **state)
{
    (void)state;
    decodes_to("ReceiveMessage", "MaxNumberOfMessages=10&VisibilityTimeout=-1&WaitTimeSeconds=abc",
               "{\"MaxNumberOfMessages\":10,\"VisibilityTimeout\":-1,\"WaitTimeSeconds\":\"abc\"}");
    decodes_to("ReceiveMessage", "MaxNumberOfMessages=1.5&WaitTimeSeconds=&VisibilityTimeout=99999999999999999999",
               "{\"MaxNumberOfMessages\":\"1.5\",\"VisibilityTimeout\":\"99999999999999999999\","
               "\"WaitTimeSeconds\":\"\"}");
    decodes_to("ChangeMessageVisibility", "QueueUrl=u&ReceiptHandle=r&VisibilityTimeout=43200",
               "{\"QueueUrl\":\"u\",\"ReceiptHandle\":\"r\",\"VisibilityTimeout\":43200}");
    decodes_to("SendMessage", "QueueUrl=u&MessageBody=b&DelaySeconds=+5",
               "{\"QueueUrl\":\"u\",\"MessageBody\":\"b\",\"DelaySeconds\":\" 5\"}");
}

static void test_decode_queue_attributes_and_tags(void **state)
{
    (void)state;
    /* Sparse, unordered indices sort by value (2 < 10), not as text. */
    decodes_to("CreateQueue",
               "QueueName=q.fifo&Attribute.10.Name=FifoQueue&Attribute.10.Value=true"
               "&Attribute.2.Name=DelaySeconds&Attribute.2.Value=5&Tag.1.Key=team&Tag.1.Value=a+b"
               "&Tag.3.Key=env&Tag.3.Value=",
               "{\"QueueName\":\"q.fifo\",\"Attributes\":{\"DelaySeconds\":\"5\",\"FifoQueue\":\"true\"},"
               "\"tags\":{\"team\":\"a b\",\"env\":\"\"}}");
    decodes_to("SetQueueAttributes",
               "QueueUrl=u&Attribute.1.Name=VisibilityTimeout&Attribute.1.Value=60&Attribute.2.Name=Policy"
               "&Attribute.3.Value=orphan&Attribute.4.Name=VisibilityTimeout&Attribute.4.Value=90",
               "{\"QueueUrl\":\"u\",\"Attributes\":{\"Policy\":\"\",\"VisibilityTimeout\":\"90\"}}");
    decodes_to("TagQueue", "QueueUrl=u&Tag.1.Key=k1&Tag.1.Value=v1&Tag.2.Key=k2&Tag.2.Value=v2",
               "{\"QueueUrl\":\"u\",\"Tags\":{\"k1\":\"v1\",\"k2\":\"v2\"}}");
    decodes_to("UntagQueue", "QueueUrl=u&TagKey.2=b&TagKey.1=a", "{\"QueueUrl\":\"u\",\"TagKeys\":[\"a\",\"b\"]}");
}

static void test_decode_name_lists(void **state)
{
    (void)state;
    decodes_to("GetQueueAttributes", "QueueUrl=u&AttributeName.1=All",
               "{\"QueueUrl\":\"u\",\"AttributeNames\":[\"All\"]}");
    decodes_to("ReceiveMessage",
               "QueueUrl=u&AttributeName.2=SenderId&AttributeName.1=SentTimestamp"
               "&MessageSystemAttributeName.1=All&MessageAttributeName.1=bar.*&MessageAttributeName.2=All"
               "&ReceiveRequestAttemptId=try-1&AttributeName.x=ignored&AttributeName.3.extra=ignored",
               "{\"QueueUrl\":\"u\",\"AttributeNames\":[\"SentTimestamp\",\"SenderId\"],"
               "\"MessageSystemAttributeNames\":[\"All\"],\"MessageAttributeNames\":[\"bar.*\",\"All\"],"
               "\"ReceiveRequestAttemptId\":\"try-1\"}");
    decodes_to("AddPermission",
               "QueueUrl=u&Label=perm&AWSAccountId.1=111122223333&AWSAccountId.2=444455556666"
               "&ActionName.1=SendMessage&ActionName.2=ReceiveMessage",
               "{\"QueueUrl\":\"u\",\"Label\":\"perm\",\"AWSAccountIds\":[\"111122223333\",\"444455556666\"],"
               "\"Actions\":[\"SendMessage\",\"ReceiveMessage\"]}");
}

static void test_decode_message_attributes(void **state)
{
    (void)state;
    decodes_to("SendMessage",
               "Action=SendMessage&QueueUrl=u&MessageBody=hello"
               "&MessageAttribute.3.Name=bin&MessageAttribute.3.Value.DataType=Binary"
               "&MessageAttribute.3.Value.BinaryValue=a2VrY2hlYnVrZWs%3D"
               "&MessageAttribute.1.Name=attr1&MessageAttribute.1.Value.DataType=String"
               "&MessageAttribute.1.Value.StringValue=v"
               "&MessageSystemAttribute.1.Name=AWSTraceHeader&MessageSystemAttribute.1.Value.DataType=String"
               "&MessageSystemAttribute.1.Value.StringValue=Root%3D1-5759e988"
               "&MessageGroupId=g&MessageDeduplicationId=d",
               "{\"QueueUrl\":\"u\",\"MessageBody\":\"hello\","
               "\"MessageAttributes\":{\"attr1\":{\"DataType\":\"String\",\"StringValue\":\"v\"},"
               "\"bin\":{\"DataType\":\"Binary\",\"BinaryValue\":\"a2VrY2hlYnVrZWs=\"}},"
               "\"MessageSystemAttributes\":{\"AWSTraceHeader\":{\"DataType\":\"String\","
               "\"StringValue\":\"Root=1-5759e988\"}},"
               "\"MessageDeduplicationId\":\"d\",\"MessageGroupId\":\"g\"}");
    /* Reserved list values, a missing Name (kept as "" for validation to
     * reject), and a repeated name (both kept). */
    decodes_to("SendMessage",
               "MessageAttribute.1.Name=l&MessageAttribute.1.Value.DataType=String"
               "&MessageAttribute.1.Value.StringListValue.2=y&MessageAttribute.1.Value.StringListValue.1=x"
               "&MessageAttribute.2.Value.DataType=String&MessageAttribute.2.Value.StringValue=nameless"
               "&MessageAttribute.3.Name=l&MessageAttribute.3.Value.DataType=Number"
               "&MessageAttribute.3.Value.StringValue=1",
               "{\"MessageAttributes\":{\"l\":{\"DataType\":\"String\",\"StringListValues\":[\"x\",\"y\"]},"
               "\"\":{\"DataType\":\"String\",\"StringValue\":\"nameless\"},"
               "\"l\":{\"DataType\":\"Number\",\"StringValue\":\"1\"}}}");
}

static void test_decode_batches(void **state)
{
    (void)state;
    decodes_to("SendMessageBatch",
               "QueueUrl=u&SendMessageBatchRequestEntry.10.Id=ten&SendMessageBatchRequestEntry.10.MessageBody=b10"
               "&SendMessageBatchRequestEntry.2.Id=two&SendMessageBatchRequestEntry.2.MessageBody=b2"
               "&SendMessageBatchRequestEntry.2.DelaySeconds=3"
               "&SendMessageBatchRequestEntry.2.MessageAttribute.1.Name=a"
               "&SendMessageBatchRequestEntry.2.MessageAttribute.1.Value.DataType=Number"
               "&SendMessageBatchRequestEntry.2.MessageAttribute.1.Value.StringValue=1"
               "&SendMessageBatchRequestEntry.2.MessageSystemAttribute.1.Name=AWSTraceHeader"
               "&SendMessageBatchRequestEntry.2.MessageSystemAttribute.1.Value.DataType=String"
               "&SendMessageBatchRequestEntry.2.MessageSystemAttribute.1.Value.StringValue=t"
               "&SendMessageBatchRequestEntry.1.Id=one&SendMessageBatchRequestEntry.1.MessageBody=b1"
               "&SendMessageBatchRequestEntry.1.MessageGroupId=g&SendMessageBatchRequestEntry.1.DelaySeconds=x"
               "&SendMessageBatchRequestEntry.1.MessageDeduplicationId=d",
               "{\"QueueUrl\":\"u\",\"Entries\":["
               "{\"Id\":\"one\",\"MessageBody\":\"b1\",\"DelaySeconds\":\"x\",\"MessageDeduplicationId\":\"d\","
               "\"MessageGroupId\":\"g\"},"
               "{\"Id\":\"two\",\"MessageBody\":\"b2\",\"DelaySeconds\":3,"
               "\"MessageAttributes\":{\"a\":{\"DataType\":\"Number\",\"StringValue\":\"1\"}},"
               "\"MessageSystemAttributes\":{\"AWSTraceHeader\":{\"DataType\":\"String\",\"StringValue\":\"t\"}}},"
               "{\"Id\":\"ten\",\"MessageBody\":\"b10\"}]}");
    decodes_to("DeleteMessageBatch",
               "QueueUrl=u&DeleteMessageBatchRequestEntry.1.Id=a&DeleteMessageBatchRequestEntry.1.ReceiptHandle=r1"
               "&DeleteMessageBatchRequestEntry.2.Id=b&DeleteMessageBatchRequestEntry.2.ReceiptHandle=r2",
               "{\"QueueUrl\":\"u\",\"Entries\":[{\"Id\":\"a\",\"ReceiptHandle\":\"r1\"},"
               "{\"Id\":\"b\",\"ReceiptHandle\":\"r2\"}]}");
    decodes_to("ChangeMessageVisibilityBatch",
               "QueueUrl=u&ChangeMessageVisibilityBatchRequestEntry.1.Id=a"
               "&ChangeMessageVisibilityBatchRequestEntry.1.ReceiptHandle=r1"
               "&ChangeMessageVisibilityBatchRequestEntry.1.VisibilityTimeout=0",
               "{\"QueueUrl\":\"u\",\"Entries\":[{\"Id\":\"a\",\"ReceiptHandle\":\"r1\",\"VisibilityTimeout\":0}]}");
    /* An entry index with only unknown members still counts as an entry. */
    decodes_to("DeleteMessageBatch", "QueueUrl=u&DeleteMessageBatchRequestEntry.1.Bogus=x",
               "{\"QueueUrl\":\"u\",\"Entries\":[{}]}");
}

/* botocore sends an empty list as the bare member name. */
static void test_decode_empty_collections(void **state)
{
    (void)state;
    decodes_to("SendMessageBatch", "QueueUrl=u&Entries=", "{\"QueueUrl\":\"u\",\"Entries\":[]}");
    decodes_to("DeleteMessageBatch", "QueueUrl=u&DeleteMessageBatchRequestEntry=",
               "{\"QueueUrl\":\"u\",\"Entries\":[]}");
    decodes_to("GetQueueAttributes", "QueueUrl=u&AttributeNames=",
               "{\"QueueUrl\":\"u\",\"AttributeNames\":[]}");
    decodes_to("SendMessageBatch", "QueueUrl=u", "{\"QueueUrl\":\"u\"}");
}

static void test_decode_move_tasks(void **state)
{
    (void)state;
    decodes_to("StartMessageMoveTask",
               "SourceArn=arn%3Aaws%3Asqs%3Aus-east-1%3A1%3Adlq&DestinationArn=arn%3Ad&MaxNumberOfMessagesPerSecond=50",
               "{\"SourceArn\":\"arn:aws:sqs:us-east-1:1:dlq\",\"DestinationArn\":\"arn:d\","
               "\"MaxNumberOfMessagesPerSecond\":50}");
    decodes_to("ListMessageMoveTasks", "SourceArn=s&MaxResults=10", "{\"SourceArn\":\"s\",\"MaxResults\":10}");
    decodes_to("CancelMessageMoveTask", "TaskHandle=h", "{\"TaskHandle\":\"h\"}");
}

static void test_decode_unknown_action(void **state)
{
    (void)state;
    form_t *f = form_parse("", 0);
    cJSON *out = (cJSON *)1;
    err_t err = {0};
    assert_int_equal(sqs_wire_query_decode("FooBar", f, &out, &err), -1);
    assert_null(out);
    assert_int_equal(err.code, ERR_INVALID_ACTION);
    assert_string_equal(err.message, "The action FooBar is not valid for this endpoint.");
    form_free(f);
}

/* Many indexed fields, unordered: all decoded, in index order (and the
 * decoder stays O(n log n), so this runs in milliseconds). */
static void test_decode_many_fields(void **state)
{
    (void)state;
    enum { N = 20000 };
    char *text = malloc((size_t)N * 48);
    size_t off = 0;
    for (int i = N; i >= 1; i--)
        off += (size_t)sprintf(text + off, "%sTag.%d.Key=k%d&Tag.%d.Value=v", i == N ? "" : "&", i, i, i);
    form_t *f = form_parse(text, off);
    cJSON *out = NULL;
    err_t err = {0};
    assert_int_equal(sqs_wire_query_decode("TagQueue", f, &out, &err), 0);
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(out, "Tags");
    assert_int_equal(cJSON_GetArraySize(tags), N);
    assert_string_equal(tags->child->string, "k1");
    assert_string_equal(tags->child->next->string, "k2");
    cJSON_Delete(out);
    form_free(f);
    free(text);
}

/* ---- rendering ---- */

#define HEAD "<?xml version=\"1.0\"?>"
#define NS " xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\""
#define META "<ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata>"

static void renders_to(const char *action, const char *result_json, const char *want)
{
    cJSON *result = result_json ? cJSON_Parse(result_json) : NULL;
    if (result_json)
        assert_non_null(result);
    size_t len = 0;
    char *xml = sqs_wire_query_render(action, result, "req-1", &len);
    assert_string_equal(xml, want);
    assert_int_equal(len, strlen(want));
    free(xml);
    cJSON_Delete(result);
}

static void test_render_receive(void **state)
{
    (void)state;
    renders_to("ReceiveMessage",
               "{\"Messages\":[{\"MessageId\":\"m1\",\"ReceiptHandle\":\"rh\",\"MD5OfBody\":\"x\","
               "\"Body\":\"<a href='x'>&\\\"</a>\\r\\n\",\"Attributes\":{\"SenderId\":\"AIDA\","
               "\"SentTimestamp\":\"1700000000000\"},\"MD5OfMessageAttributes\":\"y\","
               "\"MessageAttributes\":{\"attr1\":{\"StringValue\":\"v\",\"DataType\":\"String\"},"
               "\"bin\":{\"BinaryValue\":\"Zm9v\",\"DataType\":\"Binary\"}}},"
               "{\"MessageId\":\"m2\",\"ReceiptHandle\":\"rh2\",\"MD5OfBody\":\"z\",\"Body\":\"b\"}]}",
               HEAD "<ReceiveMessageResponse" NS "><ReceiveMessageResult>"
                    "<Message><MessageId>m1</MessageId><ReceiptHandle>rh</ReceiptHandle><MD5OfBody>x</MD5OfBody>"
                    "<Body>&lt;a href=&apos;x&apos;&gt;&amp;&quot;&lt;/a&gt;&#xD;\n</Body>"
                    "<Attribute><Name>SenderId</Name><Value>AIDA</Value></Attribute>"
                    "<Attribute><Name>SentTimestamp</Name><Value>1700000000000</Value></Attribute>"
                    "<MD5OfMessageAttributes>y</MD5OfMessageAttributes>"
                    "<MessageAttribute><Name>attr1</Name><Value><StringValue>v</StringValue>"
                    "<DataType>String</DataType></Value></MessageAttribute>"
                    "<MessageAttribute><Name>bin</Name><Value><BinaryValue>Zm9v</BinaryValue>"
                    "<DataType>Binary</DataType></Value></MessageAttribute></Message>"
                    "<Message><MessageId>m2</MessageId><ReceiptHandle>rh2</ReceiptHandle><MD5OfBody>z</MD5OfBody>"
                    "<Body>b</Body></Message>"
                    "</ReceiveMessageResult>" META "</ReceiveMessageResponse>");
    renders_to("ReceiveMessage", "{}",
               HEAD "<ReceiveMessageResponse" NS "><ReceiveMessageResult/>" META "</ReceiveMessageResponse>");
    renders_to("ReceiveMessage", NULL,
               HEAD "<ReceiveMessageResponse" NS "><ReceiveMessageResult/>" META "</ReceiveMessageResponse>");
}

static void test_render_send(void **state)
{
    (void)state;
    renders_to("SendMessage",
               "{\"MessageId\":\"id\",\"MD5OfMessageBody\":\"5d41402abc4b2a76b9719d911017c592\","
               "\"MD5OfMessageAttributes\":\"5d7451cdb6bb563786f0f121888def84\",\"Unmodelled\":\"dropped\"}",
               HEAD "<SendMessageResponse" NS "><SendMessageResult>"
                    "<MD5OfMessageBody>5d41402abc4b2a76b9719d911017c592</MD5OfMessageBody>"
                    "<MD5OfMessageAttributes>5d7451cdb6bb563786f0f121888def84</MD5OfMessageAttributes>"
                    "<MessageId>id</MessageId></SendMessageResult>" META "</SendMessageResponse>");
    renders_to("SendMessageBatch",
               "{\"Successful\":[{\"Id\":\"a\",\"MessageId\":\"m\",\"MD5OfMessageBody\":\"0cc1\","
               "\"SequenceNumber\":\"100\"}],"
               "\"Failed\":[{\"Id\":\"b\",\"SenderFault\":true,\"Code\":\"InvalidMessageContents\","
               "\"Message\":\"Invalid characters found.\"},{\"Id\":\"c\",\"SenderFault\":false,"
               "\"Code\":\"InternalError\",\"Message\":\"x\"}]}",
               HEAD "<SendMessageBatchResponse" NS "><SendMessageBatchResult>"
                    "<SendMessageBatchResultEntry><Id>a</Id><MessageId>m</MessageId>"
                    "<MD5OfMessageBody>0cc1</MD5OfMessageBody><SequenceNumber>100</SequenceNumber>"
                    "</SendMessageBatchResultEntry>"
                    "<BatchResultErrorEntry><Id>b</Id><SenderFault>true</SenderFault>"
                    "<Code>InvalidMessageContents</Code><Message>Invalid characters found.</Message>"
                    "</BatchResultErrorEntry>"
                    "<BatchResultErrorEntry><Id>c</Id><SenderFault>false</SenderFault>"
                    "<Code>InternalError</Code><Message>x</Message></BatchResultErrorEntry>"
                    "</SendMessageBatchResult>" META "</SendMessageBatchResponse>");
    renders_to("DeleteMessageBatch", "{\"Successful\":[{\"Id\":\"a\"},{\"Id\":\"b\"}]}",
               HEAD "<DeleteMessageBatchResponse" NS "><DeleteMessageBatchResult>"
                    "<DeleteMessageBatchResultEntry><Id>a</Id></DeleteMessageBatchResultEntry>"
                    "<DeleteMessageBatchResultEntry><Id>b</Id></DeleteMessageBatchResultEntry>"
                    "</DeleteMessageBatchResult>" META "</DeleteMessageBatchResponse>");
    renders_to("ChangeMessageVisibilityBatch", "{\"Successful\":[{\"Id\":\"a\"}],\"Failed\":[]}",
               HEAD "<ChangeMessageVisibilityBatchResponse" NS "><ChangeMessageVisibilityBatchResult>"
                    "<ChangeMessageVisibilityBatchResultEntry><Id>a</Id></ChangeMessageVisibilityBatchResultEntry>"
                    "</ChangeMessageVisibilityBatchResult>" META "</ChangeMessageVisibilityBatchResponse>");
}

static void test_render_queue_results(void **state)
{
    (void)state;
    renders_to("GetQueueAttributes",
               "{\"Attributes\":{\"VisibilityTimeout\":\"30\",\"Policy\":\"{\\\"a\\\":1}\"}}",
               HEAD "<GetQueueAttributesResponse" NS "><GetQueueAttributesResult>"
                    "<Attribute><Name>VisibilityTimeout</Name><Value>30</Value></Attribute>"
                    "<Attribute><Name>Policy</Name><Value>{&quot;a&quot;:1}</Value></Attribute>"
                    "</GetQueueAttributesResult>" META "</GetQueueAttributesResponse>");
    renders_to("ListQueues", "{\"QueueUrls\":[\"http://h/1/a\",\"http://h/1/b\"],\"NextToken\":\"t\"}",
               HEAD "<ListQueuesResponse" NS "><ListQueuesResult><QueueUrl>http://h/1/a</QueueUrl>"
                    "<QueueUrl>http://h/1/b</QueueUrl><NextToken>t</NextToken></ListQueuesResult>" META
                    "</ListQueuesResponse>");
    renders_to("ListQueues", "{}", HEAD "<ListQueuesResponse" NS "><ListQueuesResult/>" META "</ListQueuesResponse>");
    renders_to("ListDeadLetterSourceQueues", "{\"queueUrls\":[\"http://h/1/src\"]}",
               HEAD "<ListDeadLetterSourceQueuesResponse" NS "><ListDeadLetterSourceQueuesResult>"
                    "<QueueUrl>http://h/1/src</QueueUrl></ListDeadLetterSourceQueuesResult>" META
                    "</ListDeadLetterSourceQueuesResponse>");
    renders_to("ListQueueTags", "{\"Tags\":{\"team\":\"a&b\"}}",
               HEAD "<ListQueueTagsResponse" NS "><ListQueueTagsResult><Tag><Key>team</Key><Value>a&amp;b</Value>"
                    "</Tag></ListQueueTagsResult>" META "</ListQueueTagsResponse>");
    renders_to("CreateQueue", "{\"QueueUrl\":\"http://h/1/q\"}",
               HEAD "<CreateQueueResponse" NS "><CreateQueueResult><QueueUrl>http://h/1/q</QueueUrl>"
                    "</CreateQueueResult>" META "</CreateQueueResponse>");
    renders_to("GetQueueUrl", "{\"QueueUrl\":\"http://h/1/q\"}",
               HEAD "<GetQueueUrlResponse" NS "><GetQueueUrlResult><QueueUrl>http://h/1/q</QueueUrl>"
                    "</GetQueueUrlResult>" META "</GetQueueUrlResponse>");
}

static void test_render_no_output(void **state)
{
    (void)state;
    const char *actions[] = {"DeleteMessage", "DeleteQueue",    "SetQueueAttributes", "PurgeQueue",
                             "TagQueue",      "UntagQueue",     "AddPermission",      "RemovePermission",
                             "ChangeMessageVisibility"};
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++) {
        char want[512];
        snprintf(want, sizeof want, HEAD "<%sResponse" NS ">" META "</%sResponse>", actions[i], actions[i]);
        renders_to(actions[i], "{}", want);
        renders_to(actions[i], NULL, want);
    }
}

static void test_render_move_tasks(void **state)
{
    (void)state;
    renders_to("ListMessageMoveTasks",
               "{\"Results\":[{\"TaskHandle\":\"h\",\"Status\":\"RUNNING\",\"SourceArn\":\"s\","
               "\"MaxNumberOfMessagesPerSecond\":50,\"ApproximateNumberOfMessagesMoved\":3,"
               "\"ApproximateNumberOfMessagesToMove\":10,\"StartedTimestamp\":1700000000123}]}",
               HEAD "<ListMessageMoveTasksResponse" NS "><ListMessageMoveTasksResult>"
                    "<ListMessageMoveTasksResultEntry><TaskHandle>h</TaskHandle><Status>RUNNING</Status>"
                    "<SourceArn>s</SourceArn><MaxNumberOfMessagesPerSecond>50</MaxNumberOfMessagesPerSecond>"
                    "<ApproximateNumberOfMessagesMoved>3</ApproximateNumberOfMessagesMoved>"
                    "<ApproximateNumberOfMessagesToMove>10</ApproximateNumberOfMessagesToMove>"
                    "<StartedTimestamp>1700000000123</StartedTimestamp></ListMessageMoveTasksResultEntry>"
                    "</ListMessageMoveTasksResult>" META "</ListMessageMoveTasksResponse>");
    renders_to("StartMessageMoveTask", "{\"TaskHandle\":\"h\"}",
               HEAD "<StartMessageMoveTaskResponse" NS "><StartMessageMoveTaskResult><TaskHandle>h</TaskHandle>"
                    "</StartMessageMoveTaskResult>" META "</StartMessageMoveTaskResponse>");
    renders_to("CancelMessageMoveTask", "{\"ApproximateNumberOfMessagesMoved\":0}",
               HEAD "<CancelMessageMoveTaskResponse" NS "><CancelMessageMoveTaskResult>"
                    "<ApproximateNumberOfMessagesMoved>0</ApproximateNumberOfMessagesMoved>"
                    "</CancelMessageMoveTaskResult>" META "</CancelMessageMoveTaskResponse>");
}

static void error_renders_to(err_code_t code, const char *message, const char *want)
{
    err_t err = {.code = code};
    snprintf(err.message, sizeof err.message, "%s", message);
    size_t len = 0;
    char *xml = sqs_wire_query_render_error(&err, "df993f7a-568d-5d4e-8321-64c38086c998", &len);
    assert_string_equal(xml, want);
    assert_int_equal(len, strlen(want));
    free(xml);
}

#define EHEAD HEAD "<ErrorResponse" NS "><Error>"
#define ETAIL "<Detail/></Error><RequestId>df993f7a-568d-5d4e-8321-64c38086c998</RequestId></ErrorResponse>"

static void test_render_errors(void **state)
{
    (void)state;
    /* The real AWS body quoted in rpcpool/solana-accountsdb-sqs#46. */
    error_renders_to(ERR_INVALID_PARAMETER_VALUE, "The request must contain the parameter MessageGroupId.",
                     EHEAD "<Type>Sender</Type><Code>InvalidParameterValue</Code>"
                           "<Message>The request must contain the parameter MessageGroupId.</Message>" ETAIL);
    /* The JSON default becomes the query wording. */
    error_renders_to(ERR_QUEUE_DOES_NOT_EXIST, "The specified queue does not exist.",
                     EHEAD "<Type>Sender</Type><Code>AWS.SimpleQueueService.NonExistentQueue</Code>"
                           "<Message>The specified queue does not exist for this wsdl version.</Message>" ETAIL);
    error_renders_to(ERR_QUEUE_DOES_NOT_EXIST, "",
                     EHEAD "<Type>Sender</Type><Code>AWS.SimpleQueueService.NonExistentQueue</Code>"
                           "<Message>The specified queue does not exist for this wsdl version.</Message>" ETAIL);
    error_renders_to(ERR_PURGE_QUEUE_IN_PROGRESS, "Only one PurgeQueue operation on q is allowed every 60 seconds.",
                     EHEAD "<Type>Sender</Type><Code>AWS.SimpleQueueService.PurgeQueueInProgress</Code>"
                           "<Message>Only one PurgeQueue operation on q is allowed every 60 seconds.</Message>" ETAIL);
    error_renders_to(ERR_RECEIPT_HANDLE_IS_INVALID, "The input receipt handle \"<g&'>\" is not a valid receipt handle.",
                     EHEAD "<Type>Sender</Type><Code>ReceiptHandleIsInvalid</Code>"
                           "<Message>The input receipt handle &quot;&lt;g&amp;&apos;&gt;&quot; is not a valid "
                           "receipt handle.</Message>" ETAIL);
    error_renders_to(ERR_INTERNAL, "",
                     EHEAD "<Type>Receiver</Type><Code>InternalError</Code>"
                           "<Message>We encountered an internal error. Please try again.</Message>" ETAIL);
    error_renders_to(ERR_INVALID_ACTION, "The action FooBar is not valid for this endpoint.",
                     EHEAD "<Type>Sender</Type><Code>InvalidAction</Code>"
                           "<Message>The action FooBar is not valid for this endpoint.</Message>" ETAIL);
}

/* Decode then render a round trip the way the endpoint will. */
static void test_round_trip_shapes(void **state)
{
    (void)state;
    const char *text = "Action=GetQueueAttributes&QueueUrl=u&AttributeName.1=All";
    form_t *f = form_parse(text, strlen(text));
    cJSON *params = NULL;
    err_t err = {0};
    assert_int_equal(sqs_wire_query_decode(form_get(f, "Action"), f, &params, &err), 0);
    cJSON *names = cJSON_GetObjectItemCaseSensitive(params, "AttributeNames");
    assert_true(cJSON_IsArray(names));
    assert_string_equal(cJSON_GetArrayItem(names, 0)->valuestring, "All");
    char *xml = sqs_wire_query_render("GetQueueAttributes", NULL, NULL, NULL);
    assert_string_equal(xml, HEAD "<GetQueueAttributesResponse" NS "><GetQueueAttributesResult/>"
                                  "<ResponseMetadata><RequestId></RequestId></ResponseMetadata>"
                                  "</GetQueueAttributesResponse>");
    free(xml);
    cJSON_Delete(params);
    form_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_scalars_and_ignored),
        cmocka_unit_test(test_decode_integers),
        cmocka_unit_test(test_decode_queue_attributes_and_tags),
        cmocka_unit_test(test_decode_name_lists),
        cmocka_unit_test(test_decode_message_attributes),
        cmocka_unit_test(test_decode_batches),
        cmocka_unit_test(test_decode_empty_collections),
        cmocka_unit_test(test_decode_move_tasks),
        cmocka_unit_test(test_decode_unknown_action),
        cmocka_unit_test(test_decode_many_fields),
        cmocka_unit_test(test_render_receive),
        cmocka_unit_test(test_render_send),
        cmocka_unit_test(test_render_queue_results),
        cmocka_unit_test(test_render_no_output),
        cmocka_unit_test(test_render_move_tasks),
        cmocka_unit_test(test_render_errors),
        cmocka_unit_test(test_round_trip_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
