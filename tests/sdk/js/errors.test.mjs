// AWS's error cases through SDK v3, with code, HTTP status and message as AWS
// returns them (shared/reference/sqs.md §1.2 and §6.3). Where AWS's exact text
// is not verified the message is only required to be present.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateQueueCommand,
  GetQueueUrlCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  SetQueueAttributesCommand,
  PurgeQueueCommand,
  SendMessageCommand,
  SendMessageBatchCommand,
  ReceiveMessageCommand,
  DeleteMessageCommand,
  DeleteMessageBatchCommand,
  ChangeMessageVisibilityCommand,
  ChangeMessageVisibilityBatchCommand,
  ListQueueTagsCommand,
  TagQueueCommand,
} from '@aws-sdk/client-sqs';
import { T, ACCOUNT, startServer, makeClient, uniqueName, expectSqsError } from './harness.mjs';

let server;
let sqs;
let url; // a shared, empty standard queue for validation errors

before(async () => {
  server = await startServer();
  sqs = makeClient(server.endpoint);
  url = (await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('errors') }))).QueueUrl;
}, T);

after(async () => {
  sqs?.destroy();
  await server?.stop();
}, T);

const IPV = { code: 'InvalidParameterValue', status: 400, type: 'InvalidParameterValueException' };
const ipv = (message) => ({ ...IPV, message });
const NOT_FOUND = {
  name: 'QueueDoesNotExist',
  code: 'AWS.SimpleQueueService.NonExistentQueue',
  status: 400,
  message: 'The specified queue does not exist.',
  type: 'QueueDoesNotExist',
};
const BAD_ID_MSG =
  'A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.';

async function newQueue(prefix, Attributes) {
  return (await sqs.send(new CreateQueueCommand({ QueueName: uniqueName(prefix), Attributes }))).QueueUrl;
}

const send = (QueueUrl, MessageBody, extra = {}) =>
  sqs.send(new SendMessageCommand({ QueueUrl, MessageBody, ...extra }));

test('every queue action on a nonexistent queue: QueueDoesNotExist', T, async () => {
  const name = uniqueName('missing');
  const missing = `${server.endpoint}/${ACCOUNT}/${name}`;
  await expectSqsError(sqs.send(new GetQueueUrlCommand({ QueueName: name })), NOT_FOUND);
  await expectSqsError(send(missing, 'x'), NOT_FOUND);
  await expectSqsError(sqs.send(new ReceiveMessageCommand({ QueueUrl: missing })), NOT_FOUND);
  await expectSqsError(sqs.send(new GetQueueAttributesCommand({ QueueUrl: missing, AttributeNames: ['All'] })), NOT_FOUND);
  await expectSqsError(sqs.send(new SetQueueAttributesCommand({ QueueUrl: missing, Attributes: { DelaySeconds: '1' } })), NOT_FOUND);
  await expectSqsError(sqs.send(new DeleteQueueCommand({ QueueUrl: missing })), NOT_FOUND);
  await expectSqsError(sqs.send(new PurgeQueueCommand({ QueueUrl: missing })), NOT_FOUND);
  await expectSqsError(sqs.send(new ListQueueTagsCommand({ QueueUrl: missing })), NOT_FOUND);
  await expectSqsError(sqs.send(new TagQueueCommand({ QueueUrl: missing, Tags: { a: 'b' } })), NOT_FOUND);
  await expectSqsError(sqs.send(new SendMessageBatchCommand({
    QueueUrl: missing, Entries: [{ Id: '1', MessageBody: 'x' }],
  })), NOT_FOUND);
  await expectSqsError(sqs.send(new DeleteMessageCommand({ QueueUrl: missing, ReceiptHandle: 'garbage' })), NOT_FOUND);
});

test('ReceiveMessage MaxNumberOfMessages 11 and 0: InvalidParameterValue', T, async () => {
  for (const n of [11, 0]) {
    await expectSqsError(
      sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: n })),
      ipv(`Value ${n} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.`),
    );
  }
});

test('ReceiveMessage WaitTimeSeconds 21 and -1: InvalidParameterValue', T, async () => {
  for (const n of [21, -1]) {
    await expectSqsError(
      sqs.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: n })),
      ipv(`Value ${n} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.`),
    );
  }
});

