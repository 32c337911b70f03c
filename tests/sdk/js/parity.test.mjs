// AWS parity details through SDK v3: fair queues (MessageGroupId on standard
// queues), the PurgeQueue and delete/re-create cool-downs and their config
// switches, retention, batch size limits, RedriveAllowPolicy, and the test
// clock endpoint itself. Expected values follow AWS (reference/sqs.md §1.2,
// §4.4, §4.5, §4.9, §6.3 items 5, 6, 13, 14, 24).
// This file moves sluice's clock (POST /_sluice/clock), so it always starts a
// private server, even when SLUICE_ENDPOINT is set.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  SetQueueAttributesCommand,
  SendMessageCommand,
  SendMessageBatchCommand,
  ReceiveMessageCommand,
  DeleteMessageCommand,
  PurgeQueueCommand,
} from '@aws-sdk/client-sqs';
import {
  T, startServer, makeClient, uniqueName, queueArn, expectSqsError, advanceClock, clockCall,
} from './harness.mjs';

let server;
let sqs;

before(async () => {
  server = await startServer({ own: true });
  sqs = makeClient(server.endpoint);
}, T);

after(async () => {
  sqs?.destroy();
  await server?.stop();
}, T);

const IPV = { code: 'InvalidParameterValue', status: 400, type: 'InvalidParameterValueException' };
const ipv = (message) => ({ ...IPV, message });
const purgeInProgress = (name) => ({
  name: 'PurgeQueueInProgress',
  code: 'AWS.SimpleQueueService.PurgeQueueInProgress',
  status: 403,
  message: `Only one PurgeQueue operation on ${name} is allowed every 60 seconds.`,
  type: 'PurgeQueueInProgress',
});
const DELETED_RECENTLY = {
  name: 'QueueDeletedRecently',
  code: 'AWS.SimpleQueueService.QueueDeletedRecently',
  status: 400,
  message: 'You must wait 60 seconds after deleting a queue before you can create another with the same name.',
  type: 'QueueDeletedRecently',
};
const NOT_FOUND = {
  name: 'QueueDoesNotExist',
  code: 'AWS.SimpleQueueService.NonExistentQueue',
  status: 400,
  message: 'The specified queue does not exist.',
};

async function newQueue(prefix, Attributes, client = sqs) {
  const name = uniqueName(prefix);
  const out = await client.send(new CreateQueueCommand({ QueueName: name, Attributes }));
  return { name, url: out.QueueUrl };
}

const send = (QueueUrl, MessageBody, extra = {}, client = sqs) =>
  client.send(new SendMessageCommand({ QueueUrl, MessageBody, ...extra }));

const receive = (QueueUrl, extra = {}) =>
  sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 0, ...extra }));

async function counts(QueueUrl, client = sqs) {
  const out = await client.send(new GetQueueAttributesCommand({
    QueueUrl,
    AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
  }));
  return [Number(out.Attributes.ApproximateNumberOfMessages), Number(out.Attributes.ApproximateNumberOfMessagesNotVisible)];
}

// ---- the clock endpoint ---------------------------------------------------------

test('GET/POST /_sluice/clock: shapes, advancing, and 400 on bad bodies', T, async () => {
  const g = await clockCall(server.endpoint, 'GET');
  assert.equal(g.status, 200, g.text);
  assert.equal(typeof g.json.now_ms, 'number');
  assert.equal(typeof g.json.offset_ms, 'number');
  assert.ok(Math.abs(g.json.now_ms - g.json.offset_ms - Date.now()) < 5000, `now_ms ${g.json.now_ms} vs wall clock`);

  const p = await clockCall(server.endpoint, 'POST', { advance_seconds: 1.5 });
  assert.equal(p.status, 200, p.text);
  assert.equal(p.json.offset_ms - g.json.offset_ms, 1500, 'fractional seconds advance by milliseconds');
  assert.ok(p.json.now_ms >= g.json.now_ms + 1500);

  const z = await clockCall(server.endpoint, 'POST', { advance_seconds: 0 });
  assert.equal(z.status, 200, z.text);
  assert.equal(z.json.offset_ms, p.json.offset_ms);

  const bad = ['{', '', '{}', '[]', '{"advance_seconds": -1}', '{"advance_seconds": "10"}', '{"advance_seconds": null}'];
  for (const body of bad) {
    const r = await clockCall(server.endpoint, 'POST', body);
    assert.equal(r.status, 400, `body ${JSON.stringify(body)}: ${r.status} ${r.text}`);
    assert.equal(typeof r.json?.error, 'string', `body ${JSON.stringify(body)}: ${r.text}`);
    assert.ok(r.json.error.length > 0);
  }
  const later = await clockCall(server.endpoint, 'GET');
  assert.equal(later.json.offset_ms, p.json.offset_ms, 'bad bodies leave the clock alone');
});

