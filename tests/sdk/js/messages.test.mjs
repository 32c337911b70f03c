// Message actions through SDK v3: SendMessage(+Batch) with MD5s, ReceiveMessage
// options, DeleteMessage(+Batch), ChangeMessageVisibility(+Batch), bare queue
// names as QueueUrl and the 1 MiB size limit. Expected values follow AWS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageCommand,
  SendMessageBatchCommand,
  ReceiveMessageCommand,
  DeleteMessageCommand,
  DeleteMessageBatchCommand,
  ChangeMessageVisibilityCommand,
  ChangeMessageVisibilityBatchCommand,
} from '@aws-sdk/client-sqs';
import {
  T, startServer, makeClient, uniqueName, md5Hex, md5OfAttributes, expectSqsError,
  VECTORS, TRACE_HEADER,
} from './harness.mjs';

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
  const out = await sqs.send(new CreateQueueCommand({ QueueName: uniqueName(prefix), Attributes }));
  return out.QueueUrl;
}

const send = (QueueUrl, MessageBody, extra = {}) =>
  sqs.send(new SendMessageCommand({ QueueUrl, MessageBody, ...extra }));

const receive = (QueueUrl, extra = {}) =>
  sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 0, ...extra }));

async function counts(QueueUrl) {
  const out = await sqs.send(new GetQueueAttributesCommand({
    QueueUrl,
    AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
  }));
  return [Number(out.Attributes.ApproximateNumberOfMessages), Number(out.Attributes.ApproximateNumberOfMessagesNotVisible)];
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

test('SendMessage returns MessageId and MD5OfMessageBody; no attribute digests without attributes', T, async () => {
  const url = await newQueue('send');
  const out = await send(url, 'test');
  assert.match(out.MessageId, UUID_RE);
  assert.equal(out.MD5OfMessageBody, VECTORS.bodyTest);
  assert.equal(out.MD5OfMessageAttributes, undefined);
  assert.equal(out.MD5OfMessageSystemAttributes, undefined);
  assert.equal(out.SequenceNumber, undefined, 'no SequenceNumber on a standard queue');

  const again = await send(url, 'test');
  assert.notEqual(again.MessageId, out.MessageId);
});

test('SendMessage MD5OfMessageAttributes matches AWS vectors', T, async () => {
  const url = await newQueue('md5');
  const cases = [
    [{ attr1: { DataType: 'String', StringValue: 'v' } }, VECTORS.attr1V],
    [{ timestamp: { DataType: 'Number', StringValue: '1493147359900' } }, '235c5c510d26fb653d073faed50ae77c'],
    [{ timestamp: { DataType: 'Number.java.lang.Long', StringValue: '1493147359900' } }, '2e2e4876d8e0bd6b8c2c8f556831c349'],
    [{ somevalue: { DataType: 'String.custom', StringValue: 'somevalue' } }, '9e05cca738e70ff6c6041e82d5e77ef1'],
    [{
      id: { DataType: 'String', StringValue: '453ae55e-f03b-21a6-a4b1-70c2e2e8fe71' },
      contentType: { DataType: 'String', StringValue: 'application/json' },
      timestamp: { DataType: 'Number.java.lang.Long', StringValue: '1603134247654' },
      mybin: { DataType: 'Binary', BinaryValue: new TextEncoder().encode('kekchebukek') },
    }, '049075255ebc53fb95f7f9f3cedf3c50'],
  ];
  for (const [MessageAttributes, want] of cases) {
    const out = await send(url, 'hello', { MessageAttributes });
    assert.equal(out.MD5OfMessageBody, VECTORS.bodyHello);
    assert.equal(out.MD5OfMessageAttributes, want, JSON.stringify(Object.keys(MessageAttributes)));
  }
});

test('SendMessage with AWSTraceHeader returns MD5OfMessageSystemAttributes; attribute MD5 unchanged', T, async () => {
  const url = await newQueue('trace');
  const MessageAttributes = { attr1: { DataType: 'String', StringValue: 'v' } };
  const plain = await send(url, 'test', { MessageAttributes });
  const traced = await send(url, 'test', {
    MessageAttributes,
    MessageSystemAttributes: { AWSTraceHeader: { DataType: 'String', StringValue: TRACE_HEADER } },
  });
  assert.equal(traced.MD5OfMessageSystemAttributes, VECTORS.traceHeader);
  assert.equal(traced.MD5OfMessageAttributes, plain.MD5OfMessageAttributes);
  assert.equal(traced.MD5OfMessageAttributes, VECTORS.attr1V);
  assert.equal(traced.MD5OfMessageBody, VECTORS.bodyTest);

  // The header comes back as a system attribute, not a message attribute.
  const r = await receive(url, {
    MaxNumberOfMessages: 10,
    MessageSystemAttributeNames: ['AWSTraceHeader'],
    MessageAttributeNames: ['All'],
  });
  const m = r.Messages.find((x) => x.MessageId === traced.MessageId);
  assert.ok(m, 'traced message received');
  assert.equal(m.Attributes?.AWSTraceHeader, TRACE_HEADER);
  assert.deepEqual(Object.keys(m.MessageAttributes), ['attr1']);
  assert.equal(m.MD5OfMessageAttributes, VECTORS.attr1V);
});

test('SendMessageBatch: Successful entries carry ids and digests', T, async () => {
  const url = await newQueue('batch');
  const attrsB = { colour: { DataType: 'String', StringValue: 'blue' }, n: { DataType: 'Number', StringValue: '42' } };
  const out = await sqs.send(new SendMessageBatchCommand({
    QueueUrl: url,
    Entries: [
      { Id: 'first', MessageBody: 'a' },
      { Id: 'second-2', MessageBody: 'hello', MessageAttributes: attrsB },
      {
        Id: 'third_3', MessageBody: 'test',
        MessageSystemAttributes: { AWSTraceHeader: { DataType: 'String', StringValue: TRACE_HEADER } },
      },
    ],
  }));
  assert.deepEqual(out.Failed ?? [], []);
  assert.equal(out.Successful.length, 3);
  const byId = Object.fromEntries(out.Successful.map((e) => [e.Id, e]));
  assert.deepEqual(Object.keys(byId).sort(), ['first', 'second-2', 'third_3']);
  assert.equal(byId.first.MD5OfMessageBody, VECTORS.bodyA);
  assert.equal(byId.first.MD5OfMessageAttributes, undefined);
  assert.equal(byId['second-2'].MD5OfMessageBody, VECTORS.bodyHello);
  assert.equal(byId['second-2'].MD5OfMessageAttributes, md5OfAttributes(attrsB));
  assert.equal(byId.third_3.MD5OfMessageSystemAttributes, VECTORS.traceHeader);
  assert.equal(byId.first.MD5OfMessageSystemAttributes, undefined);
  const ids = out.Successful.map((e) => e.MessageId);
  for (const id of ids) assert.match(id, UUID_RE);
  assert.equal(new Set(ids).size, 3);

  const r = await receive(url, { MaxNumberOfMessages: 10 });
  assert.deepEqual(r.Messages.map((m) => m.Body).sort(), ['a', 'hello', 'test']);
});

test('SendMessageBatch: one bad entry fails alone, the rest succeed (200)', T, async () => {
  const url = await newQueue('batchfail');
  const Entries = [];
  for (let i = 0; i < 9; i++) Entries.push({ Id: String(i), MessageBody: String(i) });
  Entries.push({ Id: '9', MessageBody: '\x01' });
  const out = await sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries }));
  assert.equal(out.$metadata.httpStatusCode, 200);
  assert.equal(out.Successful.length, 9);
  assert.equal(out.Failed.length, 1);
  assert.equal(out.Failed[0].Id, '9');
  assert.equal(out.Failed[0].Code, 'InvalidMessageContents');
  assert.equal(out.Failed[0].SenderFault, true);
  assert.ok(out.Failed[0].Message, 'failure has a message');

  const bodies = [];
  for (let i = 0; i < 5 && bodies.length < 9; i++) {
    const r = await receive(url, { MaxNumberOfMessages: 10 });
    for (const m of r.Messages ?? []) bodies.push(m.Body);
  }
  assert.deepEqual(bodies.sort(), ['0', '1', '2', '3', '4', '5', '6', '7', '8']);
});

