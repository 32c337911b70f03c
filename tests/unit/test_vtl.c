/* Mapping templates: AWS's documented examples (the SQS request and
 * response templates, the $input/$util reference pages), each $util
 * function at its edges, Velocity's directives, operators, references and
 * whitespace rules, and every class of error with its line and column. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "apigw/vtl.h"

/* ---------------------------------------------------------------- helpers */

typedef struct {
    vtl_input_t in;
    cJSON *path, *qs, *hdr, *ctx, *sv;
} fx_t;

static cJSON *parse_or_null(const char *json)
{
    if (!json)
        return NULL;
    cJSON *j = cJSON_Parse(json);
    assert_non_null(j);
    return j;
}

static void fx_init(fx_t *f, const char *body, const char *path, const char *qs, const char *hdr, const char *ctx,
                    const char *sv)
{
    memset(f, 0, sizeof(*f));
    f->path = parse_or_null(path);
    f->qs = parse_or_null(qs);
    f->hdr = parse_or_null(hdr);
    f->ctx = parse_or_null(ctx);
    f->sv = parse_or_null(sv);
    f->in.body = body;
    f->in.body_len = body ? strlen(body) : 0;
    f->in.path = f->path;
    f->in.querystring = f->qs;
    f->in.header = f->hdr;
    f->in.context = f->ctx;
    f->in.stage_variables = f->sv;
}

static void fx_free(fx_t *f)
{
    cJSON_Delete(f->path);
    cJSON_Delete(f->qs);
    cJSON_Delete(f->hdr);
    cJSON_Delete(f->ctx);
    cJSON_Delete(f->sv);
}

static fx_t body_only(const char *body)
{
    fx_t f;
    fx_init(&f, body, NULL, NULL, NULL, NULL, NULL);
    return f;
}

static void check_render(const vtl_input_t *in, const char *tmpl, const char *want, int line)
{
    char err[256] = "";
    char *out = vtl_render(tmpl, in, err, sizeof err);
    if (!out)
        fail_msg("line %d: render failed: %s\n  template: %s", line, err, tmpl);
    if (strcmp(out, want) != 0) {
        print_error("line %d: template: %s\n  want: [%s]\n  got:  [%s]\n", line, tmpl, want, out);
        free(out);
        fail();
    }
    free(out);
}

static void check_error(const vtl_input_t *in, const char *tmpl, const char *want, int line)
{
    char err[256] = "";
    char *out = vtl_render(tmpl, in, err, sizeof err);
    if (out) {
        print_error("line %d: template: %s\n  rendered [%s], want error [%s]\n", line, tmpl, out, want);
        free(out);
        fail();
    }
    if (strcmp(err, want) != 0)
        fail_msg("line %d: template: %s\n  want error: [%s]\n  got error:  [%s]", line, tmpl, want, err);
}

#define RENDER(in, tmpl, want) check_render((in), (tmpl), (want), __LINE__)
#define RENDER_ERR(in, tmpl, want) check_error((in), (tmpl), (want), __LINE__)
/* Templates that need no input. */
#define R(tmpl, want) check_render(NULL, (tmpl), (want), __LINE__)
#define ERR(tmpl, want) check_error(NULL, (tmpl), (want), __LINE__)

static const char *SEND_RESPONSE =
    "{\"SendMessageResponse\":{\"ResponseMetadata\":{\"RequestId\":\"2e75dac6-4f87-52ab-8fa4-8615640b84f4\"},"
    "\"SendMessageResult\":{\"MD5OfMessageAttributes\":null,\"MD5OfMessageBody\":\"0d7ac2dec5f281678f65dcf7fe4681ba\","
    "\"MD5OfMessageSystemAttributes\":null,\"MessageId\":\"9d72cd66-5aaf-4c0f-8f03-8fc96b7a45e1\",\"SequenceNumber\":null}}}";

/* ------------------------------------------------ AWS's documented examples */

static void test_sqs_request_template(void **state)
{
    (void)state;
    fx_t f = body_only("{\"order\": \"a&b=c d+e%\", \"qty\": 2}");
    /* apigw.md §1.1: the brief's template and the URL-encoded one AWS samples use */
    RENDER(&f.in, "Action=SendMessage&MessageBody=$input.body",
           "Action=SendMessage&MessageBody={\"order\": \"a&b=c d+e%\", \"qty\": 2}");
    RENDER(&f.in, "Action=SendMessage&MessageBody=$util.urlEncode($input.body)",
           "Action=SendMessage&MessageBody=%7B%22order%22%3A+%22a%26b%3Dc+d%2Be%25%22%2C+%22qty%22%3A+2%7D");
    fx_free(&f);

    /* An empty body reads as "{}" on AWS (LocalStack's AWS-validated snapshot) */
    f = body_only("");
    RENDER(&f.in, "Action=SendMessage&MessageBody=$util.urlEncode($input.body)",
           "Action=SendMessage&MessageBody=%7B%7D");
    fx_free(&f);
}

static void test_sqs_request_with_queue_url(void **state)
{
    (void)state;
    fx_t f = body_only("hello world");
    /* "##" ends a line and takes its newline: the old how-to's line joiner */
    RENDER(&f.in,
           "Action=SendMessage##\n"
           "&QueueUrl=$util.urlEncode('https://sqs.us-east-1.amazonaws.com/000000000000/orders')##\n"
           "&MessageBody=$util.urlEncode($input.body)",
           "Action=SendMessage&QueueUrl=https%3A%2F%2Fsqs.us-east-1.amazonaws.com%2F000000000000%2Forders"
           "&MessageBody=hello+world");
    fx_free(&f);
}

static void test_sqs_message_attributes(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, "hi", NULL, NULL, "{\"headerfoo\": \"bar baz\", \"User-Agent\": \"curl/8\"}", NULL, NULL);
    /* LocalStack's AWS-validated template; header lookups ignore case */
    RENDER(&f.in,
           "Action=SendMessage&MessageBody=$input.body"
           "&MessageAttribute.1.Name=user-agent&MessageAttribute.1.Value.DataType=String"
           "&MessageAttribute.1.Value.StringValue=$input.params('HeaderFoo')",
           "Action=SendMessage&MessageBody=hi&MessageAttribute.1.Name=user-agent"
           "&MessageAttribute.1.Value.DataType=String&MessageAttribute.1.Value.StringValue=bar baz");
    fx_free(&f);
}

static void test_sqs_json_protocol_template(void **state)
{
    (void)state;
    fx_t f = body_only("{\"note\": \"it's \\\"quoted\\\"\\nnext\"}");
    char err[256];
    /* the docs' advice: escapeJavaScript, then put single quotes back for JSON */
    char *out = vtl_render("{\"QueueUrl\": \"http://localhost/000000000000/q\", "
                           "\"MessageBody\": \"$util.escapeJavaScript($input.body).replaceAll(\"\\\\'\",\"'\")\"}",
                           &f.in, err, sizeof err);
    assert_non_null(out);
    cJSON *j = cJSON_Parse(out);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "MessageBody")->valuestring, f.in.body);
    cJSON_Delete(j);
    free(out);
    fx_free(&f);
}