test('message timestamps follow the sluice clock', T, async () => {
  const { url } = await newQueue('clockts');
  const c = await advanceClock(server.endpoint, 3600);
  await send(url, 'x');
  const r = await receive(url, { MessageSystemAttributeNames: ['SentTimestamp', 'ApproximateFirstReceiveTimestamp'] });
  const sent = Number(r.Messages[0].Attributes.SentTimestamp);
  const first = Number(r.Messages[0].Attributes.ApproximateFirstReceiveTimestamp);
  assert.ok(Math.abs(sent - c.now_ms) < 5000, `SentTimestamp ${sent} vs clock ${c.now_ms}`);
  assert.ok(first >= sent && first - sent < 5000);
});

// ---- fair queues ----------------------------------------------------------------------

test('fair queue: a standard queue accepts MessageGroupId, no SequenceNumber, Attributes.MessageGroupId on receive', T, async () => {
  const { url } = await newQueue('fair');
  const out = await send(url, 'tenant message', { MessageGroupId: 'test' });
  assert.equal(out.SequenceNumber, undefined);
  const r = await receive(url, { MessageSystemAttributeNames: ['All'] });
  const m = r.Messages?.[0];
  assert.equal(m?.MessageId, out.MessageId);
  assert.equal(m.Attributes.MessageGroupId, 'test');
  assert.equal(m.Attributes.SequenceNumber, undefined);
  assert.equal(m.Attributes.MessageDeduplicationId, undefined);

  // No de-duplication on a standard queue, and batches carry the group too.
  const b = await sqs.send(new SendMessageBatchCommand({
    QueueUrl: url,
    Entries: [
      { Id: '1', MessageBody: 'same', MessageGroupId: 'test' },
      { Id: '2', MessageBody: 'same', MessageGroupId: 'test' },
    ],
  }));
  assert.deepEqual(b.Failed ?? [], []);
  assert.equal(b.Successful.length, 2);
  for (const e of b.Successful) assert.equal(e.SequenceNumber, undefined);
  assert.notEqual(b.Successful[0].MessageId, b.Successful[1].MessageId);
  const r2 = await receive(url, { MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['MessageGroupId'] });
  assert.equal(r2.Messages?.length, 2);
  for (const x of r2.Messages) assert.equal(x.Attributes.MessageGroupId, 'test');
});

test('fair queue: messages of one group may be in flight together (no FIFO group lock)', T, async () => {
  const { url } = await newQueue('fairpar');
  for (let i = 0; i < 3; i++) await send(url, `m${i}`, { MessageGroupId: 'tenant' });
  const a = await receive(url, { VisibilityTimeout: 30 });
  assert.equal(a.Messages?.length, 1);
  const b = await receive(url, { MaxNumberOfMessages: 10, VisibilityTimeout: 30 });
  assert.equal(b.Messages?.length, 2, 'the rest of the group is still deliverable');
});

test('fair queue: a busy group cannot starve a quiet one', T, async () => {
  const { url } = await newQueue('fairness');
  for (let i = 0; i < 20; i++) {
    const Entries = Array.from({ length: 10 }, (_, j) => ({ Id: `a${j}`, MessageBody: `A-${i * 10 + j}`, MessageGroupId: 'A' }));
    const out = await sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries }));
    assert.equal(out.Successful.length, 10);
  }
  for (let i = 0; i < 5; i++) await send(url, `B-${i}`, { MessageGroupId: 'B' });

  const seenB = [];
  for (let i = 0; i < 3; i++) {
    const r = await receive(url, { MaxNumberOfMessages: 10, VisibilityTimeout: 300 });
    for (const m of r.Messages ?? []) if (m.Body.startsWith('B-')) seenB.push(m.Body);
  }
  assert.deepEqual(seenB.sort(), ['B-0', 'B-1', 'B-2', 'B-3', 'B-4'],
    `all of B within the first 3 receives of 10 (200 of A were sent first); saw ${JSON.stringify(seenB)}`);
});

