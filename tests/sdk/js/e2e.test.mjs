// SQS -> Lambda end to end: messages sent with @aws-sdk/client-sqs reach the
// handlers of tests/e2e/e2e.yaml through sluice's event source mappings; the
// tests assert what the handler received (tests/e2e/handlers/record.py
// records every event) and what is left in each queue and its dead-letter
// queue (reference/lambda.md §1). Success, crash, timeout, partial batch
// responses (valid and invalid), filters, maximum concurrency, reserved
// concurrency, FIFO order, disable/enable, latency, and a restart with a batch
// in flight (tests/e2e/restart.yaml).
// This file moves sluice's clock to expire visibility timeouts, so it always
// starts private servers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GetQueueUrlCommand,
  GetQueueAttributesCommand,
  SendMessageCommand,
  SendMessageBatchCommand,
  ReceiveMessageCommand,
} from '@aws-sdk/client-sqs';
import {
  ListEventSourceMappingsCommand,
  GetEventSourceMappingCommand,
  UpdateEventSourceMappingCommand,
} from '@aws-sdk/client-lambda';
import {
  T, startServer, makeClient, makeLambdaClient, stageE2eConfig, readJsonLines, waitFor, sleep, advanceClock,
  clockCall, queueArn, functionArn, functionLog, md5Hex, md5OfAttributes, UUID_RE, REGION,
} from './harness.mjs';

let server;
let stage;
let sqs;
let lambda;

before(async () => {
  stage = stageE2eConfig('e2e.yaml');
  server = await startServer({ configFile: stage.file });
  sqs = makeClient(server.endpoint);
  lambda = await makeLambdaClient(server.endpoint);
}, T);

after(async () => {
  sqs?.destroy();
  lambda?.destroy();
  try {
    await server?.stop();
  } finally {
    stage?.cleanup();
  }
}, T);

const EVENT_KEYS = [
  'attributes', 'awsRegion', 'body', 'eventSource', 'eventSourceARN', 'md5OfBody', 'md5OfMessageAttributes',
  'messageAttributes', 'messageId', 'receiptHandle',
];
const TRACE_HEADER = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';

// ---- helpers ----------------------------------------------------------------

const urls = new Map();
async function qurl(name, client = sqs) {
  if (client === sqs && urls.has(name)) return urls.get(name);
  const out = await client.send(new GetQueueUrlCommand({ QueueName: name }));
  if (client === sqs) urls.set(name, out.QueueUrl);
  return out.QueueUrl;
}

async function counts(name, client = sqs) {
  const out = await client.send(new GetQueueAttributesCommand({
    QueueUrl: await qurl(name, client),
    AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
  }));
  return {
    visible: Number(out.Attributes.ApproximateNumberOfMessages),
    inFlight: Number(out.Attributes.ApproximateNumberOfMessagesNotVisible),
  };
}

/** Waits until the queue holds exactly `want` ({visible, inFlight}). */
async function waitCounts(name, want, timeoutMs = 5000, client = sqs) {
  return waitFor(async () => {
    const c = await counts(name, client);
    return c.visible === want.visible && c.inFlight === want.inFlight ? c : null;
  }, { timeoutMs, what: `${name} to hold ${JSON.stringify(want)} (now ${JSON.stringify(await counts(name, client))})` });
}

async function send(name, MessageBody, extra = {}) {
  return sqs.send(new SendMessageCommand({ QueueUrl: await qurl(name), MessageBody, ...extra }));
}

/** SendMessageBatch of bodies (strings or {body, ...entry}); returns the MessageIds in order. */
async function sendBatch(name, items) {
  const Entries = items.map((it, i) => (typeof it === 'string'
    ? { Id: `m${i}`, MessageBody: it }
    : { Id: `m${i}`, MessageBody: it.body, ...it.entry }));
  const out = await sqs.send(new SendMessageBatchCommand({ QueueUrl: await qurl(name), Entries }));
  assert.equal((out.Failed ?? []).length, 0, `SendMessageBatch failed: ${JSON.stringify(out.Failed)}`);
  const byId = Object.fromEntries(out.Successful.map((s) => [s.Id, s.MessageId]));
  return Entries.map((e) => byId[e.Id]);
}