static void test_sqs_response_template(void **state)
{
    (void)state;
    fx_t f = body_only(SEND_RESPONSE);
    RENDER(&f.in,
           "#set($responseBody = $input.path('$.SendMessageResponse'))\n"
           "#set($requestId = $input.path('$.SendMessageResponse.ResponseMetadata.RequestId'))\n"
           "#set($messageId = $responseBody.SendMessageResult.MessageId)\n"
           "{\"requestId\": \"$requestId\", \"messageId\": \"$messageId\"}",
           "{\"requestId\": \"2e75dac6-4f87-52ab-8fa4-8615640b84f4\", "
           "\"messageId\": \"9d72cd66-5aaf-4c0f-8f03-8fc96b7a45e1\"}");
    /* the passthrough body, re-emitted by the identity template */
    RENDER(&f.in, "$input.json('$')", SEND_RESPONSE);
    fx_free(&f);
}

static void test_input_root_foreach_json(void **state)
{
    (void)state;
    fx_t f = body_only("{\"items\": [{\"id\": 1, \"name\": \"a\\\"b\", \"price\": 249.99},"
                       " {\"id\": 2, \"name\": \"c\", \"price\": 0.5}, {\"id\": 3, \"name\": \"d\", \"price\": 10}]}");
    const char *tmpl = "#set($inputRoot = $input.path('$'))\n"
                       "{\n"
                       "  \"items\": [\n"
                       "#foreach($elem in $inputRoot.items)\n"
                       "    {\n"
                       "      \"id\": $elem.id,\n"
                       "      \"name\": \"$util.escapeJavaScript($elem.name)\",\n"
                       "      \"price\": $elem.price\n"
                       "    }#if($foreach.hasNext),#end\n"
                       "\n"
                       "#end\n"
                       "  ]\n"
                       "}\n";
    RENDER(&f.in, tmpl,
           "{\n"
           "  \"items\": [\n"
           "    {\n"
           "      \"id\": 1,\n"
           "      \"name\": \"a\\\"b\",\n"
           "      \"price\": 249.99\n"
           "    },\n"
           "\n"
           "    {\n"
           "      \"id\": 2,\n"
           "      \"name\": \"c\",\n"
           "      \"price\": 0.5\n"
           "    },\n"
           "\n"
           "    {\n"
           "      \"id\": 3,\n"
           "      \"name\": \"d\",\n"
           "      \"price\": 10\n"
           "    }\n"
           "\n"
           "  ]\n"
           "}\n");
    char err[256];
    char *out = vtl_render(tmpl, &f.in, err, sizeof err);
    cJSON *j = cJSON_Parse(out);
    assert_non_null(j);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "items")), 3);
    cJSON_Delete(j);
    free(out);
    fx_free(&f);
}

static void test_aws_all_params_example(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, "{}", "{\"id\": \"abc\"}", "{\"q\": \"x y\", \"n\": \"1\"}",
            "{\"Accept\": \"*/*\", \"X-Quote\": \"say \\\"hi\\\"\"}", NULL, NULL);
    /* api-gateway-mapping-template-reference.md, "Parameter Mapping Template Example" */
    const char *tmpl = "#set($allParams = $input.params())\n"
                       "{\n"
                       "  \"params\" : {\n"
                       "    #foreach($type in $allParams.keySet())\n"
                       "    #set($params = $allParams.get($type))\n"
                       "    \"$type\" : {\n"
                       "      #foreach($paramName in $params.keySet())\n"
                       "      \"$paramName\" : \"$util.escapeJavaScript($params.get($paramName))\"\n"
                       "      #if($foreach.hasNext),#end\n"
                       "      #end\n"
                       "    }\n"
                       "    #if($foreach.hasNext),#end\n"
                       "    #end\n"
                       "  }\n"
                       "}\n";
    char err[256];
    char *out = vtl_render(tmpl, &f.in, err, sizeof err);
    assert_non_null(out);
    cJSON *j = cJSON_Parse(out);
    if (!j)
        fail_msg("not JSON:\n%s", out);
    cJSON *params = cJSON_GetObjectItem(j, "params");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(params, "path"), "id")->valuestring, "abc");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(params, "querystring"), "q")->valuestring, "x y");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(params, "header"), "X-Quote")->valuestring,
                        "say \"hi\"");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(params, "header"), "Accept")->valuestring, "*/*");
    cJSON_Delete(j);
    free(out);
    fx_free(&f);
}

static void test_aws_things_and_parse_json_examples(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, "{\"things\": {\"1\": {}, \"2\": {}, \"3\": {}}}", "{\"id\": \"abc\"}", NULL, NULL, NULL, NULL);
    /* "Example Request and Response Using $input" */
    RENDER(&f.in,
           "{\n"
           "    \"id\" : \"$input.params('id')\",\n"
           "    \"count\" : \"$input.path('$.things').size()\",\n"
           "    \"things\" : $input.json('$.things')\n"
           "}",
           "{\n"
           "    \"id\" : \"abc\",\n"
           "    \"count\" : \"3\",\n"
           "    \"things\" : {\"1\":{},\"2\":{},\"3\":{}}\n"
           "}");
    fx_free(&f);

    /* the $util.parseJson() example, "#set (" with a space included */
    f = body_only("{\"errorMessage\":\"{\\\"key1\\\":\\\"var1\\\",\\\"key2\\\":{\\\"arr\\\":[1,2,3]}}\"}");
    RENDER(&f.in,
           "#set ($errorMessageObj = $util.parseJson($input.path('$.errorMessage')))\n"
           "{\n"
           "   \"errorMessageObjKey2ArrVal\" : $errorMessageObj.key2.arr[0]\n"
           "}\n",
           "{\n"
           "   \"errorMessageObjKey2ArrVal\" : 1\n"
           "}\n");
    fx_free(&f);
}

/* ------------------------------------------------------------------ $util */

static void test_util_escape_javascript(void **state)
{
    (void)state;
    fx_t f = body_only("say \"hi\" \\ it's\n\ta\rb\x01\x1f/\x7f"
                       "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    RENDER(&f.in, "$util.escapeJavaScript($input.body)",
           "say \\\"hi\\\" \\\\ it\\'s\\n\\ta\\rb\\u0001\\u001F\\/\x7f"
           "caf\\u00E9 \\u20AC \\uD83D\\uDE00");
    /* the documented fix-up for JSON */
    RENDER(&f.in, "$util.escapeJavaScript(\"it's\").replaceAll(\"\\\\'\",\"'\")", "it's");
    fx_free(&f);
    R("[$util.escapeJavaScript('')]", "[]");
    R("$util.escapeJavaScript(42)", "42");
    R("$util.escapeJavaScript([\"a\"])", "[\\\"a\\\"]");
    R("$!util.escapeJavaScript($nothing)", "");
    R("$util.escapeJavaScript($nothing)", "$util.escapeJavaScript($nothing)");
}