test('invalid MessageGroupId on a standard queue: InvalidParameterValue with AWS text', T, async () => {
  const { url } = await newQueue('fairbad');
  const msg = (v) =>
    `Value ${v} for parameter MessageGroupId is invalid. Reason: MessageGroupId can only include alphanumeric and punctuation characters. 1 to 128 in length.`;
  for (const bad of ['group 123', 'a'.repeat(129), '']) {
    await expectSqsError(send(url, 'x', { MessageGroupId: bad }), ipv(msg(bad)));
  }
  assert.deepEqual(await counts(url), [0, 0]);
});

// ---- purge and re-create cool-downs --------------------------------------------------------

test('PurgeQueue twice: 403 PurgeQueueInProgress; allowed again after 61 s', T, async () => {
  const { name, url } = await newQueue('purge2');
  await send(url, 'x');
  await sqs.send(new PurgeQueueCommand({ QueueUrl: url }));
  await expectSqsError(sqs.send(new PurgeQueueCommand({ QueueUrl: url })), purgeInProgress(name));
  await advanceClock(server.endpoint, 30);
  await expectSqsError(sqs.send(new PurgeQueueCommand({ QueueUrl: url })), purgeInProgress(name));
  await advanceClock(server.endpoint, 31);
  await send(url, 'y');
  await sqs.send(new PurgeQueueCommand({ QueueUrl: url }));
  assert.deepEqual(await counts(url), [0, 0]);
  // The cool-down is per queue.
  const other = await newQueue('purge2b');
  await sqs.send(new PurgeQueueCommand({ QueueUrl: other.url }));
});

test('DeleteQueue then CreateQueue with the same name: QueueDeletedRecently; allowed after 61 s', T, async () => {
  const { name, url } = await newQueue('recreate');
  await send(url, 'old message');
  await sqs.send(new DeleteQueueCommand({ QueueUrl: url }));
  await expectSqsError(sqs.send(new CreateQueueCommand({ QueueName: name })), DELETED_RECENTLY);
  await expectSqsError(sqs.send(new GetQueueUrlCommand({ QueueName: name })), NOT_FOUND);
  await advanceClock(server.endpoint, 30);
  await expectSqsError(sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: { DelaySeconds: '1' } })),
    DELETED_RECENTLY);
  await advanceClock(server.endpoint, 31);
  const again = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  assert.equal(again.QueueUrl, url);
  assert.deepEqual(await counts(url), [0, 0], 'the new queue starts empty');
  assert.equal((await receive(url)).Messages, undefined);
});

test('with purge_cooldown and recreate_cooldown off, both are allowed at once', T, async () => {
  const relaxed = await startServer({
    config: 'sqs:\n  purge_cooldown: false\n  recreate_cooldown: false\n  in_flight_limit: false\n',
  });
  const c = makeClient(relaxed.endpoint);
  try {
    const { url } = await newQueue('relaxed', undefined, c);
    await send(url, 'x', {}, c);
    await c.send(new PurgeQueueCommand({ QueueUrl: url }));
    await send(url, 'y', {}, c);
    await c.send(new PurgeQueueCommand({ QueueUrl: url }));
    assert.deepEqual(await counts(url, c), [0, 0]);

    const name = uniqueName('relaxedre');
    const q = await c.send(new CreateQueueCommand({ QueueName: name }));
    await send(q.QueueUrl, 'old', {}, c);
    await c.send(new DeleteQueueCommand({ QueueUrl: q.QueueUrl }));
    const q2 = await c.send(new CreateQueueCommand({ QueueName: name }));
    assert.equal(q2.QueueUrl, q.QueueUrl);
    assert.deepEqual(await counts(q2.QueueUrl, c), [0, 0]);
  } finally {
    c.destroy();
    await relaxed.stop();
  }
});

