// Time-dependent SQS behaviour through SDK v3: long-poll wake-up and expiry,
// queue-level ReceiveMessageWaitTimeSeconds, delays, visibility expiry, old
// receipt handles and dead-letter redrive. Delays here are short (1-2.5 s).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageCommand,
  ReceiveMessageCommand,
  DeleteMessageCommand,
} from '@aws-sdk/client-sqs';
import { T, startServer, makeClient, uniqueName, queueArn, sleep } from './harness.mjs';

let server;
let sqs;

before(async () => {
  server = await startServer();
  sqs = makeClient(server.endpoint);
}, T);

after(async () => {
  sqs?.destroy();
  await server?.stop();
}, T);

async function newQueue(prefix, Attributes) {
  const name = uniqueName(prefix);
  const out = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes }));
  return { name, url: out.QueueUrl };
}

const send = (QueueUrl, MessageBody, extra = {}) =>
  sqs.send(new SendMessageCommand({ QueueUrl, MessageBody, ...extra }));

const receive = (QueueUrl, extra = {}, client = sqs) =>
  client.send(new ReceiveMessageCommand({ QueueUrl, ...extra }));

async function qattrs(QueueUrl, AttributeNames) {
  const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames }));
  return out.Attributes ?? {};
}

test('long poll wakes up within ~1 s of a SendMessage from another client', T, async () => {
  const { url } = await newQueue('wake');
  const other = makeClient(server.endpoint);
  try {
    const t0 = Date.now();
    const pending = receive(url, { WaitTimeSeconds: 10 });
    await sleep(500);
    const sent = await other.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'wake up' }));
    const out = await pending;
    const elapsed = Date.now() - t0;
    assert.equal(out.Messages?.length, 1);
    assert.equal(out.Messages[0].MessageId, sent.MessageId);
    assert.equal(out.Messages[0].Body, 'wake up');
    assert.ok(elapsed < 3000, `long poll returned after ${elapsed} ms`);
  } finally {
    other.destroy();
  }
});

test('long poll on an empty queue waits WaitTimeSeconds and returns no Messages', T, async () => {
  const { url } = await newQueue('idle');
  const t0 = Date.now();
  const out = await receive(url, { WaitTimeSeconds: 2 });
  const elapsed = Date.now() - t0;
  assert.equal(out.Messages, undefined);
  assert.ok(elapsed >= 1900, `returned after ${elapsed} ms, expected >= 1900`);
  assert.ok(elapsed < 6000, `returned after ${elapsed} ms, expected about 2000`);
});

test('queue ReceiveMessageWaitTimeSeconds applies when WaitTimeSeconds is absent; 0 overrides it', T, async () => {
  const { url } = await newQueue('qwait', { ReceiveMessageWaitTimeSeconds: '2' });
  let t0 = Date.now();
  let out = await receive(url);
  let elapsed = Date.now() - t0;
  assert.equal(out.Messages, undefined);
  assert.ok(elapsed >= 1900, `queue-level wait: returned after ${elapsed} ms`);
  assert.ok(elapsed < 6000, `queue-level wait: returned after ${elapsed} ms`);

  t0 = Date.now();
  out = await receive(url, { WaitTimeSeconds: 0 });
  elapsed = Date.now() - t0;
  assert.equal(out.Messages, undefined);
  assert.ok(elapsed < 1000, `WaitTimeSeconds 0 must not wait (took ${elapsed} ms)`);

  // And the queue-level wait is also woken by a send.
  t0 = Date.now();
  const pending = receive(url);
  await sleep(300);
  await send(url, 'arrived');
  out = await pending;
  elapsed = Date.now() - t0;
  assert.equal(out.Messages?.[0]?.Body, 'arrived');
  assert.ok(elapsed < 1800, `woken after ${elapsed} ms`);
});

test('per-message DelaySeconds: not receivable before, receivable after', T, async () => {
  const { url } = await newQueue('mdelay');
  const sent = await send(url, 'later', { DelaySeconds: 2 });
  assert.equal((await receive(url, { WaitTimeSeconds: 0 })).Messages, undefined);
  assert.deepEqual(await qattrs(url, ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesDelayed']), {
    ApproximateNumberOfMessages: '0',
    ApproximateNumberOfMessagesDelayed: '1',
  });
  await sleep(1000);
  assert.equal((await receive(url, { WaitTimeSeconds: 0 })).Messages, undefined, 'still delayed at 1 s');
  await sleep(1500);
  const out = await receive(url, { WaitTimeSeconds: 0 });
  assert.equal(out.Messages?.[0]?.MessageId, sent.MessageId);
});

test('queue DelaySeconds delays every message; per-message 0 overrides it', T, async () => {
  const { url } = await newQueue('qdelay', { DelaySeconds: '2' });
  const delayed = await send(url, 'queue-delayed');
  const immediate = await send(url, 'no delay', { DelaySeconds: 0 });
  const first = await receive(url, { WaitTimeSeconds: 0, MaxNumberOfMessages: 10 });
  assert.deepEqual((first.Messages ?? []).map((m) => m.MessageId), [immediate.MessageId]);
  assert.equal((await qattrs(url, ['ApproximateNumberOfMessagesDelayed'])).ApproximateNumberOfMessagesDelayed, '1');
  await sleep(2500);
  const out = await receive(url, { WaitTimeSeconds: 0, MaxNumberOfMessages: 10 });
  assert.deepEqual((out.Messages ?? []).map((m) => m.MessageId), [delayed.MessageId]);
});

