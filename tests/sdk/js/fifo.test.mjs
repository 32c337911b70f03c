// FIFO queues through SDK v3: naming, MessageGroupId/MessageDeduplicationId
// rules, the 5-minute de-duplication window (both scopes), SequenceNumber,
// strict per-group order, the group lock, batch fill, delays,
// ReceiveRequestAttemptId and expired receipt handles. Expected values follow
// AWS (reference/sqs.md §1.2, §4.2, §4.5, §4.6, §6.3 items 11-13, 16-17, 19).
// This file moves sluice's clock (POST /_sluice/clock), so it always starts a
// private server, even when SLUICE_ENDPOINT is set.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SetQueueAttributesCommand,
  SendMessageCommand,
  SendMessageBatchCommand,
  ReceiveMessageCommand,
  DeleteMessageCommand,
  ChangeMessageVisibilityCommand,
  PurgeQueueCommand,
  DeleteQueueCommand,
} from '@aws-sdk/client-sqs';
import {
  T, startServer, makeClient, uniqueName, expectSqsError, advanceClock, sleep,
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
const MISSING_GROUP = 'The request must contain the parameter MessageGroupId.';
const NO_DEDUP =
  'The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly';
const SEQ_RE = /^\d{20,}$/;

const sha256Hex = (s) => createHash('sha256').update(s, 'utf8').digest('hex');

/** Creates a FIFO queue `<unique>.fifo`; returns { name, url }. */
async function newFifo(prefix, Attributes = {}) {
  const name = `${uniqueName(prefix)}.fifo`;
  const out = await sqs.send(new CreateQueueCommand({
    QueueName: name,
    Attributes: { FifoQueue: 'true', ...Attributes },
  }));
  return { name, url: out.QueueUrl };
}

/** SendMessage with group and (optional) dedup id. */
const sendF = (QueueUrl, MessageBody, MessageGroupId, MessageDeduplicationId, extra = {}) =>
  sqs.send(new SendMessageCommand({ QueueUrl, MessageBody, MessageGroupId, MessageDeduplicationId, ...extra }));

const receive = (QueueUrl, extra = {}, client = sqs) =>
  client.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 0, ...extra }));

const del = (QueueUrl, ReceiptHandle) => sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle }));

const bodies = (out) => (out.Messages ?? []).map((m) => m.Body);

async function counts(QueueUrl) {
  const out = await sqs.send(new GetQueueAttributesCommand({
    QueueUrl,
    AttributeNames: [
      'ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed',
    ],
  }));
  const a = out.Attributes ?? {};
  return {
    visible: Number(a.ApproximateNumberOfMessages),
    inFlight: Number(a.ApproximateNumberOfMessagesNotVisible),
    delayed: Number(a.ApproximateNumberOfMessagesDelayed),
  };
}

/** Receives and deletes one message at a time until the queue gives nothing. */
async function drain(QueueUrl, max = 100) {
  const got = [];
  for (let i = 0; i < max; i++) {
    const r = await receive(QueueUrl, { MaxNumberOfMessages: 1, MessageSystemAttributeNames: ['All'] });
    if (!r.Messages) break;
    got.push(r.Messages[0]);
    await del(QueueUrl, r.Messages[0].ReceiptHandle);
  }
  return got;
}

// ---- naming and attributes -------------------------------------------------

test('FifoQueue=true requires the .fifo suffix; a standard queue may not have it', T, async () => {
  await expectSqsError(
    sqs.send(new CreateQueueCommand({ QueueName: uniqueName('nosuffix'), Attributes: { FifoQueue: 'true' } })),
    { ...IPV, message: undefined },
  );
  await expectSqsError(
    sqs.send(new CreateQueueCommand({ QueueName: `${uniqueName('std')}.fifo` })),
    { ...IPV, message: undefined },
  );
  const { name, url } = await newFifo('named');
  assert.ok(url.endsWith(`/${name}`), url);
  const a = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }));
  assert.equal(a.Attributes.FifoQueue, 'true');
  assert.equal(a.Attributes.ContentBasedDeduplication, 'false');
  assert.equal(a.Attributes.DeduplicationScope, 'queue');
  assert.equal(a.Attributes.FifoThroughputLimit, 'perQueue');
});