test('SendMessageBatch: an entry over the queue MaximumMessageSize fails per entry', T, async () => {
  const url = await newQueue('batchsize', { MaximumMessageSize: '1024' });
  const out = await sqs.send(new SendMessageBatchCommand({
    QueueUrl: url,
    Entries: [
      { Id: 'fits', MessageBody: 'a'.repeat(1024) },
      { Id: 'toobig', MessageBody: 'a'.repeat(1025) },
    ],
  }));
  assert.deepEqual(out.Successful.map((e) => e.Id), ['fits']);
  assert.equal(out.Successful[0].MD5OfMessageBody, md5Hex('a'.repeat(1024)));
  assert.deepEqual(out.Failed, [{
    Id: 'toobig',
    Code: 'InvalidParameterValue',
    Message: 'One or more parameters cannot be validated. Reason: Message must be shorter than 1024 bytes.',
    SenderFault: true,
  }]);
});

test('ReceiveMessage on an empty queue returns no Messages', T, async () => {
  const url = await newQueue('empty');
  const out = await receive(url, { MaxNumberOfMessages: 10 });
  assert.equal(out.Messages, undefined);
});

test('ReceiveMessage honours MaxNumberOfMessages (default 1)', T, async () => {
  const url = await newQueue('max');
  for (let i = 0; i < 5; i++) await send(url, `m${i}`);
  const one = await receive(url);
  assert.equal(one.Messages.length, 1);
  const three = await receive(url, { MaxNumberOfMessages: 3 });
  assert.equal(three.Messages.length, 3);
  const rest = await receive(url, { MaxNumberOfMessages: 10 });
  assert.equal(rest.Messages.length, 1);
  const all = [...one.Messages, ...three.Messages, ...rest.Messages];
  assert.deepEqual(all.map((m) => m.Body).sort(), ['m0', 'm1', 'm2', 'm3', 'm4']);
  assert.equal(new Set(all.map((m) => m.MessageId)).size, 5);
  for (const m of all) {
    assert.equal(m.MD5OfBody, md5Hex(m.Body));
    assert.ok(m.ReceiptHandle && m.ReceiptHandle.length > 0);
  }
});