static void test_util_url_encode(void **state)
{
    (void)state;
    fx_t f = body_only("a+b&c=d e/f?g#h%i*j~k.l-m_n\"o'p\ncaf\xc3\xa9");
    RENDER(&f.in, "$util.urlEncode($input.body)",
           "a%2Bb%26c%3Dd+e%2Ff%3Fg%23h%25i*j%7Ek.l-m_n%22o%27p%0Acaf%C3%A9");
    RENDER(&f.in, "$util.urlDecode($util.urlEncode($input.body))", f.in.body);
    fx_free(&f);
    R("[$util.urlEncode('')]", "[]");
    R("$util.urlEncode('AZaz09')", "AZaz09");
}

static void test_util_url_decode(void **state)
{
    (void)state;
    R("$util.urlDecode('a+b%26c%3Dd%2b%C3%a9')", "a b&c=d+\xc3\xa9");
    R("$util.urlDecode('plain')", "plain");
    /* bytes that are not UTF-8 become U+FFFD, as in Java */
    R("$util.urlDecode('%FF')", "\xef\xbf\xbd");
    ERR("x $util.urlDecode('100%')", "line 1, column 9: $util.urlDecode: malformed %-escape");
    ERR("$util.urlDecode('%zz')", "line 1, column 7: $util.urlDecode: malformed %-escape");
}

static void test_util_base64(void **state)
{
    (void)state;
    R("$util.base64Encode('hello')", "aGVsbG8=");
    R("$util.base64Encode('h\xc3\xa9')", "aMOp");
    R("$util.base64Encode('a+b/c?')", "YStiL2M/");
    R("[$util.base64Encode('')]", "[]");
    R("$util.base64Decode('aGVsbG8=')", "hello");
    R("$util.base64Decode($util.base64Encode('caf\xc3\xa9 \xf0\x9f\x98\x80 \"x\"\n'))",
      "caf\xc3\xa9 \xf0\x9f\x98\x80 \"x\"\n");
    fx_t f = body_only("{\"b\": \"eyJrIjogWzEsIDJdfQ==\"}");
    RENDER(&f.in, "$util.parseJson($util.base64Decode($input.path('$.b'))).k[1]", "2");
    fx_free(&f);
    ERR("$util.base64Decode('not base64!')", "line 1, column 7: $util.base64Decode: not base64");
}

static void test_util_parse_json(void **state)
{
    (void)state;
    R("#set($o = $util.parseJson('{\"a\": {\"b\": [true, null, \"x\"]}}'))$o.a.b[0] $o.a.b[2] $o.a.get('b').size()",
      "true x 3");
    R("$util.parseJson('[1, 2.5, \"s\"]')", "[1,2.5,\"s\"]");
    R("$util.parseJson('\"just a string\"')", "just a string");
    R("$!util.parseJson('null')", "");
    ERR("\n  $util.parseJson('{\"a\": ')", "line 2, column 9: $util.parseJson: not valid JSON");
    ERR("$util.parseJson('{} trailing')", "line 1, column 7: $util.parseJson: not valid JSON");
}

/* ------------------------------------------------------------------ $input */

static void test_input_json(void **state)
{
    (void)state;
    fx_t f = body_only("{\"a\": {\"b\": [10, 20]}, \"s\": \"text\", \"n\": null, \"pets\": [{\"t\": \"dog\"}, {\"t\": \"cat\"}]}");
    RENDER(&f.in, "$input.json('$.a')", "{\"b\":[10,20]}");
    RENDER(&f.in, "$input.json(\"$.a.b\")", "[10,20]");
    RENDER(&f.in, "$input.json('$.s')", "\"text\"");
    RENDER(&f.in, "$input.json('$.n')", "null");
    RENDER(&f.in, "$input.json('$.a.b[1]')", "20");
    RENDER(&f.in, "$input.json('$.pets[*].t')", "[\"dog\",\"cat\"]");
    RENDER(&f.in, "$input.json('$.missing')", "\"\"");
    RENDER(&f.in, "{\"body\": $input.json('$')}",
           "{\"body\": {\"a\":{\"b\":[10,20]},\"s\":\"text\",\"n\":null,\"pets\":[{\"t\":\"dog\"},{\"t\":\"cat\"}]}}");
    fx_free(&f);
}

static void test_input_path(void **state)
{
    (void)state;
    fx_t f = body_only("{\"a\": {\"b\": [{\"c\": \"deep\"}, 7]}, \"with space\": 1, \"list\": [1, 2, 3],"
                       " \"m\": {\"x\": \"y\"}, \"nul\": null, \"pets\": [{\"t\": \"dog\"}, {\"t\": \"cat\"}]}");
    RENDER(&f.in, "$input.path('$.a.b[0].c')", "deep");
    RENDER(&f.in, "$input.path('$.a.b[1]')", "7");
    RENDER(&f.in, "$input.path('$.a.b[-1]')", "7");
    RENDER(&f.in, "$input.path(\"$['with space']\")", "1");
    RENDER(&f.in, "$input.path('$[\"a\"][\"b\"][0][\"c\"]')", "deep");
    RENDER(&f.in, "$input.path('a.b[0].c')", "deep"); /* Jayway reads a path without $ from the root */
    RENDER(&f.in, "$input.path('$.pets[*].t')", "[\"dog\",\"cat\"]");
    RENDER(&f.in, "$input.path('$.pets[*].t').size() $input.path('$.pets[*]').get(1).t", "2 cat");
    RENDER(&f.in, "$input.path('$.m.*')", "[\"y\"]");
    RENDER(&f.in, "$input.path('$.m').x $input.path('$.m').get('x') $input.path('$').m.x", "y y y");
    RENDER(&f.in, "$input.path('$.list').size() $input.path('$.list')[2]", "3 3");
    RENDER(&f.in, "$input.path('$.m')", "{\"x\":\"y\"}");
    RENDER(&f.in, "[$!input.path('$.nul')] [$!input.path('$.nope')] [$!input.path('$.list[9]')]", "[] [] []");
    RENDER(&f.in, "$input.path('$.nope')", "$input.path('$.nope')");
    RENDER(&f.in, "#if($input.path('$.nope'))yes#{else}no#end", "no");
    RENDER_ERR(&f.in, "$input.path('$..c')",
               "line 1, column 8: unsupported JSONPath '$..c' (supported: $, .name, ['name'], [n], [*])");
    RENDER_ERR(&f.in, "$input.json('$.list[?(@ > 1)]')",
               "line 1, column 8: unsupported JSONPath '$.list[?(@ > 1)]' (supported: $, .name, ['name'], [n], [*])");
    RENDER_ERR(&f.in, "$input.path('$.list[0:2]')",
               "line 1, column 8: unsupported JSONPath '$.list[0:2]' (supported: $, .name, ['name'], [n], [*])");
    fx_free(&f);

    /* a body that is not JSON has no paths */
    f = body_only("not json");
    RENDER(&f.in, "[$!input.path('$.a')] [$input.body]", "[] [not json]");
    fx_free(&f);
}