test('a standard queue rejects FIFO-only attributes (InvalidAttributeName)', T, async () => {
  const cases = [
    [{ FifoQueue: 'false' }, 'Unknown Attribute FifoQueue.'],
    [{ ContentBasedDeduplication: 'true' }, 'Unknown Attribute ContentBasedDeduplication.'],
    [{ DeduplicationScope: 'queue' }, 'You can specify the DeduplicationScope only when FifoQueue is set to true.'],
    [{ FifoThroughputLimit: 'perQueue' }, 'You can specify the FifoThroughputLimit only when FifoQueue is set to true.'],
  ];
  for (const [Attributes, message] of cases) {
    await expectSqsError(
      sqs.send(new CreateQueueCommand({ QueueName: uniqueName('stdattr'), Attributes })),
      { code: 'InvalidAttributeName', status: 400, message },
    );
  }
});

test('SetQueueAttributes FifoQueue=false on a FIFO queue: InvalidAttributeValue; FifoQueue=true accepted', T, async () => {
  const { url } = await newFifo('settype');
  await expectSqsError(
    sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { FifoQueue: 'false' } })),
    {
      code: 'InvalidAttributeValue',
      status: 400,
      message: 'Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.',
    },
  );
  await sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { FifoQueue: 'true' } }));
});

// ---- send-side rules ---------------------------------------------------------

test('FIFO SendMessage without MessageGroupId: MissingParameter', T, async () => {
  const { url } = await newFifo('nogroup', { ContentBasedDeduplication: 'true' });
  await expectSqsError(sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x' })), {
    code: 'MissingParameter',
    status: 400,
    message: MISSING_GROUP,
    type: 'MissingRequiredParameterException',
  });
});

test('FIFO SendMessageBatch without MessageGroupId fails the whole request (InvalidParameterValue)', T, async () => {
  const { url } = await newFifo('batchnogroup', { ContentBasedDeduplication: 'true' });
  await expectSqsError(sqs.send(new SendMessageBatchCommand({
    QueueUrl: url,
    Entries: [
      { Id: 'a', MessageBody: 'a', MessageGroupId: 'g' },
      { Id: 'b', MessageBody: 'b' },
    ],
  })), ipv(MISSING_GROUP));
  assert.deepEqual(await counts(url), { visible: 0, inFlight: 0, delayed: 0 });
});

test('FIFO SendMessage without a dedup id while ContentBasedDeduplication is off: InvalidParameterValue', T, async () => {
  const { url } = await newFifo('nodedup');
  await expectSqsError(sendF(url, 'x', 'g'), ipv(NO_DEDUP));
});

test('invalid MessageGroupId / MessageDeduplicationId on FIFO: InvalidParameterValue with AWS text', T, async () => {
  const { url } = await newFifo('badids');
  const groupMsg = (v) =>
    `Value ${v} for parameter MessageGroupId is invalid. Reason: MessageGroupId can only include alphanumeric and punctuation characters. 1 to 128 in length.`;
  const dedupMsg = (v) =>
    `Value ${v} for parameter MessageDeduplicationId is invalid. Reason: MessageDeduplicationId can only include alphanumeric and punctuation characters. 1 to 128 in length.`;
  for (const bad of ['group 123', 'a'.repeat(129)]) {
    await expectSqsError(sendF(url, 'x', bad, 'd1'), ipv(groupMsg(bad)));
    await expectSqsError(sendF(url, 'x', 'g', bad), ipv(dedupMsg(bad)));
  }
  // 128 characters of the allowed punctuation set are fine.
  const punct = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';
  const ok128 = (punct + 'a'.repeat(128)).slice(0, 128);
  const out = await sendF(url, 'x', ok128, ok128);
  assert.match(out.SequenceNumber, SEQ_RE);
});

test('FIFO per-message DelaySeconds=2: InvalidParameterValue; DelaySeconds=0 accepted', T, async () => {
  const { url } = await newFifo('msgdelay', { ContentBasedDeduplication: 'true' });
  await expectSqsError(
    sendF(url, 'delayed', 'g', undefined, { DelaySeconds: 2 }),
    ipv('Value 2 for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.'),
  );
  const ok = await sendF(url, 'zero', 'g', undefined, { DelaySeconds: 0 });
  assert.match(ok.SequenceNumber, SEQ_RE);
  const r = await receive(url);
  assert.deepEqual(bodies(r), ['zero']);
});