test('a long poll returns a delayed message once its delay ends', T, async () => {
  const { url } = await newQueue('delaywait');
  const t0 = Date.now();
  await send(url, 'soon', { DelaySeconds: 1 });
  const out = await receive(url, { WaitTimeSeconds: 5 });
  const elapsed = Date.now() - t0;
  assert.equal(out.Messages?.[0]?.Body, 'soon');
  assert.ok(elapsed >= 900 && elapsed < 3000, `returned after ${elapsed} ms`);
});

test('visibility expiry: invisible at once, back after the timeout with a new handle and count 2', T, async () => {
  const { url } = await newQueue('expire');
  const sent = await send(url, 'retry me');
  const r1 = await receive(url, { VisibilityTimeout: 1, MessageSystemAttributeNames: ['ApproximateReceiveCount'] });
  assert.equal(r1.Messages[0].Attributes.ApproximateReceiveCount, '1');
  assert.equal((await receive(url, { WaitTimeSeconds: 0 })).Messages, undefined, 'invisible right after receive');
  await sleep(1500);
  const r2 = await receive(url, { MessageSystemAttributeNames: ['ApproximateReceiveCount'] });
  assert.equal(r2.Messages?.[0]?.MessageId, sent.MessageId);
  assert.notEqual(r2.Messages[0].ReceiptHandle, r1.Messages[0].ReceiptHandle);
  assert.equal(r2.Messages[0].Attributes.ApproximateReceiveCount, '2');
});

test('queue VisibilityTimeout applies; a receive VisibilityTimeout overrides it', T, async () => {
  const { url } = await newQueue('qvis', { VisibilityTimeout: '1' });
  await send(url, 'v');
  await receive(url);
  await sleep(1500);
  const r2 = await receive(url, { VisibilityTimeout: 30 });
  assert.equal(r2.Messages?.length, 1, 'queue VisibilityTimeout 1 expired');
  await sleep(1500);
  assert.equal((await receive(url)).Messages, undefined, 'override of 30 s still hides it');
});

test('a long poll is woken when an in-flight message becomes visible again', T, async () => {
  const { url } = await newQueue('vwake');
  await send(url, 'comes back');
  await receive(url, { VisibilityTimeout: 1 });
  const t0 = Date.now();
  const out = await receive(url, { WaitTimeSeconds: 5 });
  const elapsed = Date.now() - t0;
  assert.equal(out.Messages?.[0]?.Body, 'comes back');
  assert.ok(elapsed < 3000, `returned after ${elapsed} ms`);
});

test('standard queue: an expired (old) receipt handle still deletes the message', T, async () => {
  const { url } = await newQueue('oldhandle');
  await send(url, 'delete me later');
  const r1 = await receive(url, { VisibilityTimeout: 1 });
  await sleep(1500);
  await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: r1.Messages[0].ReceiptHandle }));
  assert.equal((await receive(url, { WaitTimeSeconds: 0 })).Messages, undefined);
  assert.deepEqual(await qattrs(url, ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible']), {
    ApproximateNumberOfMessages: '0',
    ApproximateNumberOfMessagesNotVisible: '0',
  });
});

test('dead-letter redrive: after maxReceiveCount receives the message moves to the DLQ', T, async () => {
  const dlq = await newQueue('redrive-dlq');
  const src = await newQueue('redrive-src', {
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: queueArn(dlq.name), maxReceiveCount: 2 }),
  });
  const sent = await send(src.url, 'poison');
  const opts = { VisibilityTimeout: 0, WaitTimeSeconds: 0, MessageSystemAttributeNames: ['ApproximateReceiveCount'] };

  const r1 = await receive(src.url, opts);
  assert.equal(r1.Messages?.[0]?.MessageId, sent.MessageId);
  assert.equal(r1.Messages[0].Attributes.ApproximateReceiveCount, '1');
  const r2 = await receive(src.url, opts);
  assert.equal(r2.Messages?.[0]?.MessageId, sent.MessageId);
  assert.equal(r2.Messages[0].Attributes.ApproximateReceiveCount, '2');
  // The third receive would exceed maxReceiveCount: the message goes to the DLQ.
  const r3 = await receive(src.url, opts);
  assert.equal(r3.Messages, undefined, 'not returned from the source once the count is exceeded');

  const d = await receive(dlq.url, { WaitTimeSeconds: 2, MessageAttributeNames: ['All'] });
  assert.equal(d.Messages?.length, 1, 'message is in the DLQ');
  assert.equal(d.Messages[0].MessageId, sent.MessageId);
  assert.equal(d.Messages[0].Body, 'poison');

  assert.equal((await receive(src.url, { WaitTimeSeconds: 0 })).Messages, undefined);
  const sa = await qattrs(src.url, ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible']);
  assert.deepEqual(sa, { ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' });
});