static void test_input_params(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, NULL, "{\"id\": \"p-1\", \"both\": \"from-path\"}",
            "{\"both\": \"from-query\", \"q\": \"x y\", \"Id2\": \"case\"}",
            "{\"Content-Type\": \"application/json\", \"both\": \"from-header\", \"q\": \"hq\"}", NULL, NULL);
    RENDER(&f.in, "$input.params('id') $input.params('both') $input.params('q')", "p-1 from-path x y");
    /* headers ignore case; path and query string names do not */
    RENDER(&f.in, "$input.params('content-type') [$input.params('id2')] [$input.params('missing')]",
           "application/json [] []");
    RENDER(&f.in, "$input.params()",
           "{\"path\":{\"id\":\"p-1\",\"both\":\"from-path\"},"
           "\"querystring\":{\"both\":\"from-query\",\"q\":\"x y\",\"Id2\":\"case\"},"
           "\"header\":{\"Content-Type\":\"application/json\",\"both\":\"from-header\",\"q\":\"hq\"}}");
    RENDER(&f.in, "$input.params().keySet() $input.params().header.get('Content-Type') $input.params().path.size()",
           "[\"path\",\"querystring\",\"header\"] application/json 2");
    RENDER(&f.in, "#foreach($k in $input.params().querystring.keySet())$k=$input.params().querystring.get($k);#end",
           "both=from-query;q=x y;Id2=case;");
    fx_free(&f);

    /* no parameters at all */
    R("$input.params() [$input.params('x')]", "{\"path\":{},\"querystring\":{},\"header\":{}} []");
}

static void test_input_body(void **state)
{
    (void)state;
    fx_t f = body_only("{\"a\": 1}\n");
    RENDER(&f.in, "$input.body", "{\"a\": 1}\n");
    RENDER(&f.in, "#set($b = $input.body)$b.length()", "9");
    RENDER(&f.in, "[$!input.body.a]", "[]"); /* a string has no properties */
    fx_free(&f);
    R("$input.body $input.json('$') $input.path('$').size()", "{} {} 0");
    /* body_len bounds the body */
    fx_t g = body_only("abcdef");
    g.in.body_len = 3;
    RENDER(&g.in, "$input.body", "abc");
    fx_free(&g);
}

static void test_context_variables(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, NULL, NULL, NULL, NULL,
            "{\"requestId\": \"req-1\", \"httpMethod\": \"POST\", \"resourcePath\": \"/orders/{id}\","
            " \"path\": \"/dev/orders/7\", \"stage\": \"dev\", \"accountId\": \"000000000000\","
            " \"identity\": {\"sourceIp\": \"127.0.0.1\", \"userAgent\": \"curl/8.0\"},"
            " \"requestTime\": \"09/Apr/2015:12:34:56 +0000\", \"requestTimeEpoch\": 1428582896000,"
            " \"authorizer\": {\"principalId\": \"me\", \"claims\": {\"sub\": \"u-1\"}}}",
            NULL);
    /* the reference page's $context example, shortened */
    RENDER(&f.in,
           "{\"stage\" : \"$context.stage\", \"request_id\" : \"$context.requestId\","
           " \"resource_path\" : \"$context.resourcePath\", \"http_method\" : \"$context.httpMethod\","
           " \"source_ip\" : \"$context.identity.sourceIp\", \"user-agent\" : \"$context.identity.userAgent\"}",
           "{\"stage\" : \"dev\", \"request_id\" : \"req-1\", \"resource_path\" : \"/orders/{id}\","
           " \"http_method\" : \"POST\", \"source_ip\" : \"127.0.0.1\", \"user-agent\" : \"curl/8.0\"}");
    RENDER(&f.in, "$context.path $context.requestTime $context.requestTimeEpoch $context.accountId",
           "/dev/orders/7 09/Apr/2015:12:34:56 +0000 1428582896000 000000000000");
    RENDER(&f.in, "$context.authorizer.principalId $context.authorizer.claims.sub $context['stage']", "me u-1 dev");
    RENDER(&f.in, "#set($ctx = $context)$ctx.identity.sourceIp", "127.0.0.1");
    /* fields the caller did not provide stay as written, unless quiet */
    RENDER(&f.in, "$context.identity.apiKey [$!context.identity.apiKey]", "$context.identity.apiKey []");
    /* #set into $context (requestOverride / responseOverride style) */
    RENDER(&f.in, "#set($context.responseOverride = {})#set($context.responseOverride.status = 400)"
                  "$context.responseOverride.status",
           "400");
    fx_free(&f);
}

static void test_stage_variables(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, NULL, NULL, NULL, NULL, NULL, "{\"queue\": \"orders\", \"env\": \"dev\"}");
    /* the three documented spellings */
    RENDER(&f.in, "$stageVariables.queue $stageVariables['queue'] ${stageVariables['queue']}", "orders orders orders");
    RENDER(&f.in, "$stageVariables.keySet() [$!stageVariables.nope]", "[\"queue\",\"env\"] []");
    fx_free(&f);
    R("$stageVariables.queue [$!stageVariables.queue] $stageVariables.size()", "$stageVariables.queue [] 0");
}

/* ---------------------------------------------------- directives, operators */

static void test_if_equality(void **state)
{
    (void)state;
    R("#if(1 == 1)a#end#if(1 == 2)b#end#if(1 != 2)c#end#if(2 eq 2)d#end#if(2 ne 2)e#end", "acd");
    R("#if('x' == \"x\")a#end#if('x' == 'y')b#end#if(\"3\" == 3)c#end#if(3 == 3.0)d#end", "acd");
    R("#if(true == true)a#end#if(true == 'true')b#end#if($none == $nada)c#end#if($none == '')d#end", "abc");
    R("#if([1, 2] == [1, 2])a#end#if({'k': 1} == {'k': 1})b#end#if([1] != [2])c#end", "abc");
    fx_t f = body_only("{\"count\": 3, \"name\": \"bob\", \"flag\": false}");
    RENDER(&f.in,
           "#set($b = $input.path('$'))#if($b.count == 3)n#end#if($b.name == 'bob')s#end#if($b.flag == false)f#end",
           "nsf");
    fx_free(&f);
}

static void test_if_relational(void **state)
{
    (void)state;
    R("#if(1 < 2)a#end#if(2 < 1)b#end#if(2 > 1)c#end#if(1 > 2)d#end", "ac");
    R("#if(2 <= 2)a#end#if(3 <= 2)b#end#if(2 >= 2)c#end#if(1 >= 2)d#end", "ac");
    R("#if(1 lt 2)a#end#if(2 gt 1)b#end#if(2 le 2)c#end#if(2 ge 3)d#end", "abc");
    R("#if(1.5 < 2)a#end#if(-1 < 0)b#end#if(10 > 9.99)c#end", "abc");
    /* Velocity 1.7 compares numbers only: anything else is false */
    R("#if('a' < 'b')a#end#if($none < 1)b#end#if('2' > 1)c#end", "");
}