test('SendMessage body of 1048577 bytes: InvalidParameterValue', T, async () => {
  await expectSqsError(
    send(url, 'a'.repeat(1048577)),
    ipv('One or more parameters are invalid. Reason: Message must be shorter than 1048576 bytes.'),
  );
});

test('message attributes count towards the size limit', T, async () => {
  const q = await newQueue('attrsize');
  // "k" + "String" + "x" = 8 bytes of attributes.
  const MessageAttributes = { k: { DataType: 'String', StringValue: 'x' } };
  await send(q, 'a'.repeat(1048576 - 8), { MessageAttributes });
  await expectSqsError(
    send(q, 'a'.repeat(1048576 - 8 + 1), { MessageAttributes }),
    ipv('One or more parameters are invalid. Reason: Message must be shorter than 1048576 bytes.'),
  );
});

test('SendMessage over a lowered MaximumMessageSize reports the queue limit', T, async () => {
  const q = await newQueue('maxsize');
  await sqs.send(new SetQueueAttributesCommand({ QueueUrl: q, Attributes: { MaximumMessageSize: '1024' } }));
  await send(q, 'a'.repeat(1024));
  await expectSqsError(
    send(q, 'a'.repeat(1025)),
    ipv('One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes.'),
  );
});

test('SendMessageBatch totalling 1048577 bytes: BatchRequestTooLong', T, async () => {
  const MessageAttributes = { k: { DataType: 'String', StringValue: 'x' } };
  await expectSqsError(sqs.send(new SendMessageBatchCommand({
    QueueUrl: url,
    Entries: [
      { Id: '1', MessageBody: 'a'.repeat(1048576 - 8), MessageAttributes },
      { Id: '2', MessageBody: 'a' },
    ],
  })), {
    name: 'BatchRequestTooLong',
    code: 'AWS.SimpleQueueService.BatchRequestTooLong',
    status: 400,
    message: 'Batch requests cannot be longer than 1048576 bytes. You have sent 1048577 bytes.',
    type: 'BatchRequestTooLong',
  });
});

test('batches with 11 or 20 entries: TooManyEntriesInBatchRequest', T, async () => {
  const tooMany = (n) => ({
    name: 'TooManyEntriesInBatchRequest',
    code: 'AWS.SimpleQueueService.TooManyEntriesInBatchRequest',
    status: 400,
    message: `Maximum number of entries per request are 10. You have sent ${n}.`,
    type: 'TooManyEntriesInBatchRequest',
  });
  const ids = (n) => Array.from({ length: n }, (_, i) => `e${i}`);
  await expectSqsError(sqs.send(new SendMessageBatchCommand({
    QueueUrl: url, Entries: ids(11).map((Id) => ({ Id, MessageBody: Id })),
  })), tooMany(11));
  await expectSqsError(sqs.send(new SendMessageBatchCommand({
    QueueUrl: url, Entries: ids(20).map((Id) => ({ Id, MessageBody: Id })),
  })), tooMany(20));
  await expectSqsError(sqs.send(new DeleteMessageBatchCommand({
    QueueUrl: url, Entries: ids(20).map((Id) => ({ Id, ReceiptHandle: 'garbage' })),
  })), tooMany(20));
  await expectSqsError(sqs.send(new ChangeMessageVisibilityBatchCommand({
    QueueUrl: url, Entries: ids(20).map((Id) => ({ Id, ReceiptHandle: 'garbage', VisibilityTimeout: 0 })),
  })), tooMany(20));
  // Nothing from the rejected batches was enqueued.
  const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10 }));
  assert.equal(r.Messages, undefined);
});