const recordFile = (fn, st = stage) => st.path(`records/${fn}.jsonl`);
const records = (fn, st = stage) => readJsonLines(recordFile(fn, st));
const starts = (fn, st = stage) => records(fn, st).filter((r) => r.phase === 'start');

/** Every SQS record the function received: [{ rec, inv }] with inv the start line. */
function deliveries(fn, st = stage) {
  return starts(fn, st).flatMap((inv) => (inv.event.Records ?? []).map((rec) => ({ rec, inv })));
}

/** Deliveries of one message id. */
const deliveriesOf = (fn, id, st = stage) => deliveries(fn, st).filter((d) => d.rec.messageId === id);

/** Invocations (start + end) that have finished: [{ start, end }]. */
function finished(fn, st = stage) {
  const recs = records(fn, st);
  const ends = new Map(recs.filter((r) => r.phase === 'end').map((r) => [r.requestId, r]));
  return recs.filter((r) => r.phase === 'start' && ends.has(r.requestId))
    .map((start) => ({ start, end: ends.get(start.requestId) }));
}

/** Waits until every id has been delivered at least once in a finished invocation. */
async function waitProcessed(fn, ids, timeoutMs = 5000) {
  return waitFor(() => {
    const done = new Set(finished(fn).flatMap(({ start }) => (start.event.Records ?? []).map((r) => r.messageId)));
    return ids.every((id) => done.has(id));
  }, { timeoutMs, what: `${fn} to process ${ids.length} message(s)` });
}

/** Waits for the REPORT line of requestId in /aws/lambda/<fn> (the invocation is over). */
async function waitReport(fn, requestId, endpoint = server.endpoint, timeoutMs = 5000) {
  return waitFor(async () => (await functionLog(endpoint, fn)).includes(`REPORT RequestId: ${requestId}`),
    { timeoutMs, intervalMs: 50, what: `REPORT ${requestId} in /aws/lambda/${fn}` });
}

/** The largest number of [t_start, t_end] intervals open at once. */
function maxOverlap(intervals) {
  const points = intervals.flatMap(([s, e]) => [[s, 1], [e, -1]]);
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1]); // ends before starts at the same ms
  let cur = 0;
  let max = 0;
  for (const [, d] of points) {
    cur += d;
    max = Math.max(max, cur);
  }
  return max;
}

async function receiveAll(name, extra = {}) {
  const out = await sqs.send(new ReceiveMessageCommand({
    QueueUrl: await qurl(name), MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 60,
    MessageSystemAttributeNames: ['All'], ...extra,
  }));
  return out.Messages ?? [];
}

async function clockNow() {
  const r = await clockCall(server.endpoint);
  assert.equal(r.status, 200);
  return Number(r.json.now_ms);
}

// ---- success and the event ---------------------------------------------------