test('FIFO queue-level DelaySeconds is honoured (also with a per-message 0)', T, async () => {
  const { url } = await newFifo('qdelay', { ContentBasedDeduplication: 'true', DelaySeconds: '5' });
  await sendF(url, 'first', 'g');
  await sendF(url, 'second', 'g', undefined, { DelaySeconds: 0 });
  assert.equal((await receive(url, { MaxNumberOfMessages: 10 })).Messages, undefined, 'delayed at once');
  assert.deepEqual(await counts(url), { visible: 0, inFlight: 0, delayed: 2 });
  await advanceClock(server.endpoint, 3);
  assert.equal((await receive(url, { MaxNumberOfMessages: 10 })).Messages, undefined, 'still delayed at 3 s');
  await advanceClock(server.endpoint, 2.5);
  const r = await receive(url, { MaxNumberOfMessages: 10 });
  assert.deepEqual(bodies(r), ['first', 'second']);
});

// ---- SequenceNumber ------------------------------------------------------------

test('SequenceNumber: >= 20 digits, strictly increasing, echoed on receive; absent on standard queues', T, async () => {
  const { url } = await newFifo('seq');
  const sent = [];
  for (let i = 0; i < 5; i++) {
    const out = await sendF(url, `m${i}`, i % 2 ? 'g1' : 'g2', `d${i}`);
    assert.match(out.SequenceNumber, SEQ_RE, `send ${i}: ${out.SequenceNumber}`);
    sent.push(out);
  }
  for (let i = 1; i < sent.length; i++) {
    assert.ok(BigInt(sent[i].SequenceNumber) > BigInt(sent[i - 1].SequenceNumber),
      `${sent[i].SequenceNumber} > ${sent[i - 1].SequenceNumber}`);
  }
  // Another queue's numbers keep increasing too (LocalStack and AWS use one global counter).
  const other = await newFifo('seq2');
  const o = await sendF(other.url, 'x', 'g', 'd');
  assert.ok(BigInt(o.SequenceNumber) > BigInt(sent[4].SequenceNumber));

  const got = await drain(url);
  assert.equal(got.length, 5);
  const bySeq = Object.fromEntries(sent.map((s) => [s.MessageId, s.SequenceNumber]));
  for (const m of got) {
    assert.equal(m.Attributes.SequenceNumber, bySeq[m.MessageId], `SequenceNumber of ${m.Body}`);
    assert.ok(['g1', 'g2'].includes(m.Attributes.MessageGroupId));
    assert.match(m.Attributes.MessageDeduplicationId, /^d\d$/);
  }

  const std = (await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('seqstd') }))).QueueUrl;
  const s = await sqs.send(new SendMessageCommand({ QueueUrl: std, MessageBody: 'x' }));
  assert.equal(s.SequenceNumber, undefined);
});

test('SendMessageBatch on FIFO: per-group order and increasing SequenceNumbers in entry order', T, async () => {
  const { url } = await newFifo('batchorder');
  const Entries = [];
  for (let i = 0; i < 10; i++) {
    Entries.push({ Id: `e${i}`, MessageBody: `${i % 2 ? 'b' : 'a'}-${i}`, MessageGroupId: i % 2 ? 'b' : 'a', MessageDeduplicationId: `d${i}` });
  }
  const out = await sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries }));
  assert.deepEqual(out.Failed ?? [], []);
  assert.equal(out.Successful.length, 10);
  const byId = Object.fromEntries(out.Successful.map((e) => [e.Id, e]));
  for (let i = 0; i < 10; i++) {
    assert.match(byId[`e${i}`].SequenceNumber, SEQ_RE);
    if (i > 0) assert.ok(BigInt(byId[`e${i}`].SequenceNumber) > BigInt(byId[`e${i - 1}`].SequenceNumber));
  }
  const got = await drain(url);
  assert.deepEqual(got.filter((m) => m.Attributes.MessageGroupId === 'a').map((m) => m.Body),
    ['a-0', 'a-2', 'a-4', 'a-6', 'a-8']);
  assert.deepEqual(got.filter((m) => m.Attributes.MessageGroupId === 'b').map((m) => m.Body),
    ['b-1', 'b-3', 'b-5', 'b-7', 'b-9']);
});

// ---- de-duplication ---------------------------------------------------------------