test('the switches default to on: a config that sets only one keeps the other', T, async () => {
  const partial = await startServer({ config: 'sqs:\n  purge_cooldown: false\n' });
  const c = makeClient(partial.endpoint);
  try {
    const { name, url } = await newQueue('partial', undefined, c);
    await c.send(new PurgeQueueCommand({ QueueUrl: url }));
    await c.send(new PurgeQueueCommand({ QueueUrl: url }));
    await c.send(new DeleteQueueCommand({ QueueUrl: url }));
    await expectSqsError(c.send(new CreateQueueCommand({ QueueName: name })), DELETED_RECENTLY);
  } finally {
    c.destroy();
    await partial.stop();
  }
});

// ---- retention ------------------------------------------------------------------------------

test('MessageRetentionPeriod 60: after 61 s visible and in-flight messages are gone', T, async () => {
  const { url } = await newQueue('retain', { MessageRetentionPeriod: '60' });
  await send(url, 'in flight');
  const r = await receive(url, { VisibilityTimeout: 600 });
  assert.equal(r.Messages?.length, 1);
  await send(url, 'visible');
  await advanceClock(server.endpoint, 30);
  assert.deepEqual(await counts(url), [1, 1], 'both still there at 30 s');
  await advanceClock(server.endpoint, 31);
  assert.deepEqual(await counts(url), [0, 0]);
  assert.equal((await receive(url, { MaxNumberOfMessages: 10 })).Messages, undefined);
  // A message sent now lives its own 60 s.
  await send(url, 'fresh');
  assert.deepEqual(await counts(url), [1, 0]);
  // Whatever the expired message's old handle answers, it must not touch the new message.
  await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: r.Messages[0].ReceiptHandle }))
    .catch(() => {});
  assert.equal((await receive(url)).Messages?.[0]?.Body, 'fresh');
});

// ---- batch size limits ------------------------------------------------------------------------

test('SendMessageBatch: entries over MaximumMessageSize fail per entry (attributes count)', T, async () => {
  const { url } = await newQueue('batchsize', { MaximumMessageSize: '1024' });
  const out = await sqs.send(new SendMessageBatchCommand({
    QueueUrl: url,
    Entries: [
      { Id: 'fits', MessageBody: 'a'.repeat(1024) },
      { Id: 'body', MessageBody: 'a'.repeat(1025) },
      {
        Id: 'attrs', MessageBody: 'a'.repeat(1000),
        MessageAttributes: { name: { DataType: 'String', StringValue: 'v'.repeat(40) } },
      },
      { Id: 'small', MessageBody: 'ok' },
    ],
  }));
  assert.deepEqual(out.Successful.map((e) => e.Id).sort(), ['fits', 'small']);
  const failed = Object.fromEntries((out.Failed ?? []).map((f) => [f.Id, f]));
  assert.deepEqual(Object.keys(failed).sort(), ['attrs', 'body']);
  for (const id of ['attrs', 'body']) {
    assert.equal(failed[id].Code, 'InvalidParameterValue');
    assert.equal(failed[id].SenderFault, true);
    assert.equal(failed[id].Message, 'One or more parameters cannot be validated. Reason: Message must be shorter than 1024 bytes.');
  }
  assert.deepEqual(await counts(url), [2, 0]);
});

test('SendMessageBatch over 1 MiB in total: BatchRequestTooLong; exactly 1 MiB is accepted', T, async () => {
  const { url } = await newQueue('batchlong');
  const half = 524288;
  await expectSqsError(sqs.send(new SendMessageBatchCommand({
    QueueUrl: url,
    Entries: [
      { Id: 'a', MessageBody: 'a'.repeat(half) },
      { Id: 'b', MessageBody: 'b'.repeat(half + 2) },
    ],
  })), {
    name: 'BatchRequestTooLong',
    code: 'AWS.SimpleQueueService.BatchRequestTooLong',
    status: 400,
    message: 'Batch requests cannot be longer than 1048576 bytes. You have sent 1048578 bytes.',
  });
  assert.deepEqual(await counts(url), [0, 0]);
  const ok = await sqs.send(new SendMessageBatchCommand({
    QueueUrl: url,
    Entries: [
      { Id: 'a', MessageBody: 'a'.repeat(half) },
      { Id: 'b', MessageBody: 'b'.repeat(half) },
    ],
  }));
  assert.equal(ok.Successful.length, 2);
});