test('success: the handler gets AWS\'s exact SQS event; the message is deleted', T, async () => {
  const attrs = {
    Author: { DataType: 'String', StringValue: 'John Grisham' },
    WeeksOn: { DataType: 'Number', StringValue: '6' },
    Thumb: { DataType: 'Binary', BinaryValue: Buffer.from('1100') },
    Shelf: { DataType: 'String.custom', StringValue: 'B-12' },
  };
  const body = JSON.stringify({ orderId: 42, note: 'héllo ✓' });
  const before = await clockNow();
  const sent = await send('ok-q', body, {
    MessageAttributes: attrs,
    MessageSystemAttributes: { AWSTraceHeader: { DataType: 'String', StringValue: TRACE_HEADER } },
  });
  await waitProcessed('ok', [sent.MessageId]);
  const after = await clockNow();
  const [{ rec, inv }] = deliveriesOf('ok', sent.MessageId);
  assert.equal(inv.event.Records.length, 1, 'one record in the batch');
  assert.deepEqual(Object.keys(inv.event), ['Records'], 'the event holds only Records');
  assert.deepEqual(Object.keys(rec).sort(), EVENT_KEYS);

  assert.equal(rec.messageId, sent.MessageId);
  assert.equal(typeof rec.receiptHandle, 'string');
  assert.ok(rec.receiptHandle.length > 0);
  assert.equal(rec.body, body);
  assert.equal(rec.md5OfBody, md5Hex(body));
  assert.equal(rec.md5OfBody, sent.MD5OfMessageBody);
  assert.equal(rec.md5OfMessageAttributes, md5OfAttributes(attrs));
  assert.equal(rec.md5OfMessageAttributes, sent.MD5OfMessageAttributes);
  assert.equal(rec.eventSource, 'aws:sqs');
  assert.equal(rec.eventSourceARN, queueArn('ok-q'));
  assert.equal(rec.awsRegion, REGION);

  assert.deepEqual(rec.messageAttributes, {
    Author: { stringValue: 'John Grisham', stringListValues: [], binaryListValues: [], dataType: 'String' },
    WeeksOn: { stringValue: '6', stringListValues: [], binaryListValues: [], dataType: 'Number' },
    Thumb: { binaryValue: Buffer.from('1100').toString('base64'), stringListValues: [], binaryListValues: [],
      dataType: 'Binary' },
    Shelf: { stringValue: 'B-12', stringListValues: [], binaryListValues: [], dataType: 'String.custom' },
  });

  const a = rec.attributes;
  assert.deepEqual(Object.keys(a).sort(),
    ['AWSTraceHeader', 'ApproximateFirstReceiveTimestamp', 'ApproximateReceiveCount', 'SenderId', 'SentTimestamp']);
  for (const [k, v] of Object.entries(a)) assert.equal(typeof v, 'string', `attributes.${k} is a string`);
  assert.equal(a.ApproximateReceiveCount, '1');
  assert.equal(a.AWSTraceHeader, TRACE_HEADER);
  assert.ok(a.SenderId.length > 0);
  assert.match(a.SentTimestamp, /^\d{13}$/);
  assert.match(a.ApproximateFirstReceiveTimestamp, /^\d{13}$/);
  const sentAt = Number(a.SentTimestamp);
  const firstAt = Number(a.ApproximateFirstReceiveTimestamp);
  assert.ok(sentAt >= before - 5 && sentAt <= after + 5, `SentTimestamp ${sentAt} in [${before}, ${after}]`);
  assert.ok(firstAt >= sentAt && firstAt <= after + 5, `ApproximateFirstReceiveTimestamp ${firstAt}`);

  // The handler ran as the function, with a request id.
  assert.equal(inv.env.AWS_LAMBDA_FUNCTION_NAME, 'ok');
  assert.match(inv.requestId, UUID_RE);
  await waitCounts('ok-q', { visible: 0, inFlight: 0 });
});

test('success: no message attributes -> messageAttributes {} and md5OfMessageAttributes null', T, async () => {
  const sent = await send('ok-q', 'Test message.');
  await waitProcessed('ok', [sent.MessageId]);
  const [{ rec }] = deliveriesOf('ok', sent.MessageId);
  assert.deepEqual(Object.keys(rec).sort(), EVENT_KEYS);
  assert.deepEqual(rec.messageAttributes, {});
  assert.equal(rec.md5OfMessageAttributes, null);
  assert.equal(rec.md5OfBody, md5Hex('Test message.'));
  assert.deepEqual(Object.keys(rec.attributes).sort(),
    ['ApproximateFirstReceiveTimestamp', 'ApproximateReceiveCount', 'SenderId', 'SentTimestamp']);
  await waitCounts('ok-q', { visible: 0, inFlight: 0 });
});