test('ContentBasedDeduplication: the same body is de-duplicated (attributes ignored); an explicit id overrides', T, async () => {
  const { url } = await newFifo('cbd', { ContentBasedDeduplication: 'true' });
  const first = await sendF(url, 'same body', 'g');
  const dup = await sendF(url, 'same body', 'g', undefined, {
    MessageAttributes: { a: { DataType: 'String', StringValue: 'differs' } },
  });
  assert.equal(dup.MessageId, first.MessageId, 'duplicate answers with the first MessageId');
  assert.equal(dup.SequenceNumber, first.SequenceNumber, 'and the first SequenceNumber');
  const other = await sendF(url, 'other body', 'g');
  assert.notEqual(other.MessageId, first.MessageId);
  // An explicit MessageDeduplicationId replaces the body hash.
  const x1 = await sendF(url, 'same body', 'g', 'explicit-1');
  const x2 = await sendF(url, 'same body', 'g', 'explicit-2');
  assert.notEqual(x1.MessageId, first.MessageId);
  assert.notEqual(x2.MessageId, x1.MessageId);

  const got = await drain(url);
  assert.deepEqual(got.map((m) => m.Body), ['same body', 'other body', 'same body', 'same body']);
  assert.deepEqual(got.map((m) => m.MessageId), [first.MessageId, other.MessageId, x1.MessageId, x2.MessageId]);
  // The generated de-duplication id is the SHA-256 (hex) of the body.
  assert.equal(got[0].Attributes.MessageDeduplicationId, sha256Hex('same body'));
  assert.equal(got[2].Attributes.MessageDeduplicationId, 'explicit-1');
});

test('explicit MessageDeduplicationId: a duplicate returns 200 with the first MessageId and is not enqueued', T, async () => {
  const { url } = await newFifo('dedup');
  const first = await sendF(url, 'one', 'g', 'dup-id');
  const again = await sendF(url, 'a different body', 'g', 'dup-id');
  assert.equal(again.MessageId, first.MessageId);
  assert.equal(again.SequenceNumber, first.SequenceNumber);
  // Default DeduplicationScope is the queue: another group does not escape it.
  const otherGroup = await sendF(url, 'three', 'other', 'dup-id');
  assert.equal(otherGroup.MessageId, first.MessageId);
  assert.deepEqual(await counts(url), { visible: 1, inFlight: 0, delayed: 0 });
  const got = await drain(url);
  assert.deepEqual(got.map((m) => m.Body), ['one']);
});

test('de-duplication outlives receive and delete; after 301 s the same id enqueues a new message', T, async () => {
  const { url } = await newFifo('dedupwin');
  const first = await sendF(url, 'payload', 'g', 'window-id');
  const r = await receive(url);
  assert.equal(r.Messages?.[0]?.MessageId, first.MessageId);
  await del(url, r.Messages[0].ReceiptHandle);

  const dup = await sendF(url, 'payload', 'g', 'window-id');
  assert.equal(dup.MessageId, first.MessageId, 'still a duplicate after delete');
  assert.equal(dup.SequenceNumber, first.SequenceNumber);
  assert.equal((await receive(url)).Messages, undefined, 'nothing enqueued');

  await advanceClock(server.endpoint, 200);
  const dup2 = await sendF(url, 'payload', 'g', 'window-id');
  assert.equal(dup2.MessageId, first.MessageId, 'still inside the 5-minute window at 200 s');
  assert.equal((await receive(url)).Messages, undefined);

  await advanceClock(server.endpoint, 101); // 301 s after the first send
  const fresh = await sendF(url, 'payload', 'g', 'window-id');
  assert.notEqual(fresh.MessageId, first.MessageId, 'a new message after the window');
  assert.ok(BigInt(fresh.SequenceNumber) > BigInt(first.SequenceNumber));
  const r2 = await receive(url);
  assert.equal(r2.Messages?.[0]?.MessageId, fresh.MessageId);
});

test('PurgeQueue clears the de-duplication cache', T, async () => {
  const { url } = await newFifo('dedupurge');
  const first = await sendF(url, 'p', 'g', 'purge-id');
  await sqs.send(new PurgeQueueCommand({ QueueUrl: url }));
  const again = await sendF(url, 'p', 'g', 'purge-id');
  assert.notEqual(again.MessageId, first.MessageId);
  assert.equal((await receive(url)).Messages?.[0]?.MessageId, again.MessageId);
});

test('DeduplicationScope=messageGroup: the same id in two groups gives two messages', T, async () => {
  const { url } = await newFifo('scope', {
    DeduplicationScope: 'messageGroup', FifoThroughputLimit: 'perMessageGroupId',
  });
  const a = await sendF(url, 'x', 'ga', 'shared-id');
  const b = await sendF(url, 'x', 'gb', 'shared-id');
  assert.notEqual(a.MessageId, b.MessageId);
  const a2 = await sendF(url, 'x', 'ga', 'shared-id');
  assert.equal(a2.MessageId, a.MessageId, 'still a duplicate within its own group');
  assert.deepEqual(await counts(url), { visible: 2, inFlight: 0, delayed: 0 });

  // Content-based ids are scoped per group as well.
  const cbd = await newFifo('scopecbd', { DeduplicationScope: 'messageGroup', ContentBasedDeduplication: 'true' });
  const c1 = await sendF(cbd.url, 'same', 'g1');
  const c2 = await sendF(cbd.url, 'same', 'g2');
  const c3 = await sendF(cbd.url, 'same', 'g1');
  assert.notEqual(c1.MessageId, c2.MessageId);
  assert.equal(c3.MessageId, c1.MessageId);
  assert.deepEqual(await counts(cbd.url), { visible: 2, inFlight: 0, delayed: 0 });
});