// ---- RedriveAllowPolicy -------------------------------------------------------------------------

const redrive = (dlqName, maxReceiveCount = 1) =>
  JSON.stringify({ deadLetterTargetArn: queueArn(dlqName), maxReceiveCount });
const allow = (redrivePermission, sourceQueueArns) =>
  JSON.stringify(sourceQueueArns ? { redrivePermission, sourceQueueArns } : { redrivePermission });

test('RedriveAllowPolicy denyAll / byQueue without the source: RedrivePolicy rejected', T, async () => {
  const deny = await newQueue('dlqdeny', { RedriveAllowPolicy: allow('denyAll') });
  const srcName = uniqueName('srcdeny');
  await expectSqsError(
    sqs.send(new CreateQueueCommand({ QueueName: srcName, Attributes: { RedrivePolicy: redrive(deny.name) } })),
    { ...IPV, message: undefined },
  );
  const byOther = await newQueue('dlqbyother', { RedriveAllowPolicy: allow('byQueue', [queueArn(uniqueName('someone'))]) });
  await expectSqsError(
    sqs.send(new CreateQueueCommand({ QueueName: srcName, Attributes: { RedrivePolicy: redrive(byOther.name) } })),
    { ...IPV, message: undefined },
  );
  // SetQueueAttributes is checked the same way.
  const src = await newQueue('srcset');
  await expectSqsError(
    sqs.send(new SetQueueAttributesCommand({ QueueUrl: src.url, Attributes: { RedrivePolicy: redrive(deny.name) } })),
    { ...IPV, message: undefined },
  );
  const a = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: src.url, AttributeNames: ['RedrivePolicy'] }));
  assert.equal(a.Attributes?.RedrivePolicy, undefined, 'rejected policy not stored');
});

test('RedriveAllowPolicy allowAll / byQueue with the source ARN: RedrivePolicy accepted', T, async () => {
  const all = await newQueue('dlqall', { RedriveAllowPolicy: allow('allowAll') });
  const src1 = await newQueue('srcall', { RedrivePolicy: redrive(all.name) });
  const a1 = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: src1.url, AttributeNames: ['RedrivePolicy'] }));
  assert.equal(JSON.parse(a1.Attributes.RedrivePolicy).deadLetterTargetArn, queueArn(all.name));

  const srcName = uniqueName('srcby');
  const by = await newQueue('dlqby', {
    RedriveAllowPolicy: allow('byQueue', [queueArn(uniqueName('other')), queueArn(srcName)]),
  });
  const src2 = await sqs.send(new CreateQueueCommand({ QueueName: srcName, Attributes: { RedrivePolicy: redrive(by.name) } }));
  const a2 = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: src2.QueueUrl, AttributeNames: ['RedrivePolicy'] }));
  assert.equal(JSON.parse(a2.Attributes.RedrivePolicy).deadLetterTargetArn, queueArn(by.name));
  const p = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: by.url, AttributeNames: ['RedriveAllowPolicy'] }));
  assert.equal(JSON.parse(p.Attributes.RedriveAllowPolicy).redrivePermission, 'byQueue');
});

test('a message moved to the DLQ keeps its MessageId and gains DeadLetterQueueSourceArn', T, async () => {
  const dlq = await newQueue('dlqkeep');
  const src = await newQueue('srckeep', { RedrivePolicy: redrive(dlq.name, 1) });
  const sent = await send(src.url, 'to the dlq');
  assert.equal((await receive(src.url, { VisibilityTimeout: 0 })).Messages?.[0]?.MessageId, sent.MessageId);
  assert.equal((await receive(src.url, { VisibilityTimeout: 0 })).Messages, undefined, 'moved on the 2nd receive');
  const r = await receive(dlq.url, { MessageSystemAttributeNames: ['All'] });
  assert.equal(r.Messages?.[0]?.MessageId, sent.MessageId);
  assert.equal(r.Messages[0].Body, 'to the dlq');
  assert.equal(r.Messages[0].Attributes.DeadLetterQueueSourceArn, queueArn(src.name));
});