test('success: an SQS message\'s AWSTraceHeader becomes the handler\'s _X_AMZN_TRACE_ID root', T, async () => {
  const sent = await send('ok-q', 'traced', {
    MessageSystemAttributes: { AWSTraceHeader: { DataType: 'String', StringValue: TRACE_HEADER } },
  });
  await waitProcessed('ok', [sent.MessageId]);
  const [{ inv }] = deliveriesOf('ok', sent.MessageId);
  assert.ok((inv.env._X_AMZN_TRACE_ID ?? '').startsWith('Root=1-5759e988-bd862e3fe1be46a994272793;'),
    `_X_AMZN_TRACE_ID=${inv.env._X_AMZN_TRACE_ID}`);
});

test('success: a batch of several messages is one invocation; all are deleted', T, async () => {
  const ids = await sendBatch('ok-q', ['b1', 'b2', 'b3', 'b4', 'b5']);
  await waitProcessed('ok', ids);
  const invs = new Set(ids.map((id) => deliveriesOf('ok', id)[0].inv.requestId));
  assert.ok(invs.size <= 2, `5 messages sent in one SendMessageBatch arrived in ${invs.size} invocations`);
  for (const id of ids) assert.equal(deliveriesOf('ok', id).length, 1, 'each message is delivered once');
  await waitCounts('ok-q', { visible: 0, inFlight: 0 });
});

test('latency: a message sent to an idle queue reaches the handler in under 1 s', T, async (t) => {
  await waitCounts('ok-q', { visible: 0, inFlight: 0 });
  const took = [];
  for (let i = 0; i < 3; i++) {
    await sleep(300); // idle
    const t0 = Date.now();
    const sent = await send('ok-q', `latency ${i}`);
    const d = await waitFor(() => deliveriesOf('ok', sent.MessageId)[0], { timeoutMs: 3000, intervalMs: 5,
      what: 'the latency probe' });
    took.push(d.inv.t - t0);
  }
  t.diagnostic(`send -> handler start: ${took.join(', ')} ms`);
  for (const ms of took) assert.ok(ms < 1000, `send -> handler took ${ms} ms`);
  await waitCounts('ok-q', { visible: 0, inFlight: 0 });
});

// ---- failures and retries -------------------------------------------------------

test('crash: the message comes back (ApproximateReceiveCount 2), then moves to the DLQ', T, async () => {
  const sent = await send('crash-q', 'crash me');
  const first = await waitFor(() => deliveriesOf('crash', sent.MessageId)[0], { what: 'the first delivery' });
  assert.equal(first.rec.attributes.ApproximateReceiveCount, '1');
  await waitReport('crash', first.inv.requestId);
  // Nothing deleted: the message is in flight until its visibility timeout.
  await waitCounts('crash-q', { visible: 0, inFlight: 1 });

  await advanceClock(server.endpoint, 3);
  const second = await waitFor(() => deliveriesOf('crash', sent.MessageId)[1], { what: 'the second delivery' });
  assert.equal(second.rec.attributes.ApproximateReceiveCount, '2');
  assert.equal(second.rec.body, 'crash me');
  assert.equal(second.rec.attributes.ApproximateFirstReceiveTimestamp,
    first.rec.attributes.ApproximateFirstReceiveTimestamp);
  assert.notEqual(second.rec.receiptHandle, first.rec.receiptHandle, 'a new receipt handle per receive');
  await waitReport('crash', second.inv.requestId);
  await waitCounts('crash-q', { visible: 0, inFlight: 1 });

  // maxReceiveCount 2: the next receive moves it to crash-dlq.
  await advanceClock(server.endpoint, 3);
  await waitCounts('crash-dlq', { visible: 1, inFlight: 0 });
  await waitCounts('crash-q', { visible: 0, inFlight: 0 });
  const [dead] = await receiveAll('crash-dlq');
  assert.equal(dead.MessageId, sent.MessageId);
  assert.equal(dead.Body, 'crash me');
  assert.equal(deliveriesOf('crash', sent.MessageId).length, 2, 'no third invocation');
  const fails = await functionLog(server.endpoint, 'crash');
  assert.ok(fails.includes('record.py: failing on purpose'), 'the handler\'s stderr is in the function log');
});