test('batch entry ids "", 100 chars and "invalid:id": InvalidBatchEntryId', T, async () => {
  const bad = {
    name: 'InvalidBatchEntryId',
    code: 'AWS.SimpleQueueService.InvalidBatchEntryId',
    status: 400,
    message: BAD_ID_MSG,
    type: 'InvalidBatchEntryId',
  };
  for (const Id of ['', 'a'.repeat(100), 'invalid:id']) {
    await expectSqsError(sqs.send(new SendMessageBatchCommand({
      QueueUrl: url, Entries: [{ Id: 'ok', MessageBody: 'x' }, { Id, MessageBody: 'y' }],
    })), bad);
  }
  await expectSqsError(sqs.send(new DeleteMessageBatchCommand({
    QueueUrl: url, Entries: [{ Id: 'invalid:id', ReceiptHandle: 'garbage' }],
  })), bad);
  await expectSqsError(sqs.send(new ChangeMessageVisibilityBatchCommand({
    QueueUrl: url, Entries: [{ Id: 'invalid:id', ReceiptHandle: 'garbage', VisibilityTimeout: 0 }],
  })), bad);
  // 80 characters of [A-Za-z0-9_-] is still fine.
  const q = await newQueue('longid');
  const out = await sqs.send(new SendMessageBatchCommand({
    QueueUrl: q, Entries: [{ Id: 'A_-9'.repeat(20), MessageBody: 'x' }],
  }));
  assert.equal(out.Successful?.[0]?.Id, 'A_-9'.repeat(20));
});

test('duplicate batch entry ids: BatchEntryIdsNotDistinct', T, async () => {
  const q = await newQueue('dupids');
  const dup = {
    name: 'BatchEntryIdsNotDistinct',
    code: 'AWS.SimpleQueueService.BatchEntryIdsNotDistinct',
    status: 400,
    message: undefined, // AWS's text is not verified
    type: 'BatchEntryIdsNotDistinct',
  };
  await expectSqsError(sqs.send(new SendMessageBatchCommand({
    QueueUrl: q, Entries: [{ Id: 'same', MessageBody: '1' }, { Id: 'same', MessageBody: '2' }],
  })), dup);
  await expectSqsError(sqs.send(new DeleteMessageBatchCommand({
    QueueUrl: q, Entries: [{ Id: 'same', ReceiptHandle: 'garbage' }, { Id: 'same', ReceiptHandle: 'garbage' }],
  })), dup);
  await expectSqsError(sqs.send(new ChangeMessageVisibilityBatchCommand({
    QueueUrl: q,
    Entries: [
      { Id: 'same', ReceiptHandle: 'garbage', VisibilityTimeout: 0 },
      { Id: 'same', ReceiptHandle: 'garbage', VisibilityTimeout: 0 },
    ],
  })), dup);
  const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: q, MaxNumberOfMessages: 10 }));
  assert.equal(r.Messages, undefined, 'nothing from the rejected batch was enqueued');
});

test('empty batches: EmptyBatchRequest', T, async () => {
  const empty = {
    name: 'EmptyBatchRequest',
    code: 'AWS.SimpleQueueService.EmptyBatchRequest',
    status: 400,
    message: undefined, // AWS's text is not verified
    type: 'EmptyBatchRequest',
  };
  await expectSqsError(sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: [] })), empty);
  await expectSqsError(sqs.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: [] })), empty);
  await expectSqsError(sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: url, Entries: [] })), empty);
});

test('SendMessage with characters outside the allowed ranges: InvalidMessageContents', T, async () => {
  for (const body of ['\x00', 'abc\x08def', '\x13', 'bad \uFFFF']) {
    await expectSqsError(send(url, body), {
      name: 'InvalidMessageContents',
      code: 'InvalidMessageContents',
      status: 400,
      message: undefined, // AWS's text is not verified
      type: 'InvalidMessageContents',
    });
  }
});

test('SendMessage with an empty body: MissingParameter', T, async () => {
  await expectSqsError(send(url, ''), {
    code: 'MissingParameter',
    status: 400,
    message: 'The request must contain the parameter MessageBody.',
    type: 'MissingRequiredParameterException',
  });
});

test('DeleteMessage with a garbage receipt handle: ReceiptHandleIsInvalid', T, async () => {
  // The status is the one AWS's own model gives this error (@aws-sdk/client-sqs
  // declares ReceiptHandleIsInvalid with httpError 404 and awsQueryError
  // ("ReceiptHandleIsInvalid", 404)); the reference table's 400 is inferred.
  await expectSqsError(sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: 'garbage' })), {
    name: 'ReceiptHandleIsInvalid',
    code: 'ReceiptHandleIsInvalid',
    status: 404,
    message: 'The input receipt handle "garbage" is not a valid receipt handle.',
    type: 'ReceiptHandleIsInvalid',
  });
});