static void test_if_logical(void **state)
{
    (void)state;
    R("#if(true && true)a#end#if(true && false)b#end#if(false || true)c#end#if(false || false)d#end", "ac");
    R("#if(true and true)a#end#if(false or true)b#end#if(not false)c#end#if(!true)d#end#if(! false)e#end", "abce");
    R("#if(!$none)a#end#if(1 < 2 && 2 < 3 || false)b#end#if(!(1 == 1))c#end", "ab");
    /* short-circuit: the right side is not evaluated */
    R("#if(false && $x.substring(9))a#end#if(true || $x.substring(9))b#end", "b");
    /* precedence: && before ||, comparison before && */
    R("#if(true || false && false)a#end#if((true || false) && false)b#end", "a");
}

static void test_if_elseif_else(void **state)
{
    (void)state;
    R("#set($n = -5)#if($n < 0)neg#elseif($n == 0)zero#elseif($n < 10)small#{else}big#end", "neg");
    R("#set($n = 0)#if($n < 0)neg#elseif($n == 0)zero#elseif($n < 10)small#{else}big#end", "zero");
    R("#set($n = 7)#if($n < 0)neg#elseif($n == 0)zero#elseif($n < 10)small#{else}big#end", "small");
    R("#set($n = 70)#if($n < 0)neg#elseif($n == 0)zero#elseif($n < 10)small#{else}big#end", "big");
    R("#{if}(true)a#{else}b#{end}", "a");
    R("#if (false) a #else b #end", " b ");
    /* truth: null and false only; "" and 0 and [] are true in Velocity 1.7 */
    R("#if($none)1#end#if(false)2#end#if('')3#end#if(0)4#end#if([])5#end#if({})6#end", "3456");
    R("#if(true)#if(false)x#{else}inner#end#{else}outer#end", "inner");
}

static void test_arithmetic(void **state)
{
    (void)state;
    R("#set($a = 7)#set($b = 2)$a + $b = #set($c = $a + $b)$c", "7 + 2 = 9");
    R("#set($x = 7 - 10)$x #set($x = 7 * 6)$x #set($x = 7 / 2)$x #set($x = -7 / 2)$x #set($x = 7 % 3)$x", "-3 42 3 -3 1");
    R("#set($x = 1.5 + 1)$x #set($x = 7.0 / 2)$x #set($x = 1.0 * 2)$x #set($x = 0.1 + 0.2)$x", "2.5 3.5 2.0 0.30000000000000004");
    R("#set($x = 2 * (3 + 4) - -1)$x #set($x = 10 - 2 - 3)$x", "15 5");
    /* division by zero is null in Velocity: the #set keeps the old value */
    R("#set($x = 1)#set($x = 5 / 0)$x #set($y = 5 % 0)$y", "1 $y");
    /* '+' with a string concatenates */
    R("#set($s = 'id-' + 42)$s #set($s = 1 + '1')$s #set($s = 'a' + $none)$s", "id-42 11 a$none");
    R("#set($big = 9223372036854775807 + 1)$big", "9.223372036854776E18");
    R("#set($i = 0)#foreach($k in [1..5])#set($i = $i + $k)#end$i", "15");
}

static void test_set_and_literals(void **state)
{
    (void)state;
    R("#set($l = [1, 'two', 3.5, true, [4], {'k': 'v'}])$l $l.size()", "[1,\"two\",3.5,true,[4],{\"k\":\"v\"}] 6");
    R("#set($m = {'a': 1, \"b\": [2], 'c': {'d': 'e'}})$m $m.c.d $m['b'][0]", "{\"a\":1,\"b\":[2],\"c\":{\"d\":\"e\"}} e 2");
    R("$m", "$m");
    R("#set($r = [1..4])$r #set($r = [3..1])$r #set($n = 2)#set($r = [$n..$n])$r", "[1,2,3,4] [3,2,1] [2]");
    R("#set($e = [])$e.size() #set($e = {})$e.size()", "0 0");
    /* property and index targets */
    R("#set($m = {'a': {}})#set($m.a.b = 'x')#set($m['c'] = 1)$m", "{\"a\":{\"b\":\"x\"},\"c\":1}");
    R("#set($l = [1, 2])#set($l[1] = 'two')$l", "[1,\"two\"]");
    /* a null value leaves the target as it was (Velocity 1.7) */
    R("#set($v = 'kept')#set($v = $none)$v", "kept");
    R("#set( $spaced   =   'ok' )$spaced", "ok");
    /* assigning into a missing map does nothing */
    R("#set($nomap.x = 1)[$!nomap]", "[]");
}

static void test_foreach(void **state)
{
    (void)state;
    R("#foreach($i in [10, 20, 30])$foreach.index/$foreach.count/$velocityCount:$i#if($foreach.hasNext), #end#end",
      "0/1/1:10, 1/2/2:20, 2/3/3:30");
    R("#foreach($i in ['a', 'b'])#if($foreach.first)[#end$i#if($foreach.last)]#end#end", "[ab]");
    R("#foreach($i in [1, 2])$foreach.hasNext() #end", "true false ");
    /* a map iterates its values; null and non-lists iterate nothing */
    R("#foreach($v in {'a': 1, 'b': 2})$v#end|#foreach($v in $none)x#end|#foreach($v in 'str')x#end|", "12|||");
    /* the loop variable and $foreach come back afterwards */
    R("#set($i = 'before')#foreach($i in [1])$i#end $i [$!foreach]", "1 before []");
    /* null items make the variable undefined */
    R("#foreach($i in [1, $none, 3])[$!i]#end", "[1][][3]");
    /* changing the list inside the loop does not change the iteration */
    R("#set($l = [1, 2])#foreach($i in $l)#set($d = $l.add(9))$i#end $l.size()", "12 4");
}

static void test_nested_foreach(void **state)
{
    (void)state;
    R("#foreach($row in [[1, 2], [3]])"
      "#foreach($c in $row)$foreach.index$c#if($foreach.hasNext),#end#end"
      "#if($foreach.hasNext);#end#end",
      "01,12;03");
    fx_t f = body_only("{\"orders\": [{\"id\": \"o1\", \"lines\": [{\"sku\": \"a\"}, {\"sku\": \"b\"}]},"
                       " {\"id\": \"o2\", \"lines\": []}, {\"id\": \"o3\", \"lines\": [{\"sku\": \"c\"}]}]}");
    RENDER(&f.in,
           "[\n"
           "#foreach($o in $input.path('$.orders'))\n"
           "  {\"id\": \"$o.id\", \"skus\": [#foreach($l in $o.lines)\"$l.sku\"#if($foreach.hasNext), #end#end]}"
           "#if($foreach.hasNext),#end\n"
           "#end\n"
           "]",
           "[\n"
           "  {\"id\": \"o1\", \"skus\": [\"a\", \"b\"]},\n"
           "  {\"id\": \"o2\", \"skus\": []},\n"
           "  {\"id\": \"o3\", \"skus\": [\"c\"]}\n"
           "]");
    fx_free(&f);
}