test('timeout: the handler is killed at its timeout; nothing is deleted; then the DLQ', T, async () => {
  const sent = await send('timeout-q', 'too slow');
  const d = await waitFor(() => deliveriesOf('timeout', sent.MessageId)[0], { what: 'the delivery' });
  const t0 = Date.now();
  await waitReport('timeout', d.inv.requestId, server.endpoint, 4000);
  assert.ok(Date.now() - t0 < 2000, 'killed at its 1 s timeout, not after its 4 s sleep');
  assert.deepEqual(records('timeout').filter((r) => r.requestId === d.inv.requestId).map((r) => r.phase), ['start'],
    'the killed handler never finished');
  await waitCounts('timeout-q', { visible: 0, inFlight: 1 });

  // maxReceiveCount 1: once visible again, the message goes to timeout-dlq.
  await advanceClock(server.endpoint, 3);
  await waitCounts('timeout-dlq', { visible: 1, inFlight: 0 });
  await waitCounts('timeout-q', { visible: 0, inFlight: 0 });
  const [dead] = await receiveAll('timeout-dlq');
  assert.equal(dead.MessageId, sent.MessageId);
  assert.equal(deliveriesOf('timeout', sent.MessageId).length, 1);
  const log = await functionLog(server.endpoint, 'timeout');
  assert.match(log, new RegExp(`REPORT RequestId: ${d.inv.requestId}\\tDuration: 1\\d{3}(\\.\\d+)? ms`),
    'REPORT duration about 1000 ms');
});

test('partial batch failure: only the reported items stay, come back, and reach the DLQ', T, async () => {
  const ids = await sendBatch('partial-q', [
    JSON.stringify({ n: 1 }), JSON.stringify({ n: 2, fail: true }), JSON.stringify({ n: 3 }),
  ]);
  await waitProcessed('partial', ids);
  // n=1 and n=3 deleted; n=2 in flight.
  await waitCounts('partial-q', { visible: 0, inFlight: 1 });

  await advanceClock(server.endpoint, 6);
  const again = await waitFor(() => deliveriesOf('partial', ids[1])[1], { what: 'the failed item to come back' });
  assert.equal(again.rec.attributes.ApproximateReceiveCount, '2');
  assert.equal(deliveriesOf('partial', ids[0]).length, 1, 'n=1 was deleted');
  assert.equal(deliveriesOf('partial', ids[2]).length, 1, 'n=3 was deleted');
  await waitReport('partial', again.inv.requestId);
  await waitCounts('partial-q', { visible: 0, inFlight: 1 });

  await advanceClock(server.endpoint, 6);
  await waitCounts('partial-dlq', { visible: 1, inFlight: 0 });
  await waitCounts('partial-q', { visible: 0, inFlight: 0 });
  const [dead] = await receiveAll('partial-dlq');
  assert.equal(dead.MessageId, ids[1]);
  assert.deepEqual(JSON.parse(dead.Body), { n: 2, fail: true });
});

for (const [variant, queue] of [
  ['an itemIdentifier not in the batch', 'invalid-unknown-q'],
  ['an empty itemIdentifier', 'invalid-empty-q'],
  ['a response that is not JSON', 'invalid-json-q'],
]) {
  test(`invalid partial response (${variant}): the whole batch fails`, T, async () => {
    const mode = { 'invalid-unknown-q': 'invalid:unknown', 'invalid-empty-q': 'invalid:empty',
      'invalid-json-q': 'invalid:json' }[queue];
    const ids = await sendBatch(queue, [JSON.stringify({ mode, n: 1 }), JSON.stringify({ mode, n: 2 })]);
    await waitProcessed('invalid', ids);
    for (const id of ids) {
      const [d] = deliveriesOf('invalid', id);
      assert.equal(d.rec.eventSourceARN, queueArn(queue));
      await waitReport('invalid', d.inv.requestId);
    }
    await sleep(100);
    // Nothing deleted.
    await waitCounts(queue, { visible: 0, inFlight: 2 });
    // maxReceiveCount 1: both messages reach the DLQ, which a deleted one could not.
    const dlqBefore = (await counts('invalid-dlq')).visible;
    await advanceClock(server.endpoint, 6);
    await waitCounts(queue, { visible: 0, inFlight: 0 });
    await waitCounts('invalid-dlq', { visible: dlqBefore + 2, inFlight: 0 });
    for (const id of ids) assert.equal(deliveriesOf('invalid', id).length, 1);
  });
}