test('ChangeMessageVisibility after the message was deleted: InvalidParameterValue', T, async () => {
  const q = await newQueue('cmvdel');
  await send(q, 'x');
  const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: q }));
  const h = r.Messages[0].ReceiptHandle;
  await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: q, ReceiptHandle: h, VisibilityTimeout: 42 }));
  await sqs.send(new DeleteMessageCommand({ QueueUrl: q, ReceiptHandle: h }));
  await expectSqsError(
    sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: q, ReceiptHandle: h, VisibilityTimeout: 42 })),
    ipv(`Value ${h} for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change.`),
  );
});

test('a message attribute with an empty StringValue: InvalidParameterValue', T, async () => {
  await expectSqsError(
    send(url, 'x', { MessageAttributes: { ErrorDetails: { DataType: 'String', StringValue: '' } } }),
    ipv("Message (user) attribute 'ErrorDetails' must contain a non-empty value of type 'String'."),
  );
});

test('more than 10 message attributes: InvalidParameterValue', T, async () => {
  const MessageAttributes = {};
  for (let i = 0; i < 11; i++) MessageAttributes[`a${i}`] = { DataType: 'String', StringValue: 'v' };
  await expectSqsError(send(url, 'x', { MessageAttributes }), { ...IPV, message: undefined });
  delete MessageAttributes.a10;
  const q = await newQueue('tenattrs');
  const ok = await send(q, 'ten attributes', { MessageAttributes });
  assert.ok(ok.MD5OfMessageAttributes);
});

test('CreateQueue with an invalid name: InvalidParameterValue', T, async () => {
  const names = ['has space', 'slash/name', 'a'.repeat(81), 'dots.are.bad', 'ümlaut', 'standard.fifo'];
  for (const QueueName of names) {
    await expectSqsError(sqs.send(new CreateQueueCommand({ QueueName })), { ...IPV, message: undefined });
  }
  // 80 characters of [A-Za-z0-9_-] is valid.
  const long = `ok_-${'Z9'.repeat(38)}`;
  assert.equal(long.length, 80);
  const out = await sqs.send(new CreateQueueCommand({ QueueName: long }));
  assert.ok(out.QueueUrl.endsWith(`/${ACCOUNT}/${long}`));
});

test('SetQueueAttributes VisibilityTimeout out of range: InvalidAttributeValue', T, async () => {
  const q = await newQueue('badvis');
  for (const v of ['43201', '-1', 'abc']) {
    await expectSqsError(
      sqs.send(new SetQueueAttributesCommand({ QueueUrl: q, Attributes: { VisibilityTimeout: v } })),
      { name: 'InvalidAttributeValue', code: 'InvalidAttributeValue', status: 400, message: undefined, type: 'InvalidAttributeValue' },
    );
  }
  const a = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: q, AttributeNames: ['VisibilityTimeout'] }));
  assert.equal(a.Attributes.VisibilityTimeout, '30', 'unchanged after the rejected update');
  await sqs.send(new SetQueueAttributesCommand({ QueueUrl: q, Attributes: { VisibilityTimeout: '43200' } }));
});

test('CreateQueue with an out-of-range attribute: InvalidAttributeValue', T, async () => {
  for (const Attributes of [{ DelaySeconds: '901' }, { MaximumMessageSize: '1023' }, { MessageRetentionPeriod: '59' }, { ReceiveMessageWaitTimeSeconds: '21' }]) {
    await expectSqsError(
      sqs.send(new CreateQueueCommand({ QueueName: uniqueName('badattr'), Attributes })),
      { name: 'InvalidAttributeValue', code: 'InvalidAttributeValue', status: 400, message: undefined, type: 'InvalidAttributeValue' },
    );
  }
});

test('GetQueueAttributes with an unknown name: InvalidAttributeName', T, async () => {
  await expectSqsError(
    sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['Foobar'] })),
    {
      name: 'InvalidAttributeName',
      code: 'InvalidAttributeName',
      status: 400,
      message: 'Unknown Attribute Foobar.',
      type: 'InvalidAttributeName',
    },
  );
});

test('SendMessage DelaySeconds 901: InvalidParameterValue', T, async () => {
  await expectSqsError(send(url, 'x', { DelaySeconds: 901 }), { ...IPV, message: undefined });
  await expectSqsError(send(url, 'x', { DelaySeconds: -1 }), { ...IPV, message: undefined });
  const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10 }));
  assert.equal(r.Messages, undefined, 'rejected sends enqueue nothing');
});
