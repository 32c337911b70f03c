// Event (asynchronous) invocations through @aws-sdk/client-lambda, read back
// with @aws-sdk/client-sqs (AWS JSON protocol): a Node.js handler written as
// Lambda runs it (`export const handler = async (event) => ...`) whose
// successes reach its on_success queue as Lambda's invocation record, and
// whose failures reach on_failure (the record) and its dead-letter queue (the
// event, with RequestID / ErrorCode / ErrorMessage attributes).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { T, ACCOUNT, startServer, makeClient, makeLambdaClient, functionArn } from './harness.mjs';

const HANDLER = `export const handler = async (event) => {
  if (event.fail) throw new TypeError(\`order \${event.order} has no address\`);
  return { shipped: event.order };
};
`;

let server;
let lambda;
let sqs;
let code;

before(async () => {
  code = mkdtempSync(join(tmpdir(), 'sluice-js-async-'));
  writeFileSync(join(code, 'index.mjs'), HANDLER);
  server = await startServer({
    own: true,
    config: `
queues:
  js-shipped: {}
  js-failed: {}
  js-dead: {}
functions:
  js-ship:
    runtime: nodejs20.x
    handler: index.handler
    code: ${code}
    maximum_retry_attempts: 0
    on_success: js-shipped
    on_failure: js-failed
    dead_letter_queue: js-dead
`,
  });
  lambda = await makeLambdaClient(server.endpoint);
  sqs = makeClient(server.endpoint);
}, T);

after(async () => {
  lambda?.destroy();
  sqs?.destroy();
  await server?.stop();
  rmSync(code, { recursive: true, force: true });
}, T);

async function event(payload) {
  const out = await lambda.send(new InvokeCommand({
    FunctionName: 'js-ship', InvocationType: 'Event', Payload: new TextEncoder().encode(JSON.stringify(payload)),
  }));
  assert.equal(out.StatusCode, 202);
  return out.$metadata.requestId;
}

async function one(queue) {
  const QueueUrl = `${server.endpoint}/${ACCOUNT}/${queue}`;
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    const got = await sqs.send(new ReceiveMessageCommand({
      QueueUrl, WaitTimeSeconds: 1, MessageAttributeNames: ['All'],
    }));
    if (got.Messages?.length) return got.Messages[0];
  }
  assert.fail(`nothing arrived on ${queue}`);
}

test('a success sends the invocation record to on_success', T, async () => {
  const rid = await event({ order: 41 });
  const rec = JSON.parse((await one('js-shipped')).Body);
  assert.deepEqual(rec.requestContext, {
    requestId: rid, functionArn: `${functionArn('js-ship')}:$LATEST`, condition: 'Success', approximateInvokeCount: 1,
  });
  assert.deepEqual(rec.requestPayload, { order: 41 });
  assert.deepEqual(rec.responseContext, { statusCode: 200, executedVersion: '$LATEST' });
  assert.deepEqual(rec.responsePayload, { shipped: 41 });
});

test('a failure sends the record to on_failure and the event to the dead-letter queue', T, async () => {
  const rid = await event({ order: 42, fail: true });
  const rec = JSON.parse((await one('js-failed')).Body);
  assert.equal(rec.requestContext.condition, 'RetriesExhausted');
  assert.equal(rec.requestContext.requestId, rid);
  assert.equal(rec.responseContext.functionError, 'Unhandled');
  assert.equal(rec.responsePayload.errorType, 'TypeError');
  assert.equal(rec.responsePayload.errorMessage, 'order 42 has no address');
  const dead = await one('js-dead');
  assert.deepEqual(JSON.parse(dead.Body), { order: 42, fail: true });
  assert.deepEqual(dead.MessageAttributes.RequestID, { DataType: 'String', StringValue: rid });
  assert.deepEqual(dead.MessageAttributes.ErrorCode, { DataType: 'Number', StringValue: '200' });
  assert.deepEqual(dead.MessageAttributes.ErrorMessage, { DataType: 'String', StringValue: 'order 42 has no address' });
});