// ---- ordering and the group lock -----------------------------------------------------

test('strict order within a group across many messages', T, async () => {
  const { url } = await newFifo('order', { ContentBasedDeduplication: 'true' });
  for (let i = 0; i < 25; i++) await sendF(url, `m${String(i).padStart(2, '0')}`, 'only');
  const got = [];
  for (let i = 0; i < 10 && got.length < 25; i++) {
    const r = await receive(url, { MaxNumberOfMessages: 10 });
    for (const m of r.Messages ?? []) {
      got.push(m.Body);
      await del(url, m.ReceiptHandle);
    }
  }
  assert.deepEqual(got, Array.from({ length: 25 }, (_, i) => `m${String(i).padStart(2, '0')}`));
});

test('group lock: while a group has a message in flight no later one is delivered; other groups are', T, async () => {
  const { url } = await newFifo('lock', { ContentBasedDeduplication: 'true' });
  await sendF(url, 'g1-a', 'g1');
  await sendF(url, 'g1-b', 'g1');
  await sendF(url, 'g2-a', 'g2');

  const r1 = await receive(url, { VisibilityTimeout: 30 });
  assert.deepEqual(bodies(r1), ['g1-a']);
  const r2 = await receive(url, { MaxNumberOfMessages: 10, VisibilityTimeout: 30 });
  assert.deepEqual(bodies(r2), ['g2-a'], 'g1-b held back while g1-a is in flight');
  assert.equal((await receive(url, { MaxNumberOfMessages: 10 })).Messages, undefined);
  assert.deepEqual(await counts(url), { visible: 1, inFlight: 2, delayed: 0 });

  // Sending into a locked group does not unlock it (localstack#8724, AWS-checked there).
  await sendF(url, 'g1-c', 'g1');
  assert.equal((await receive(url, { MaxNumberOfMessages: 10 })).Messages, undefined, 'a send does not unlock g1');

  await del(url, r1.Messages[0].ReceiptHandle);
  const r3 = await receive(url, { MaxNumberOfMessages: 10 });
  assert.deepEqual(bodies(r3), ['g1-b', 'g1-c'], 'the next ones come after the delete');
});

test('extended visibility on the head message keeps the whole group back (localstack#12457)', T, async () => {
  const { url } = await newFifo('headext', { ContentBasedDeduplication: 'true', VisibilityTimeout: '10' });
  for (const b of ['m1', 'm2', 'm3']) await sendF(url, b, 'g');
  const r = await receive(url, { MaxNumberOfMessages: 5 });
  assert.deepEqual(bodies(r), ['m1', 'm2', 'm3']);
  await sqs.send(new ChangeMessageVisibilityCommand({
    QueueUrl: url, ReceiptHandle: r.Messages[0].ReceiptHandle, VisibilityTimeout: 15,
  }));
  await advanceClock(server.endpoint, 12);
  assert.equal((await receive(url, { MaxNumberOfMessages: 10 })).Messages, undefined,
    'm2 and m3 are visible again but m1 is not: nothing from the group');
  await advanceClock(server.endpoint, 4);
  assert.deepEqual(bodies(await receive(url, { MaxNumberOfMessages: 10 })), ['m1', 'm2', 'm3']);
});

test('extended visibility on a later message: the group delivers up to it (localstack PR #13386)', T, async () => {
  const { url } = await newFifo('midext', { ContentBasedDeduplication: 'true', VisibilityTimeout: '10' });
  for (const b of ['m1', 'm2', 'm3']) await sendF(url, b, 'g');
  const r = await receive(url, { MaxNumberOfMessages: 5 });
  assert.deepEqual(bodies(r), ['m1', 'm2', 'm3']);
  await sqs.send(new ChangeMessageVisibilityCommand({
    QueueUrl: url, ReceiptHandle: r.Messages[1].ReceiptHandle, VisibilityTimeout: 15,
  }));
  await advanceClock(server.endpoint, 12);
  assert.deepEqual(bodies(await receive(url, { MaxNumberOfMessages: 10 })), ['m1'],
    'm1 comes back; m3 waits behind the still-invisible m2');
});