// ---- filters -----------------------------------------------------------------------

test('filter patterns: matching messages are delivered; the others are deleted without an invocation', T, async () => {
  const ids = await sendBatch('filter-q', [
    JSON.stringify({ kind: 'drop', n: 1 }), // no pattern matches
    'plain text, not JSON', // a body pattern never matches plain text
    { body: JSON.stringify({ kind: 'drop', n: 3 }),
      entry: { MessageAttributes: { priority: { DataType: 'String', StringValue: 'high' } } } }, // pattern 2
    JSON.stringify({ kind: 'keep', n: 4 }), // pattern 1
    { body: JSON.stringify({ kind: 'drop', n: 5 }),
      entry: { MessageAttributes: { priority: { DataType: 'String', StringValue: 'low' } } } }, // none
  ]);
  await waitProcessed('filtered', [ids[2], ids[3]]);
  await waitCounts('filter-q', { visible: 0, inFlight: 0 });
  await sleep(200);
  const got = new Set(deliveries('filtered').map((d) => d.rec.messageId));
  assert.deepEqual([...got].sort(), [ids[2], ids[3]].sort(), 'only the matching messages reach the handler');
  await waitCounts('filter-q', { visible: 0, inFlight: 0 });
});

// ---- concurrency ---------------------------------------------------------------------

test('maximum_concurrency 2: never more than 2 batches at once (and 2 are used)', T, async (t) => {
  const ids = await sendBatch('conc-q', ['c1', 'c2', 'c3', 'c4', 'c5', 'c6']);
  await waitProcessed('conc', ids, 10000);
  const runs = finished('conc');
  assert.equal(runs.length, 6, 'batch_size 1: six invocations');
  const max = maxOverlap(runs.map(({ start, end }) => [start.t, end.t]));
  t.diagnostic(`max concurrent invocations: ${max}`);
  assert.ok(max <= 2, `${max} invocations overlapped; maximum_concurrency is 2`);
  assert.equal(max, 2, 'two batches run in parallel');
  await waitCounts('conc-q', { visible: 0, inFlight: 0 });
});

test('reserved_concurrency 1: one invocation at a time; every message is processed', T, async (t) => {
  const ids = await sendBatch('reserved-q', ['r1', 'r2', 'r3', 'r4']);
  const t0 = Date.now();
  await waitProcessed('reserved', ids, 15000);
  t.diagnostic(`4 messages in ${Date.now() - t0} ms`);
  const runs = finished('reserved');
  const max = maxOverlap(runs.map(({ start, end }) => [start.t, end.t]));
  assert.equal(max, 1, `${max} invocations of a function with reserved_concurrency 1 overlapped`);
  await waitCounts('reserved-q', { visible: 0, inFlight: 0 }, 5000);
});

// ---- FIFO -------------------------------------------------------------------------------