static void test_string_methods(void **state)
{
    (void)state;
    R("#set($s = '  Hello, World  ')$s.trim().length() $s.toLowerCase() $s.toUpperCase().trim()",
      "12   hello, world   HELLO, WORLD");
    R("#set($s = 'hello world')$s.contains('lo w') $s.contains('xyz') $s.startsWith('he') $s.endsWith('ld') "
      "$s.startsWith('world') $s.isEmpty() ''.isEmpty()",
      "true false true true false false ''.isEmpty()");
    R("#set($e = '')$e.isEmpty() $e.length()", "true 0");
    R("#set($s = 'a,b,,c,,')$s.indexOf(',') $s.lastIndexOf(',') $s.indexOf('zz') $s.indexOf(',', 2) $s.split(',') "
      "$s.split(',').size()",
      "1 7 -1 3 [\"a\",\"b\",\"\",\"c\"] 4");
    R("#set($s = 'abcb')$s.lastIndexOf('b') $s.lastIndexOf('') $s.indexOf('') $s.lastIndexOf('z')", "3 4 0 -1");
    R("#set($s = 'abcdef')$s.substring(2) $s.substring(1, 3) [$s.substring(6)] $s.charAt(0)", "cdef bc [] a");
    R("#set($s = 'a-b-c')$s.replace('-', '+') $s.replaceAll('-', '') $s.replaceFirst('-', '_') $s.replace('', '.')",
      "a+b+c abc a_b-c .a.-.b.-.c.");
    R("$'x'", "$'x'");
    R("#set($s = 'John Smith')$s.replaceAll('(\\w+) (\\w+)', '$2, $1') $s.replaceAll('[aeiou]', '*') "
      "$s.replaceAll('\\s+', '_') $s.replaceAll('\\d', '#')",
      "Smith, John J*hn Sm*th John_Smith John Smith");
    R("#set($s = 'abc')$s.replaceAll('x*', '-') $s.replaceAll('$', '!') $s.replaceAll('^', '>')", "-a-b-c- abc! >abc");
    R("#set($s = '2024-01-31')$s.matches('\\d{4}-\\d{2}-\\d{2}') $s.matches('\\d{4}') $s.split('-')[1]", "true false 01");
    R("#set($s = 'Hi')$s.equals('Hi') $s.equals('hi') $s.equalsIgnoreCase('hI') $s.concat('!') $s.toString()",
      "true false true Hi! Hi");
    R("'a b'.split(' ')", "'a b'.split(' ')"); /* literals are not references */
    R("#set($s = 'x1y22z')$s.split('\\d+') $s.split('') #set($c = ',')$c.split(',').size()",
      "[\"x\",\"y\",\"z\"] [\"x\",\"1\",\"y\",\"2\",\"2\",\"z\"] 0");
    /* Java counts UTF-16 units: an emoji is two */
    R("#set($s = 'caf\xc3\xa9\xf0\x9f\x98\x80!')$s.length() $s.substring(3, 4) $s.indexOf('!') $s.substring(6)",
      "7 \xc3\xa9 6 !");
    /* unknown methods are null, so the reference stays as written */
    R("#set($s = 'x')$s.nope() $s.substring('1')", "$s.nope() $s.substring('1')");
    R("#set($n = 5)$n.toString() $n.equals(5) #set($t = true)$t.toString()", "5 true true");
}

static void test_map_and_list_methods(void **state)
{
    (void)state;
    R("#set($m = {'a': 1, 'b': 2})$m.get('a') $m.containsKey('b') $m.containsKey('z') $m.size() $m.isEmpty() "
      "$m.keySet() $m.values()",
      "1 true false 2 false [\"a\",\"b\"] [1,2]");
    R("#set($m = {'a': 1})$m.put('b', 2) $m.put('a', 9) $m #set($old = $m.remove('a'))$old $m",
      "$m.put('b', 2) 1 {\"a\":9,\"b\":2} 9 {\"b\":2}");
    R("#set($m = {'a': 1})$!m.put('c', [1]) $m.c.size()", " 1");
    R("#set($m = {'x': 'y'})#foreach($e in $m.entrySet())$e.key=$e.value#end", "x=y");
    R("#set($l = ['a', 'b'])$l.size() $l.get(1) $l[0] $l.contains('b') $l.contains('z') $l.indexOf('b') $l.isEmpty()",
      "2 b a true false 1 false");
    R("#set($l = [])$l.add('x') $l.add(2) $l [$!l[5]]", "true true [\"x\",2] []");
    R("#set($l = [1])$l.contains(1) $l.contains('1') $l.contains(1.0)", "true false false");
    R("$nomap.get('a') [$!nomap.get('a')]", "$nomap.get('a') []");
    /* put keeps the key's place (a LinkedHashMap), at any position */
    R("#set($m = {'a': 1, 'b': 2, 'c': 3})$m.put('b', 9) $m.put('c', 8) $m.put('a', 7) $m", "2 3 1 {\"a\":7,\"b\":9,\"c\":8}");
    /* values that put/remove replace stay valid for whoever still holds them */
    R("#set($m = {'a': {'b': 1}})#set($k = $m.a)$m.put('a', 5) $k.b $m", "{\"b\":1} 1 {\"a\":5}");
    R("#set($a = {'b': {'c': 'x'}})$a.b.get($a.put('b', 'c').keySet()[0]) $a", "x {\"b\":\"c\"}");
    R("#set($a = {'b': {'c': 'x'}})$a.b.get($a.remove('b').keySet()[0]) $a", "x {}");
    R("#set($a = {'b': {}})#set($a.b[$a.put('b', 1)] = 2)$a", "{\"b\":1}");
}

static void test_references(void **state)
{
    (void)state;
    /* undefined references render as written; quiet ones render nothing */
    R("$foo|$!foo|${foo}|$!{foo}|$foo.bar.baz|$!foo.bar('x')", "$foo||${foo}||$foo.bar.baz|");
    R("#set($foo = 'F')$foo|$!foo|${foo}bar|$!{foo}|${foo}.x|$foo.", "F|F|Fbar|F|F.x|F.");
    /* a '$' that starts no reference is text */
    R("cost: $5, $ alone, $.path, $!, $!5, ${ x }, $", "cost: $5, $ alone, $.path, $!, $!5, ${ x }, $");
    /* identifiers may hold '-' and '_' (Velocity 1.7) */
    R("#set($a_b = 1)#set($c-d = 2)$a_b $c-d", "1 2");
    R("#set($id = 'x')$id-suffix $id:suffix", "$id-suffix x:suffix");
    /* values: maps and lists as JSON, numbers as Java prints them */
    R("#set($x = 1.0E10)$x #set($x = 0.001)$x #set($x = 0.0001)$x #set($x = 1234567.5)$x #set($x = 12345678.9)$x",
      "1.0E10 0.001 1.0E-4 1234567.5 1.23456789E7");
    R("#set($b = false)$b #set($z = 0)$z #set($n = -12)$n", "false 0 -12");
}