test('group lock after a multi-message receive: deleting the first of two in flight releases nothing', T, async () => {
  const { url } = await newFifo('lock2', { ContentBasedDeduplication: 'true' });
  for (const b of ['m1', 'm2', 'm3']) await sendF(url, b, 'g');
  const r = await receive(url, { MaxNumberOfMessages: 2, VisibilityTimeout: 30 });
  assert.deepEqual(bodies(r), ['m1', 'm2']);
  await del(url, r.Messages[0].ReceiptHandle);
  assert.equal((await receive(url, { MaxNumberOfMessages: 10 })).Messages, undefined, 'm2 still in flight');
  await del(url, r.Messages[1].ReceiptHandle);
  assert.deepEqual(bodies(await receive(url, { MaxNumberOfMessages: 10 })), ['m3']);
});

test('visibility expiry (clock advanced) brings the same first message of the group back', T, async () => {
  const { url } = await newFifo('expiry', { ContentBasedDeduplication: 'true' });
  const a = await sendF(url, 'first', 'g');
  await sendF(url, 'second', 'g');
  const r1 = await receive(url, { VisibilityTimeout: 30, MessageSystemAttributeNames: ['ApproximateReceiveCount'] });
  assert.equal(r1.Messages?.[0]?.MessageId, a.MessageId);
  assert.equal(r1.Messages[0].Attributes.ApproximateReceiveCount, '1');

  await advanceClock(server.endpoint, 20);
  assert.equal((await receive(url, { MaxNumberOfMessages: 10 })).Messages, undefined, 'locked at 20 s');
  await advanceClock(server.endpoint, 11);
  const r2 = await receive(url, {
    MaxNumberOfMessages: 1, VisibilityTimeout: 30, MessageSystemAttributeNames: ['ApproximateReceiveCount'],
  });
  assert.equal(r2.Messages?.[0]?.MessageId, a.MessageId, 'the same first message comes back');
  assert.equal(r2.Messages[0].Attributes.ApproximateReceiveCount, '2');
  assert.notEqual(r2.Messages[0].ReceiptHandle, r1.Messages[0].ReceiptHandle);

  // ChangeMessageVisibility 0 releases the group at once, again with the head message.
  await sqs.send(new ChangeMessageVisibilityCommand({
    QueueUrl: url, ReceiptHandle: r2.Messages[0].ReceiptHandle, VisibilityTimeout: 0,
  }));
  const r3 = await receive(url, { MaxNumberOfMessages: 10 });
  assert.deepEqual(bodies(r3), ['first', 'second']);
});

test('one receive fills from one group first (AWS example: g1-m1, g1-m2, g2-m1)', T, async () => {
  for (const VisibilityTimeout of [0, 30]) {
    const { url } = await newFifo(`fill${VisibilityTimeout}`, { ContentBasedDeduplication: 'true' });
    for (const [g, b] of [['g1', 'g1-m1'], ['g2', 'g2-m1'], ['g2', 'g2-m2'], ['g3', 'g3-m1'], ['g1', 'g1-m2']]) {
      await sendF(url, b, g);
    }
    const r = await receive(url, { MaxNumberOfMessages: 3, VisibilityTimeout });
    assert.deepEqual(bodies(r), ['g1-m1', 'g1-m2', 'g2-m1'], `VisibilityTimeout ${VisibilityTimeout}`);
    if (VisibilityTimeout === 30) {
      // g1 is fully in flight and g2 is locked behind g2-m1: only g3 is left.
      const next = await receive(url, { MaxNumberOfMessages: 10 });
      assert.deepEqual(bodies(next), ['g3-m1']);
    }
  }
});

// ---- ReceiveRequestAttemptId ----------------------------------------------------------

test('ReceiveRequestAttemptId: a retry returns the same messages and receipt handles', T, async () => {
  const { url } = await newFifo('attempt', { ContentBasedDeduplication: 'true' });
  for (const b of ['m1', 'm2', 'm3']) await sendF(url, b, 'g');
  const first = await receive(url, { MaxNumberOfMessages: 2, VisibilityTimeout: 30, ReceiveRequestAttemptId: 'attempt-1' });
  assert.deepEqual(bodies(first), ['m1', 'm2']);
  const retry = await receive(url, { MaxNumberOfMessages: 2, VisibilityTimeout: 30, ReceiveRequestAttemptId: 'attempt-1' });
  assert.deepEqual(retry.Messages.map((m) => m.MessageId), first.Messages.map((m) => m.MessageId));
  assert.deepEqual(retry.Messages.map((m) => m.ReceiptHandle), first.Messages.map((m) => m.ReceiptHandle));
  // A different attempt id is a new receive: the group is locked.
  const other = await receive(url, { MaxNumberOfMessages: 10, ReceiveRequestAttemptId: 'attempt-2' });
  assert.equal(other.Messages, undefined);
  // The handles from the retry work.
  for (const m of retry.Messages) await del(url, m.ReceiptHandle);
  assert.deepEqual(bodies(await receive(url, { MaxNumberOfMessages: 10 })), ['m3']);
});