test('FIFO: order is kept within each message group; a group never has two batches at once', T, async () => {
  const items = [];
  for (let i = 1; i <= 5; i++) {
    for (const g of ['A', 'B']) {
      items.push({ body: `${g}${i}`, entry: { MessageGroupId: g, MessageDeduplicationId: `${g}-${i}` } });
    }
  }
  const ids = await sendBatch('order.fifo', items);
  await waitProcessed('fifo', ids, 10000);
  const runs = finished('fifo').sort((x, y) => x.start.t - y.start.t);
  const seen = { A: [], B: [] };
  const spans = { A: [], B: [] };
  for (const { start, end } of runs) {
    assert.ok(start.event.Records.length <= 2, 'batch_size 2');
    const groups = new Set();
    for (const rec of start.event.Records) {
      const g = rec.attributes.MessageGroupId;
      seen[g].push(rec.body);
      groups.add(g);
      assert.deepEqual(Object.keys(rec.attributes).sort(), [
        'ApproximateFirstReceiveTimestamp', 'ApproximateReceiveCount', 'MessageDeduplicationId', 'MessageGroupId',
        'SenderId', 'SentTimestamp', 'SequenceNumber',
      ]);
      assert.match(rec.attributes.SequenceNumber, /^\d+$/);
      assert.equal(rec.attributes.MessageDeduplicationId, `${g}-${rec.body.slice(1)}`);
      assert.equal(rec.eventSourceARN, queueArn('order.fifo'));
    }
    for (const g of groups) spans[g].push([start.t, end.t]);
  }
  assert.deepEqual(seen.A, ['A1', 'A2', 'A3', 'A4', 'A5']);
  assert.deepEqual(seen.B, ['B1', 'B2', 'B3', 'B4', 'B5']);
  for (const g of ['A', 'B']) assert.equal(maxOverlap(spans[g]), 1, `group ${g} had overlapping batches`);
  await waitCounts('order.fifo', { visible: 0, inFlight: 0 });
});

// ---- disable / enable -------------------------------------------------------------------

test('UpdateEventSourceMapping: messages wait while the mapping is disabled and flow once it is enabled', T, async () => {
  const list = await lambda.send(new ListEventSourceMappingsCommand({ FunctionName: 'toggle' }));
  assert.equal(list.EventSourceMappings.length, 1);
  const m = list.EventSourceMappings[0];
  assert.equal(m.EventSourceArn, queueArn('toggle-q'));
  assert.equal(m.FunctionArn, functionArn('toggle'));
  assert.equal(m.State, 'Enabled');
  const state = async () => (await lambda.send(new GetEventSourceMappingCommand({ UUID: m.UUID }))).State;

  const off = await lambda.send(new UpdateEventSourceMappingCommand({ UUID: m.UUID, Enabled: false }));
  assert.equal(off.State, 'Disabling');
  await waitFor(async () => (await state()) === 'Disabled', { what: 'Disabled' });

  const ids = await sendBatch('toggle-q', ['t1', 't2', 't3']);
  await sleep(700);
  assert.equal(deliveries('toggle').length, 0, 'a disabled mapping invokes nothing');
  assert.deepEqual(await counts('toggle-q'), { visible: 3, inFlight: 0 });

  const on = await lambda.send(new UpdateEventSourceMappingCommand({ UUID: m.UUID, Enabled: true }));
  assert.equal(on.State, 'Enabling');
  await waitFor(async () => (await state()) === 'Enabled', { what: 'Enabled' });
  await waitProcessed('toggle', ids);
  await waitCounts('toggle-q', { visible: 0, inFlight: 0 });
  for (const id of ids) assert.equal(deliveriesOf('toggle', id).length, 1);
});

// ---- batching window -----------------------------------------------------------------------

test('maximum_batching_window 1: messages sent apart are gathered into one batch within the window',
  { timeout: 10000 }, async (t) => {
    const t0 = Date.now();
    const ids = [];
    for (const body of ['w1', 'w2', 'w3']) {
      ids.push((await send('window-q', body)).MessageId);
      await sleep(150);
    }
    await waitProcessed('window', ids, 5000);
    const invs = new Set(ids.map((id) => deliveriesOf('window', id)[0].inv.requestId));
    assert.equal(invs.size, 1, `three messages within the 1 s window arrived in ${invs.size} invocations`);
    const [{ inv }] = deliveriesOf('window', ids[0]);
    assert.deepEqual(inv.event.Records.map((r) => r.body), ['w1', 'w2', 'w3']);
    const waited = inv.t - t0;
    t.diagnostic(`first send -> handler start: ${waited} ms`);
    assert.ok(waited >= 700, `dispatched after ${waited} ms, before the window closed`);
    assert.ok(waited < 2500, `dispatched after ${waited} ms; the window is 1 s`);
    await waitCounts('window-q', { visible: 0, inFlight: 0 });
  });