static void test_escapes(void **state)
{
    (void)state;
    R("#set($foo = 'F')\\$foo \\\\$foo \\\\\\$foo", "$foo \\F \\$foo");
    R("\\$undefined \\\\$undefined", "\\$undefined \\\\$undefined");
    R("\\#if(true) x \\#end", "#if(true) x #end");
    R("\\\\#if(true)y#end", "\\y");
    R("a\\b \\n \\", "a\\b \\n \\");
    R("\\#macro is text", "#macro is text");
}

static void test_string_literals(void **state)
{
    (void)state;
    R("#set($n = 'W')#set($s = \"hello $n\")$s #set($s = 'hello $n')$s", "hello W hello $n");
    R("#set($s = \"say \"\"hi\"\"\")$s #set($s = 'it''s')$s", "say \"hi\" it's");
    R("#set($s = \"a\\nb\\\"c\")$s.length() $s", "7 a\\nb\\\"c");
    R("#set($s = \"$none and $!none\")$s", "$none and ");
    R("#set($m = {'k': 'v'})#set($s = \"${m.k}-$m.get('k')\")$s", "v-v");
    R("#set($s = \"multi\nline\")$s", "multi\nline");
    R("#set($i = 1)$input.path(\"$.a[$i]\")", "$input.path(\"$.a[$i]\")");
    fx_t f = body_only("{\"records\": [\"r0\", \"r1\"]}");
    /* the Kinesis-style index built inside a double-quoted path */
    RENDER(&f.in, "#foreach($idx in [0..1])$input.path(\"$.records[${idx}]\")#end", "r0r1");
    fx_free(&f);
}

static void test_comments(void **state)
{
    (void)state;
    R("a ## comment\nb", "a b");
    R("a##\nb##\nc", "abc");
    R("a\n## whole line\nb\n", "a\nb\n");
    R("a\n    ## indented whole line\nb", "a\nb");
    R("a #* block\n comment *# b", "a  b");
    R("a\n  #* whole-line block *#\nb", "a\nb");
    R("#* multi\nline\n*#\nafter", "after");
    R("#[[ $not #if(a reference) ]]#", " $not #if(a reference) ");
    R("x ##", "x ");
    R("# not a directive, #1, #hashtag, a#b, ###", "# not a directive, #1, #hashtag, a#b, ");
}

static void test_line_gobbling(void **state)
{
    (void)state;
    /* a line holding only one directive leaves nothing behind */
    R("#set($a = 1)\n"
      "  #if($a == 1)\n"
      "    yes\n"
      "  #elseif($a == 2)\n"
      "    two\n"
      "  #else\n"
      "    no\n"
      "  #end\n"
      "done\n",
      "    yes\n"
      "done\n");
    R("\t#foreach($i in [1, 2])\t\n"
      "item $i\n"
      "\t#end  \n"
      "end",
      "item 1\n"
      "item 2\n"
      "end");
    /* CRLF lines, and a last line without a newline */
    R("#set($x = 'v')\r\nline $x\r\n  #if(true)  \r\nin\r\n#end", "line v\r\nin\r\n");
    /* text before or after the directive keeps the line */
    R("a #set($x = 1)\nb", "a \nb");
    R("#set($x = 1) b\nc", " b\nc");
    R("#if(true)yes#end\nnext", "yes\nnext");
    R("#if(true)\nyes\n#end\n", "yes\n");
    /* two directives on one line: not gobbled */
    R("#set($a = 1)#set($b = 2)\nx", "\nx");
    /* blank lines are kept */
    R("\n\n#set($a = 1)\n\nx", "\n\n\nx");
}

/* ------------------------------------------------------------------ errors */

static void test_error_unsupported_directives(void **state)
{
    (void)state;
    ERR("#macro(foo)x#end", "line 1, column 1: unsupported directive #macro");
    ERR("a\n  #include('x.vm')", "line 2, column 3: unsupported directive #include");
    ERR("#parse('x.vm')", "line 1, column 1: unsupported directive #parse");
    ERR("#define($block)x#end", "line 1, column 1: unsupported directive #define");
    ERR("x #evaluate('$a')", "line 1, column 3: unsupported directive #evaluate");
    ERR("#foreach($i in [1])#break#end", "line 1, column 20: unsupported directive #break");
    ERR("#{stop}", "line 1, column 1: unsupported directive #stop");
}

static void test_error_unterminated(void **state)
{
    (void)state;
    ERR("a\n#if(true)\nb", "line 2, column 1: unterminated #if (no #end)");
    ERR("#if(true)#{else}x", "line 1, column 1: unterminated #if (no #end)");
    ERR("#foreach($i in [1])\n  $i", "line 1, column 1: unterminated #foreach (no #end)");
    ERR("#if(true)#foreach($i in [1])#end", "line 1, column 1: unterminated #if (no #end)");
    ERR("#set($s = 'abc)", "line 1, column 11: unterminated string literal");
    ERR("#set($s = \"abc)", "line 1, column 11: unterminated string literal");
    ERR("x #* never closed", "line 1, column 3: unterminated comment (no *#)");
    ERR("#[[ raw", "line 1, column 1: unterminated #[[ (no ]]#)");
    ERR("${foo", "line 1, column 1: expected '}' to close '${'");
    ERR("#if(true", "line 1, column 9: expected ')' to close #if");
}

static void test_error_stray_directives(void **state)
{
    (void)state;
    ERR("a #end", "line 1, column 3: #end without #if or #foreach");
    ERR("\n\n   #else", "line 3, column 4: #else without #if");
    ERR("#elseif(true)", "line 1, column 1: #elseif without #if");
    ERR("#foreach($i in [1])#else#end", "line 1, column 20: #else without #if");
    ERR("#if(true)a#{else}b#else c#end", "line 1, column 19: #else after #else");
    ERR("#if(true)a#else b#elseif(false)c#end", "line 1, column 18: #elseif after #else");
}

static void test_error_bad_expressions(void **state)
{
    (void)state;
    ERR("#if()x#end", "line 1, column 5: expected an expression");
    ERR("#if($a ==)x#end", "line 1, column 10: expected an expression");
    ERR("#if($a = 1)x#end", "line 1, column 8: expected ')' to close #if");
    ERR("#if x #end", "line 1, column 4: expected '(' after #if");
    ERR("#set($a 1)", "line 1, column 9: expected '=' in #set");
    ERR("#set(1 = 2)", "line 1, column 6: #set needs a reference to assign to");
    ERR("#set($a.size() = 2)", "line 1, column 6: #set cannot assign to this reference");
    ERR("#set($a = 1", "line 1, column 12: expected ')' to close #set");
    ERR("#foreach($i $list)#end", "line 1, column 13: expected 'in' in #foreach");
    ERR("#foreach(i in $list)#end", "line 1, column 10: #foreach needs a variable, as in #foreach($item in $list)");
    ERR("#foreach($i.x in $list)#end", "line 1, column 10: #foreach needs a variable, as in #foreach($item in $list)");
    ERR("#if(foo)#end", "line 1, column 5: unexpected 'foo' in the expression");
    ERR("#if(1 +)#end", "line 1, column 8: expected an expression");
    ERR("#set($a = [1, 2)", "line 1, column 16: expected ']' to close the list");
    ERR("#set($a = {'k' 1})", "line 1, column 16: expected ':' in the map");
    ERR("#set($a = {'k': 1 'j': 2})", "line 1, column 19: expected ',' or '}' in the map");
    ERR("line one\n  $a.b(1 2)", "line 2, column 10: expected ',' or ')' in the arguments of .b()");
    ERR("$a.b(1, ", "line 1, column 9: expected an expression");
    ERR("$a[1", "line 1, column 5: expected ']' after the index");
    ERR("$a[]", "line 1, column 4: expected an expression");
    ERR("#if($)#end", "line 1, column 5: expected a reference after '$'");
    ERR("$a.b(1,2,3,4,5,6,7,8,9)", "line 1, column 22: too many arguments (at most 8)");
    /* columns count characters, not bytes */
    ERR("\xc3\xa9\xc3\xa9 #if(", "line 1, column 8: expected an expression");
}