test('ReceiveMessage system attributes: All, a specific name, and timestamps', T, async () => {
  const url = await newQueue('sysattrs');
  const tSend = Date.now();
  const sent = await send(url, 'hello');
  const r1 = await receive(url, { MessageSystemAttributeNames: ['All'], VisibilityTimeout: 0 });
  const tRecv = Date.now();
  const m1 = r1.Messages[0];
  assert.equal(m1.MessageId, sent.MessageId);
  assert.equal(m1.Body, 'hello');
  assert.equal(m1.MD5OfBody, VECTORS.bodyHello);
  const a = m1.Attributes;
  for (const k of ['SenderId', 'SentTimestamp', 'ApproximateReceiveCount', 'ApproximateFirstReceiveTimestamp']) {
    assert.ok(k in a, `${k} in ${JSON.stringify(a)}`);
  }
  assert.ok(typeof a.SenderId === 'string' && a.SenderId.length > 0);
  assert.equal(a.ApproximateReceiveCount, '1');
  // Epoch milliseconds as strings.
  assert.match(a.SentTimestamp, /^\d{13}$/);
  assert.match(a.ApproximateFirstReceiveTimestamp, /^\d{13}$/);
  const sentTs = Number(a.SentTimestamp);
  const firstTs = Number(a.ApproximateFirstReceiveTimestamp);
  assert.ok(sentTs >= tSend - 2000 && sentTs <= tRecv + 2000, `SentTimestamp ${sentTs} near ${tSend}`);
  assert.ok(firstTs >= sentTs && firstTs <= tRecv + 2000, `first receive ${firstTs} >= sent ${sentTs}`);
  assert.equal(a.SequenceNumber, undefined);
  assert.equal(a.MessageDeduplicationId, undefined);
  assert.equal(m1.MessageAttributes, undefined);
  assert.equal(m1.MD5OfMessageAttributes, undefined);

  // Second receive: count 2, same first-receive time, new receipt handle.
  const r2 = await receive(url, { MessageSystemAttributeNames: ['SentTimestamp', 'ApproximateReceiveCount', 'ApproximateFirstReceiveTimestamp'], VisibilityTimeout: 0 });
  const m2 = r2.Messages[0];
  assert.equal(m2.MessageId, sent.MessageId);
  assert.deepEqual(Object.keys(m2.Attributes).sort(), ['ApproximateFirstReceiveTimestamp', 'ApproximateReceiveCount', 'SentTimestamp']);
  assert.equal(m2.Attributes.ApproximateReceiveCount, '2');
  assert.equal(m2.Attributes.ApproximateFirstReceiveTimestamp, a.ApproximateFirstReceiveTimestamp);
  assert.equal(m2.Attributes.SentTimestamp, a.SentTimestamp);
  assert.notEqual(m2.ReceiptHandle, m1.ReceiptHandle);

  // Only the one name asked for.
  const r3 = await receive(url, { MessageSystemAttributeNames: ['SentTimestamp'], VisibilityTimeout: 0 });
  assert.deepEqual(Object.keys(r3.Messages[0].Attributes), ['SentTimestamp']);

  // No names: no Attributes.
  const r4 = await receive(url, { VisibilityTimeout: 0 });
  assert.deepEqual(r4.Messages[0].Attributes ?? {}, {});

  // AWS returns the union of MessageSystemAttributeNames and deprecated AttributeNames.
  const r5 = await receive(url, { MessageSystemAttributeNames: ['SenderId'], AttributeNames: ['ApproximateReceiveCount'], VisibilityTimeout: 0 });
  assert.deepEqual(Object.keys(r5.Messages[0].Attributes).sort(), ['ApproximateReceiveCount', 'SenderId']);
  assert.equal(r5.Messages[0].Attributes.ApproximateReceiveCount, '5');
});