test('ReceiveRequestAttemptId: a retry within the window resets the visibility timeout', T, async () => {
  const { url } = await newFifo('attemptvis', { ContentBasedDeduplication: 'true' });
  await sendF(url, 'only', 'g');
  const first = await receive(url, { VisibilityTimeout: 10, ReceiveRequestAttemptId: 'retry-vis' });
  assert.deepEqual(bodies(first), ['only']);
  await advanceClock(server.endpoint, 8);
  const retry = await receive(url, { VisibilityTimeout: 10, ReceiveRequestAttemptId: 'retry-vis' });
  assert.equal(retry.Messages?.[0]?.ReceiptHandle, first.Messages[0].ReceiptHandle);
  await advanceClock(server.endpoint, 8); // 16 s after the first receive, 8 s after the retry
  assert.equal((await receive(url)).Messages, undefined, 'still invisible: the retry restarted the timeout');
  await advanceClock(server.endpoint, 3);
  assert.deepEqual(bodies(await receive(url)), ['only']);
});

/** Receive on X with attempt id A, delete X, create Y (new name, or X's
 * name after the 60 s cool-down), send to Y, receive on Y with A: Y's own
 * message and a fresh handle, never X's old answer. */
async function attemptAfterDelete(sameName) {
  const x = await newFifo('attemptdel', { ContentBasedDeduplication: 'true' });
  await sendF(x.url, 'old-in-x', 'g');
  const first = await receive(x.url, { VisibilityTimeout: 30, ReceiveRequestAttemptId: 'attempt-del' });
  assert.deepEqual(bodies(first), ['old-in-x']);
  await sqs.send(new DeleteQueueCommand({ QueueUrl: x.url }));
  let name = `${uniqueName('attemptdel')}.fifo`;
  if (sameName) {
    await advanceClock(server.endpoint, 61); // past the delete/re-create cool-down
    name = x.name;
  }
  const y = (await sqs.send(new CreateQueueCommand({
    QueueName: name, Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'true' },
  }))).QueueUrl;
  const sent = await sendF(y, 'new-in-y', 'g');
  const got = await receive(y, { VisibilityTimeout: 30, ReceiveRequestAttemptId: 'attempt-del' });
  assert.deepEqual(bodies(got), ['new-in-y']);
  assert.equal(got.Messages[0].MessageId, sent.MessageId);
  assert.notEqual(got.Messages[0].ReceiptHandle, first.Messages[0].ReceiptHandle);
  await del(y, got.Messages[0].ReceiptHandle);
  assert.deepEqual(await counts(y), { visible: 0, inFlight: 0, delayed: 0 });
}

test('ReceiveRequestAttemptId does not survive DeleteQueue: a new queue gets its own message', T,
  () => attemptAfterDelete(false));

test('ReceiveRequestAttemptId does not survive DeleteQueue: the re-created queue (after 60 s) gets its own message', T,
  () => attemptAfterDelete(true));

// ---- receipt handles ------------------------------------------------------------------

test('FIFO DeleteMessage with a handle whose visibility expired: InvalidParameterValue "The receipt handle has expired."', T, async () => {
  const { url } = await newFifo('expired', { ContentBasedDeduplication: 'true' });
  const sent = await sendF(url, 'x', 'g');
  const r = await receive(url, { VisibilityTimeout: 5 });
  const h = r.Messages[0].ReceiptHandle;
  await advanceClock(server.endpoint, 6);
  await expectSqsError(
    del(url, h),
    ipv(`Value ${h} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired.`),
  );
  const again = await receive(url);
  assert.equal(again.Messages?.[0]?.MessageId, sent.MessageId, 'the message was not deleted');
  await del(url, again.Messages[0].ReceiptHandle);
  assert.equal((await receive(url)).Messages, undefined);
});