static void test_error_runtime(void **state)
{
    (void)state;
    ERR("#set($s = 'abc')\n$s.substring(2, 9)", "line 2, column 4: substring(2, 9) out of range for a string of length 3");
    ERR("#set($s = 'abc')$s.charAt(3)", "line 1, column 20: charAt(3) out of range for a string of length 3");
    ERR("#set($l = [1])$l.get(1)", "line 1, column 18: get(1) out of range for a list of size 1");
    ERR("#set($s = 'abc')$s.replaceAll('(?i)a', 'x')", "line 1, column 20: unsupported regular expression '(?i)a'");
    ERR("#set($s = 'abc')$s.matches('a(')", "line 1, column 20: bad regular expression 'a('");
    ERR("#set($s = 'abc')$s.replaceAll('a', '$2')", "line 1, column 20: no group 2 in the regular expression");
    ERR("#set($s = 'abc')$s.replaceAll('a', '$x')",
        "line 1, column 20: illegal group reference in replacement '$x'");
    /* errors inside the branch not taken are not raised */
    R("#if(false)$util.urlDecode('%')#end", "");
}

static void test_limits(void **state)
{
    (void)state;
    /* 10,000 iterations in all are fine; one more is an error */
    char err[256];
    char *out = vtl_render("#foreach($i in [1..100])#foreach($j in [1..99])#end#end", NULL, err, sizeof err);
    assert_non_null(out);
    free(out);
    ERR("#foreach($i in [1..100])\n#foreach($j in [1..100])#end#end",
        "line 2, column 1: #foreach: more than 10000 items in all");
    ERR("#set($r = [1..10001])", "line 1, column 11: range [1..10001] has more than 10000 items");
    /* output is capped at 10 MB, and so is any one string */
    ERR("#set($s = 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx')"
        "#foreach($i in [1..17])#set($s = \"$s$s\")#end",
        "line 1, column 146: output larger than 10485760 bytes");
    ERR("#set($s = 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx')"
        "#set($s = \"$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s\")"
        "#set($s = \"$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s\")"
        "#foreach($i in [1..60])$s#end",
        "line 1, column 335: output larger than 10485760 bytes");
    /* deep nesting is refused rather than overflowing the stack */
    char deep[2000];
    strcpy(deep, "#set($x = ");
    for (int i = 0; i < 300; i++)
        strcat(deep, "(");
    strcat(deep, "1");
    for (int i = 0; i < 300; i++)
        strcat(deep, ")");
    strcat(deep, ")");
    out = vtl_render(deep, NULL, err, sizeof err);
    assert_null(out);
    assert_non_null(strstr(err, "nesting too deep"));
}

static void test_check(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(vtl_check("#set($a = 1)#if($a == 1)$a#end", err, sizeof err), 0);
    assert_string_equal(err, "");
    /* syntax only: a runtime failure is not a check failure */
    assert_int_equal(vtl_check("$util.urlDecode('%')", err, sizeof err), 0);
    assert_int_equal(vtl_check("#foreach($i in [1..10])", err, sizeof err), -1);
    assert_string_equal(err, "line 1, column 1: unterminated #foreach (no #end)");
    assert_int_equal(vtl_check("#macro(x)#end", err, sizeof err), -1);
    assert_string_equal(err, "line 1, column 1: unsupported directive #macro");
    assert_int_equal(vtl_check(NULL, err, sizeof err), -1);
    /* a short error buffer is truncated, not overrun */
    char tiny[12];
    assert_int_equal(vtl_check("#end", tiny, sizeof tiny), -1);
    assert_string_equal(tiny, "line 1, col");
    assert_int_equal(vtl_check("#end", NULL, 0), -1);
}

static void test_empty_and_plain(void **state)
{
    (void)state;
    R("", "");
    R("plain text, no markup\n", "plain text, no markup\n");
    char err[64];
    assert_null(vtl_render(NULL, NULL, err, sizeof err));
    assert_string_equal(err, "line 1, column 1: no template");
    /* a failed render leaves no output; the message is the first error */
    assert_null(vtl_render("ok\n#end", NULL, err, sizeof err));
    assert_string_equal(err, "line 2, column 1: #end without #if or #foreach");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sqs_request_template),
        cmocka_unit_test(test_sqs_request_with_queue_url),
        cmocka_unit_test(test_sqs_message_attributes),
        cmocka_unit_test(test_sqs_json_protocol_template),
        cmocka_unit_test(test_sqs_response_template),
        cmocka_unit_test(test_input_root_foreach_json),
        cmocka_unit_test(test_aws_all_params_example),
        cmocka_unit_test(test_aws_things_and_parse_json_examples),
        cmocka_unit_test(test_util_escape_javascript),
        cmocka_unit_test(test_util_url_encode),
        cmocka_unit_test(test_util_url_decode),
        cmocka_unit_test(test_util_base64),
        cmocka_unit_test(test_util_parse_json),
        cmocka_unit_test(test_input_json),
        cmocka_unit_test(test_input_path),
        cmocka_unit_test(test_input_params),
        cmocka_unit_test(test_input_body),
        cmocka_unit_test(test_context_variables),
        cmocka_unit_test(test_stage_variables),
        cmocka_unit_test(test_if_equality),
        cmocka_unit_test(test_if_relational),
        cmocka_unit_test(test_if_logical),
        cmocka_unit_test(test_if_elseif_else),
        cmocka_unit_test(test_arithmetic),
        cmocka_unit_test(test_set_and_literals),
        cmocka_unit_test(test_foreach),
        cmocka_unit_test(test_nested_foreach),
        cmocka_unit_test(test_string_methods),
        cmocka_unit_test(test_map_and_list_methods),
        cmocka_unit_test(test_references),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_string_literals),
        cmocka_unit_test(test_comments),
        cmocka_unit_test(test_line_gobbling),
        cmocka_unit_test(test_error_unsupported_directives),
        cmocka_unit_test(test_error_unterminated),
        cmocka_unit_test(test_error_stray_directives),
        cmocka_unit_test(test_error_bad_expressions),
        cmocka_unit_test(test_error_runtime),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_empty_and_plain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