test('ReceiveMessage MessageAttributeNames: All, exact names, prefix.* filters and digests', T, async () => {
  const url = await newQueue('msgattrs');
  const MessageAttributes = {
    'prefix.one': { DataType: 'String', StringValue: 'first' },
    'prefix.two': { DataType: 'Number', StringValue: '2' },
    other: { DataType: 'Binary', BinaryValue: new Uint8Array([0, 1, 2, 250]) },
    prefixless: { DataType: 'String.custom', StringValue: 'x' },
  };
  const sent = await send(url, 'body', { MessageAttributes });
  assert.equal(sent.MD5OfMessageAttributes, md5OfAttributes(MessageAttributes));

  const get = async (names) => {
    const r = await receive(url, { MessageAttributeNames: names, VisibilityTimeout: 0 });
    return r.Messages[0];
  };

  const all = await get(['All']);
  assert.deepEqual(Object.keys(all.MessageAttributes).sort(), ['other', 'prefix.one', 'prefix.two', 'prefixless']);
  assert.equal(all.MD5OfMessageAttributes, sent.MD5OfMessageAttributes);
  assert.equal(all.MessageAttributes['prefix.one'].StringValue, 'first');
  assert.equal(all.MessageAttributes['prefix.one'].DataType, 'String');
  assert.equal(all.MessageAttributes['prefix.two'].StringValue, '2');
  assert.equal(all.MessageAttributes['prefix.two'].DataType, 'Number');
  assert.deepEqual([...all.MessageAttributes.other.BinaryValue], [0, 1, 2, 250]);
  assert.equal(all.MessageAttributes.other.DataType, 'Binary');
  assert.equal(all.MessageAttributes.prefixless.DataType, 'String.custom');

  const dotStar = await get(['.*']);
  assert.equal(Object.keys(dotStar.MessageAttributes).length, 4);

  // AWS treats "<p>.*" as "names starting with <p>": the dot is not required
  // (AWS-validated: "Hel.*" returns both "Hello" and "Help.Me").
  const pre = await get(['prefix.*']);
  assert.deepEqual(Object.keys(pre.MessageAttributes).sort(), ['prefix.one', 'prefix.two', 'prefixless']);
  assert.equal(pre.MD5OfMessageAttributes, md5OfAttributes({
    'prefix.one': MessageAttributes['prefix.one'],
    'prefix.two': MessageAttributes['prefix.two'],
    prefixless: MessageAttributes.prefixless,
  }));

  const mixed = await get(['other', 'prefix.t.*']);
  assert.deepEqual(Object.keys(mixed.MessageAttributes).sort(), ['other', 'prefix.two']);
  assert.equal(mixed.MD5OfMessageAttributes, md5OfAttributes({
    other: MessageAttributes.other,
    'prefix.two': MessageAttributes['prefix.two'],
  }));

  const one = await get(['other']);
  assert.deepEqual(Object.keys(one.MessageAttributes), ['other']);
  assert.equal(one.MD5OfMessageAttributes, md5OfAttributes({ other: MessageAttributes.other }));

  const missing = await get(['nothing-here']);
  assert.equal(missing.MessageAttributes, undefined);
  assert.equal(missing.MD5OfMessageAttributes, undefined);

  const none = await get(undefined);
  assert.equal(none.MessageAttributes, undefined);
  assert.equal(none.MD5OfMessageAttributes, undefined);
});