// ---- restart -------------------------------------------------------------------------------

/** True while a process with this pid exists. */
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

test('restart: SIGTERM mid-batch, restart on the same data dir, the batch is processed after its visibility timeout',
  { timeout: 30000 }, async () => {
    const st = stageE2eConfig('restart.yaml');
    const dataDir = mkdtempSync(join(tmpdir(), 'sluice-e2e-restart-'));
    let s1;
    let s2;
    let c1;
    let c2;
    try {
      s1 = await startServer({ configFile: st.file, dataDir });
      c1 = makeClient(s1.endpoint);
      const url = (await c1.send(new GetQueueUrlCommand({ QueueName: 'restart-q' }))).QueueUrl;
      const out = await c1.send(new SendMessageBatchCommand({
        QueueUrl: url,
        Entries: [{ Id: 'a', MessageBody: 'first' }, { Id: 'b', MessageBody: 'second' }],
      }));
      const ids = out.Successful.map((x) => x.MessageId);
      // One batch (both messages came in one SendMessageBatch) whose handler
      // sleeps 3 s on a first delivery.
      const inv = await waitFor(() => starts('restart', st).find((r) => r.event.Records.length === 2),
        { timeoutMs: 4000, what: 'the batch to start' });
      const receivedAt = Date.now();
      assert.deepEqual(inv.event.Records.map((r) => r.messageId).sort(), [...ids].sort());
      assert.ok(alive(inv.pid), 'the handler is running');

      await s1.stop(); // SIGTERM; throws unless sluice exits 0 within 5 s
      c1.destroy();
      c1 = null;
      await waitFor(() => !alive(inv.pid), { timeoutMs: 2000, what: 'the handler to be gone after sluice stopped' });
      assert.deepEqual(records('restart', st).filter((r) => r.requestId === inv.requestId).map((r) => r.phase),
        ['start'], 'the interrupted handler did not finish');

      s2 = await startServer({ configFile: st.file, dataDir });
      c2 = makeClient(s2.endpoint);
      // Still in flight from before the restart.
      const c = await counts('restart-q', c2);
      assert.deepEqual(c, { visible: 0, inFlight: 2 }, 'the interrupted batch is still in flight');
      await sleep(300);
      assert.equal(starts('restart', st).length, 1, 'not redelivered before its visibility timeout');

      // Visibility timeout 4 s after the first receive: then the second delivery succeeds.
      const again = await waitFor(() => {
        const all = deliveries('restart', st).filter((d) => d.rec.attributes.ApproximateReceiveCount === '2');
        return all.length === 2 ? all : null;
      }, { timeoutMs: 8000, what: 'the redelivery after the restart' });
      const waited = Math.min(...again.map((d) => d.inv.t)) - receivedAt;
      assert.ok(waited >= 3000, `redelivered ${waited} ms after the first receive; the visibility timeout is 4 s`);
      assert.deepEqual(again.map((d) => d.rec.messageId).sort(), [...ids].sort());
      await waitFor(() => finished('restart', st).some(({ start }) => start.requestId === again[0].inv.requestId),
        { what: 'the redelivered batch to finish' });
      await waitCounts('restart-q', { visible: 0, inFlight: 0 }, 5000, c2);
    } finally {
      c1?.destroy();
      c2?.destroy();
      try {
        await s1?.stop();
        await s2?.stop();
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
        st.cleanup();
      }
    }
  });