test('FIFO: extending visibility keeps the receipt handle valid', T, async () => {
  const { url } = await newFifo('extend', { ContentBasedDeduplication: 'true' });
  await sendF(url, 'x', 'g');
  const r = await receive(url, { VisibilityTimeout: 5 });
  const h = r.Messages[0].ReceiptHandle;
  await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle: h, VisibilityTimeout: 60 }));
  await advanceClock(server.endpoint, 10);
  await del(url, h);
  assert.deepEqual(await counts(url), { visible: 0, inFlight: 0, delayed: 0 });
});

// ---- dead-letter queues ------------------------------------------------------------

test('a FIFO queue needs a FIFO DLQ and a standard queue a standard one', T, async () => {
  const fifoDlq = await newFifo('fdlq');
  const stdDlqName = uniqueName('sdlq');
  await sqs.send(new CreateQueueCommand({ QueueName: stdDlqName }));
  const arn = (name) => `arn:aws:sqs:us-east-1:000000000000:${name}`;
  await expectSqsError(sqs.send(new CreateQueueCommand({
    QueueName: `${uniqueName('fsrc')}.fifo`,
    Attributes: {
      FifoQueue: 'true',
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arn(stdDlqName), maxReceiveCount: 1 }),
    },
  })), { ...IPV, message: undefined });
  await expectSqsError(sqs.send(new CreateQueueCommand({
    QueueName: uniqueName('ssrc'),
    Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arn(fifoDlq.name), maxReceiveCount: 1 }) },
  })), { ...IPV, message: undefined });
});

test('FIFO redrive: the message keeps MessageId and MessageGroupId in the DLQ; the group moves on', T, async () => {
  const dlq = await newFifo('fdlqmove');
  const { url } = await newFifo('fsrcmove', {
    ContentBasedDeduplication: 'true',
    RedrivePolicy: JSON.stringify({
      deadLetterTargetArn: `arn:aws:sqs:us-east-1:000000000000:${dlq.name}`, maxReceiveCount: 1,
    }),
  });
  const poison = await sendF(url, 'poison', 'g');
  await sendF(url, 'next', 'g');
  assert.deepEqual(bodies(await receive(url, { VisibilityTimeout: 0 })), ['poison']);
  // The 2nd receive moves poison to the DLQ (it may or may not also return
  // the next message); then the group continues with 'next'.
  const later = [];
  for (let i = 0; i < 3 && later.length === 0; i++) {
    later.push(...bodies(await receive(url, { VisibilityTimeout: 30 })));
  }
  assert.deepEqual(later, ['next'], 'poison never comes back; the group continues');
  const d = await receive(dlq.url, { MessageSystemAttributeNames: ['All'] });
  assert.equal(d.Messages?.[0]?.MessageId, poison.MessageId);
  assert.equal(d.Messages[0].Attributes.MessageGroupId, 'g');
});

// ---- concurrency -----------------------------------------------------------------------

test('4 concurrent receivers, 2 groups x 20: per-group delete order equals send order, no redelivery', { timeout: 60000 }, async () => {
  const { url } = await newFifo('concurrent', { ContentBasedDeduplication: 'true' });
  const sent = { A: [], B: [] };
  for (let i = 0; i < 20; i++) {
    for (const g of ['A', 'B']) {
      const out = await sendF(url, `${g}-${String(i).padStart(2, '0')}`, g);
      sent[g].push(out.MessageId);
    }
  }
  const deleted = { A: [], B: [] };
  const seen = new Map();
  let done = 0;
  const clients = Array.from({ length: 4 }, () => makeClient(server.endpoint));
  const deadline = Date.now() + 45000;
  try {
    await Promise.all(clients.map(async (c) => {
      while (done < 40 && Date.now() < deadline) {
        const r = await receive(url, {
          MaxNumberOfMessages: 1, VisibilityTimeout: 30, MessageSystemAttributeNames: ['MessageGroupId'],
        }, c);
        const m = r.Messages?.[0];
        if (!m) {
          await sleep(10);
          continue;
        }
        seen.set(m.MessageId, (seen.get(m.MessageId) ?? 0) + 1);
        await c.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle }));
        deleted[m.Attributes.MessageGroupId].push(m.MessageId);
        done++;
      }
    }));
  } finally {
    for (const c of clients) c.destroy();
  }
  assert.equal(done, 40, `deleted ${done} of 40 before the deadline`);
  for (const [id, n] of seen) assert.equal(n, 1, `${id} delivered ${n} times`);
  assert.deepEqual(deleted.A, sent.A, 'group A in send order');
  assert.deepEqual(deleted.B, sent.B, 'group B in send order');
});