test('ReceiveMessage attribute filters match AWS-recorded digests (Hel.*, *, unknown names)', T, async () => {
  const url = await newQueue('filters');
  await send(url, 'msg', {
    MessageAttributes: {
      'Help.Me': { DataType: 'String', StringValue: 'Me' },
      Hello: { DataType: 'String', StringValue: 'There' },
      General: { DataType: 'String', StringValue: 'Kenobi' },
    },
  });
  const get = async (names) =>
    (await receive(url, { MessageAttributeNames: names, VisibilityTimeout: 0 })).Messages[0];

  const star = await get(['*']);
  assert.equal(star.MD5OfBody, '6e2baaf3b97dbeef01c0043275f9a0e7');
  assert.deepEqual(Object.keys(star.MessageAttributes).sort(), ['General', 'Hello', 'Help.Me']);
  assert.equal(star.MD5OfMessageAttributes, '4c360f3fdafd970e05fae2f149d997f5');

  const hel = await get(['Hel.*']);
  assert.deepEqual(Object.keys(hel.MessageAttributes).sort(), ['Hello', 'Help.Me']);
  assert.equal(hel.MD5OfMessageAttributes, '83fee93c1bcd8b9a5a923ffacdc636c7');

  const unknown = await get(['Foo', 'Help']);
  assert.equal(unknown.MessageAttributes, undefined);
  assert.equal(unknown.MD5OfMessageAttributes, undefined);

  const some = await get(['Foo', 'Hello']);
  assert.deepEqual(Object.keys(some.MessageAttributes), ['Hello']);
});

test('ReceiveMessage VisibilityTimeout hides a message; 0 leaves it visible', T, async () => {
  const url = await newQueue('vis');
  await send(url, 'x');
  const r1 = await receive(url, { VisibilityTimeout: 0 });
  assert.equal(r1.Messages.length, 1);
  const r2 = await receive(url, { VisibilityTimeout: 60 });
  assert.equal(r2.Messages.length, 1);
  const r3 = await receive(url);
  assert.equal(r3.Messages, undefined, 'hidden for 60 s');
  assert.deepEqual(await counts(url), [0, 1]);
});

test('DeleteMessage removes the message; deleting again succeeds', T, async () => {
  const url = await newQueue('delete');
  await send(url, 'bye');
  const r = await receive(url, { VisibilityTimeout: 0 });
  const handle = r.Messages[0].ReceiptHandle;
  await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: handle }));
  assert.deepEqual(await counts(url), [0, 0]);
  assert.equal((await receive(url)).Messages, undefined);
  // AWS: repeated deletes with a handle that was issued return 200.
  await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: handle }));
  await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: handle }));
});

test('DeleteMessageBatch deletes valid handles and reports bad ones per entry', T, async () => {
  const url = await newQueue('delbatch');
  for (const b of ['1', '2', '3']) await send(url, b);
  const r = await receive(url, { MaxNumberOfMessages: 10 });
  assert.equal(r.Messages.length, 3);
  const out = await sqs.send(new DeleteMessageBatchCommand({
    QueueUrl: url,
    Entries: [
      { Id: 'a', ReceiptHandle: r.Messages[0].ReceiptHandle },
      { Id: 'b', ReceiptHandle: r.Messages[1].ReceiptHandle },
      { Id: 'bad', ReceiptHandle: 'garbage' },
    ],
  }));
  assert.deepEqual(out.Successful.map((e) => e.Id).sort(), ['a', 'b']);
  assert.equal(out.Failed.length, 1);
  assert.equal(out.Failed[0].Id, 'bad');
  assert.equal(out.Failed[0].Code, 'ReceiptHandleIsInvalid');
  assert.equal(out.Failed[0].SenderFault, true);
  assert.deepEqual(await counts(url), [0, 1]);

  const out2 = await sqs.send(new DeleteMessageBatchCommand({
    QueueUrl: url, Entries: [{ Id: 'c', ReceiptHandle: r.Messages[2].ReceiptHandle }],
  }));
  assert.deepEqual(out2.Successful, [{ Id: 'c' }]);
  assert.deepEqual(out2.Failed ?? [], []);
  assert.deepEqual(await counts(url), [0, 0]);
});

test('ChangeMessageVisibility 0 makes the message visible at once', T, async () => {
  const url = await newQueue('cmv');
  const sent = await send(url, 'again');
  const r1 = await receive(url, { VisibilityTimeout: 60, MessageSystemAttributeNames: ['ApproximateReceiveCount'] });
  assert.equal((await receive(url)).Messages, undefined, 'in flight');
  await sqs.send(new ChangeMessageVisibilityCommand({
    QueueUrl: url, ReceiptHandle: r1.Messages[0].ReceiptHandle, VisibilityTimeout: 0,
  }));
  assert.deepEqual(await counts(url), [1, 0]);
  const r2 = await receive(url, { VisibilityTimeout: 60, MessageSystemAttributeNames: ['ApproximateReceiveCount'] });
  assert.equal(r2.Messages[0].MessageId, sent.MessageId);
  assert.equal(r2.Messages[0].Attributes.ApproximateReceiveCount, '2');

  // Extending hides it again.
  await sqs.send(new ChangeMessageVisibilityCommand({
    QueueUrl: url, ReceiptHandle: r2.Messages[0].ReceiptHandle, VisibilityTimeout: 120,
  }));
  assert.equal((await receive(url)).Messages, undefined);
});

test('ChangeMessageVisibilityBatch changes several messages; bad handles fail per entry', T, async () => {
  const url = await newQueue('cmvb');
  await send(url, 'p');
  await send(url, 'q');
  const r = await receive(url, { MaxNumberOfMessages: 10, VisibilityTimeout: 60 });
  assert.equal(r.Messages.length, 2);
  assert.equal((await receive(url)).Messages, undefined);
  const out = await sqs.send(new ChangeMessageVisibilityBatchCommand({
    QueueUrl: url,
    Entries: [
      { Id: 'p', ReceiptHandle: r.Messages[0].ReceiptHandle, VisibilityTimeout: 0 },
      { Id: 'q', ReceiptHandle: r.Messages[1].ReceiptHandle, VisibilityTimeout: 0 },
      { Id: 'junk', ReceiptHandle: 'garbage', VisibilityTimeout: 0 },
    ],
  }));
  assert.deepEqual(out.Successful.map((e) => e.Id).sort(), ['p', 'q']);
  assert.equal(out.Failed.length, 1);
  assert.equal(out.Failed[0].Id, 'junk');
  assert.equal(out.Failed[0].Code, 'ReceiptHandleIsInvalid');
  assert.equal(out.Failed[0].SenderFault, true);
  const again = await receive(url, { MaxNumberOfMessages: 10 });
  assert.deepEqual(again.Messages.map((m) => m.Body).sort(), ['p', 'q']);
});

test('A bare queue name works as QueueUrl', T, async () => {
  const name = uniqueName('bare');
  await sqs.send(new CreateQueueCommand({ QueueName: name }));
  const sent = await send(name, 'by name');
  assert.equal(sent.MD5OfMessageBody, md5Hex('by name'));
  const a = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: name, AttributeNames: ['ApproximateNumberOfMessages'] }));
  assert.equal(a.Attributes.ApproximateNumberOfMessages, '1');
  const r = await receive(name);
  assert.equal(r.Messages[0].MessageId, sent.MessageId);
  await sqs.send(new DeleteMessageCommand({ QueueUrl: name, ReceiptHandle: r.Messages[0].ReceiptHandle }));
  assert.equal((await receive(name)).Messages, undefined);
});

test('A 1 MiB body (1048576 bytes) is accepted and received intact; 1048577 is rejected', T, async () => {
  const url = await newQueue('big');
  const body = 'x'.repeat(1048575) + 'y';
  const sent = await send(url, body);
  assert.equal(sent.MD5OfMessageBody, md5Hex(body));
  const r = await receive(url);
  assert.equal(r.Messages[0].Body.length, 1048576);
  assert.equal(r.Messages[0].Body, body);

  await expectSqsError(send(url, body + 'z'), {
    code: 'InvalidParameterValue',
    status: 400,
    message: 'One or more parameters are invalid. Reason: Message must be shorter than 1048576 bytes.',
    type: 'InvalidParameterValueException',
  });
});

test('Multi-byte UTF-8 bodies round-trip with the right MD5', T, async () => {
  const url = await newQueue('utf8');
  const body = 'héllo wörld \u{1F600} \u4e2d\u6587 \t\r\n';
  const sent = await send(url, body);
  assert.equal(sent.MD5OfMessageBody, md5Hex(Buffer.from(body, 'utf8')));
  const r = await receive(url);
  assert.equal(r.Messages[0].Body, body);
  assert.equal(r.Messages[0].MD5OfBody, sent.MD5OfMessageBody);
});
