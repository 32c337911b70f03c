// Queue-level actions through SDK v3: CreateQueue, GetQueueUrl, ListQueues,
// DeleteQueue, Get/SetQueueAttributes, PurgeQueue, tags, dead-letter sources
// and permissions. Expected values follow AWS (shared/reference/sqs.md).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateQueueCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  SetQueueAttributesCommand,
  PurgeQueueCommand,
  SendMessageCommand,
  ReceiveMessageCommand,
  TagQueueCommand,
  UntagQueueCommand,
  ListQueueTagsCommand,
  ListDeadLetterSourceQueuesCommand,
  AddPermissionCommand,
  RemovePermissionCommand,
} from '@aws-sdk/client-sqs';
import {
  T, ACCOUNT, startServer, makeClient, uniqueName, queueArn, sleep, expectSqsError,
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

async function create(name, Attributes, tags) {
  const out = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes, tags }));
  return out.QueueUrl;
}

async function attrs(QueueUrl, names = ['All']) {
  const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: names }));
  return out.Attributes ?? {};
}

test('CreateQueue returns http://<host>/000000000000/<name>', T, async () => {
  const name = uniqueName('create');
  const url = await create(name);
  assert.equal(url, `${server.endpoint}/${ACCOUNT}/${name}`);
});

test('CreateQueue is idempotent with the same attributes, and with none', T, async () => {
  const name = uniqueName('idem');
  const a = { DelaySeconds: '5', VisibilityTimeout: '45' };
  const url1 = await create(name, a);
  const url2 = await create(name, { ...a });
  assert.equal(url2, url1);
  // AWS: the same name with no attributes on a customised queue succeeds.
  const url3 = await create(name);
  assert.equal(url3, url1);
  const got = await attrs(url1, ['DelaySeconds', 'VisibilityTimeout']);
  assert.deepEqual(got, { DelaySeconds: '5', VisibilityTimeout: '45' });
});

test('CreateQueue with a different attribute value fails with QueueAlreadyExists', T, async () => {
  const name = uniqueName('exists');
  await create(name, { DelaySeconds: '1' });
  await expectSqsError(sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: { DelaySeconds: '2' } })), {
    name: 'QueueNameExists',
    code: 'QueueAlreadyExists',
    status: 400,
    message: 'A queue already exists with the same name and a different value for attribute DelaySeconds',
    type: 'QueueNameExists',
  });
});

test('CreateQueue with tags stores them (ListQueueTags)', T, async () => {
  const name = uniqueName('tagged');
  const url = await create(name, undefined, { team: 'core', Env: 'test' });
  const out = await sqs.send(new ListQueueTagsCommand({ QueueUrl: url }));
  assert.deepEqual(out.Tags, { team: 'core', Env: 'test' });
});

test('GetQueueUrl returns the URL CreateQueue returned', T, async () => {
  const name = uniqueName('geturl');
  const url = await create(name);
  const out = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
  assert.equal(out.QueueUrl, url);
  // Queue names are case-sensitive.
  await expectSqsError(sqs.send(new GetQueueUrlCommand({ QueueName: name.toUpperCase() })), {
    name: 'QueueDoesNotExist',
    code: 'AWS.SimpleQueueService.NonExistentQueue',
    message: 'The specified queue does not exist.',
  });
});

test('ListQueues filters by QueueNamePrefix', T, async () => {
  const prefix = uniqueName('lp');
  const mine = [];
  for (const s of ['a', 'b', 'c']) mine.push(await create(`${prefix}-${s}`));
  const other = await create(uniqueName('lpother'));

  const out = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: prefix }));
  assert.deepEqual([...(out.QueueUrls ?? [])].sort(), mine.sort());
  assert.equal(out.NextToken, undefined, 'no NextToken without MaxResults');

  const all = await sqs.send(new ListQueuesCommand({}));
  for (const u of [...mine, other]) assert.ok(all.QueueUrls.includes(u), `${u} listed without prefix`);

  const none = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: uniqueName('nomatch') }));
  assert.deepEqual(none.QueueUrls ?? [], []);
});

test('ListQueues pages with MaxResults and NextToken', T, async () => {
  const prefix = uniqueName('page');
  const mine = [];
  for (let i = 0; i < 5; i++) mine.push(await create(`${prefix}-${i}`));

  const seen = [];
  const pageSizes = [];
  let NextToken;
  for (let guard = 0; guard < 10; guard++) {
    const out = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: prefix, MaxResults: 2, NextToken }));
    const urls = out.QueueUrls ?? [];
    pageSizes.push(urls.length);
    seen.push(...urls);
    NextToken = out.NextToken;
    if (!NextToken) break;
  }
  assert.deepEqual(pageSizes, [2, 2, 1]);
  assert.deepEqual([...seen].sort(), [...mine].sort(), 'every queue exactly once across pages');
});

test('DeleteQueue removes the queue', T, async () => {
  const name = uniqueName('del');
  const url = await create(name);
  await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x' }));
  await sqs.send(new DeleteQueueCommand({ QueueUrl: url }));
  const notFound = {
    name: 'QueueDoesNotExist',
    code: 'AWS.SimpleQueueService.NonExistentQueue',
    message: 'The specified queue does not exist.',
  };
  await expectSqsError(sqs.send(new GetQueueUrlCommand({ QueueName: name })), notFound);
  await expectSqsError(sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] })), notFound);
  const list = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: name }));
  assert.deepEqual(list.QueueUrls ?? [], []);
});

test('GetQueueAttributes All on a new queue: defaults, ARN, timestamps, counters', T, async () => {
  const name = uniqueName('attrs');
  const t0 = Math.floor(Date.now() / 1000);
  const url = await create(name);
  const t1 = Math.ceil(Date.now() / 1000);
  const a = await attrs(url);

  assert.equal(a.QueueArn, `arn:aws:sqs:us-east-1:000000000000:${name}`);
  assert.equal(a.VisibilityTimeout, '30');
  assert.equal(a.MaximumMessageSize, '1048576');
  assert.equal(a.MessageRetentionPeriod, '345600');
  assert.equal(a.DelaySeconds, '0');
  assert.equal(a.ReceiveMessageWaitTimeSeconds, '0');
  assert.equal(a.ApproximateNumberOfMessages, '0');
  assert.equal(a.ApproximateNumberOfMessagesNotVisible, '0');
  assert.equal(a.ApproximateNumberOfMessagesDelayed, '0');
  // Epoch seconds (not ms).
  assert.match(a.CreatedTimestamp, /^\d+$/);
  assert.match(a.LastModifiedTimestamp, /^\d+$/);
  const created = Number(a.CreatedTimestamp);
  assert.ok(created >= t0 - 2 && created <= t1 + 2, `CreatedTimestamp ${created} in [${t0}, ${t1}]`);
  assert.ok(Number(a.LastModifiedTimestamp) >= created);
  // A standard queue never reports FIFO attributes.
  assert.equal(a.FifoQueue, undefined);
  assert.equal(a.ContentBasedDeduplication, undefined);
});

test('GetQueueAttributes on a new queue reports SqsManagedSseEnabled "true" as AWS does', T, async () => {
  const url = await create(uniqueName('sse'));
  const a = await attrs(url);
  assert.equal(a.SqsManagedSseEnabled, 'true');
});

test('GetQueueAttributes with specific names returns only those; none gives no attributes', T, async () => {
  const url = await create(uniqueName('attrsel'));
  const a = await attrs(url, ['VisibilityTimeout', 'QueueArn']);
  assert.deepEqual(Object.keys(a).sort(), ['QueueArn', 'VisibilityTimeout']);
  const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url }));
  assert.deepEqual(out.Attributes ?? {}, {});
});

test('GetQueueAttributes counts visible, in-flight and delayed messages', T, async () => {
  const url = await create(uniqueName('counts'));
  await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'one' }));
  await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'two' }));
  await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'three' }));
  await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'later', DelaySeconds: 600 }));
  const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 1 }));
  assert.equal(r.Messages?.length, 1);
  const a = await attrs(url, [
    'ApproximateNumberOfMessages',
    'ApproximateNumberOfMessagesNotVisible',
    'ApproximateNumberOfMessagesDelayed',
  ]);
  assert.deepEqual(a, {
    ApproximateNumberOfMessages: '2',
    ApproximateNumberOfMessagesNotVisible: '1',
    ApproximateNumberOfMessagesDelayed: '1',
  });
});

test('CreateQueue attributes are stored and returned', T, async () => {
  const url = await create(uniqueName('custom'), {
    VisibilityTimeout: '20',
    MessageRetentionPeriod: '604800',
    ReceiveMessageWaitTimeSeconds: '10',
    MaximumMessageSize: '2048',
    DelaySeconds: '3',
  });
  const a = await attrs(url);
  assert.equal(a.VisibilityTimeout, '20');
  assert.equal(a.MessageRetentionPeriod, '604800');
  assert.equal(a.ReceiveMessageWaitTimeSeconds, '10');
  assert.equal(a.MaximumMessageSize, '2048');
  assert.equal(a.DelaySeconds, '3');
});

test('SetQueueAttributes changes attributes and LastModifiedTimestamp', T, async () => {
  const url = await create(uniqueName('set'), { VisibilityTimeout: '20' });
  const before = await attrs(url);
  await sleep(1100); // timestamps are in whole seconds
  await sqs.send(new SetQueueAttributesCommand({
    QueueUrl: url,
    Attributes: {
      VisibilityTimeout: '69',
      DelaySeconds: '420',
      MaximumMessageSize: '2048',
      MessageRetentionPeriod: '120',
      ReceiveMessageWaitTimeSeconds: '3',
    },
  }));
  const a = await attrs(url);
  assert.equal(a.VisibilityTimeout, '69');
  assert.equal(a.DelaySeconds, '420');
  assert.equal(a.MaximumMessageSize, '2048');
  assert.equal(a.MessageRetentionPeriod, '120');
  assert.equal(a.ReceiveMessageWaitTimeSeconds, '3');
  assert.equal(a.CreatedTimestamp, before.CreatedTimestamp);
  assert.ok(Number(a.LastModifiedTimestamp) > Number(before.LastModifiedTimestamp),
    `LastModifiedTimestamp ${a.LastModifiedTimestamp} after ${before.LastModifiedTimestamp}`);
});

test('PurgeQueue deletes visible, in-flight and delayed messages', T, async () => {
  const url = await create(uniqueName('purge'));
  for (const b of ['1', '2', '3']) await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: b }));
  await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'delayed', DelaySeconds: 600 }));
  const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 1, VisibilityTimeout: 1 }));
  assert.equal(r.Messages?.length, 1);

  await sqs.send(new PurgeQueueCommand({ QueueUrl: url }));

  const a = await attrs(url, [
    'ApproximateNumberOfMessages',
    'ApproximateNumberOfMessagesNotVisible',
    'ApproximateNumberOfMessagesDelayed',
  ]);
  assert.deepEqual(a, {
    ApproximateNumberOfMessages: '0',
    ApproximateNumberOfMessagesNotVisible: '0',
    ApproximateNumberOfMessagesDelayed: '0',
  });
  await sleep(1300); // the in-flight one would be visible again by now
  const after = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10 }));
  assert.equal(after.Messages, undefined);
});

test('TagQueue adds and overwrites, UntagQueue removes (missing keys ignored)', T, async () => {
  const url = await create(uniqueName('tags'));
  const empty = await sqs.send(new ListQueueTagsCommand({ QueueUrl: url }));
  assert.deepEqual(empty.Tags ?? {}, {});

  await sqs.send(new TagQueueCommand({ QueueUrl: url, Tags: { a: '1', b: '2', B: 'upper' } }));
  await sqs.send(new TagQueueCommand({ QueueUrl: url, Tags: { a: 'one', c: '3' } }));
  let out = await sqs.send(new ListQueueTagsCommand({ QueueUrl: url }));
  assert.deepEqual(out.Tags, { a: 'one', b: '2', B: 'upper', c: '3' });

  await sqs.send(new UntagQueueCommand({ QueueUrl: url, TagKeys: ['b', 'nope'] }));
  out = await sqs.send(new ListQueueTagsCommand({ QueueUrl: url }));
  assert.deepEqual(out.Tags, { a: 'one', B: 'upper', c: '3' });

  await sqs.send(new UntagQueueCommand({ QueueUrl: url, TagKeys: ['a', 'B', 'c'] }));
  out = await sqs.send(new ListQueueTagsCommand({ QueueUrl: url }));
  assert.deepEqual(out.Tags ?? {}, {});
});

test('ListDeadLetterSourceQueues lists the queues whose RedrivePolicy targets the DLQ', T, async () => {
  const dlqName = uniqueName('dlq');
  const dlq = await create(dlqName);
  const policy = JSON.stringify({ deadLetterTargetArn: queueArn(dlqName), maxReceiveCount: 5 });
  const src1 = await create(uniqueName('src1'), { RedrivePolicy: policy });
  const src2 = await create(uniqueName('src2'));
  await sqs.send(new SetQueueAttributesCommand({ QueueUrl: src2, Attributes: { RedrivePolicy: policy } }));
  await create(uniqueName('unrelated'));

  const out = await sqs.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: dlq }));
  assert.deepEqual([...(out.queueUrls ?? [])].sort(), [src1, src2].sort());

  const page1 = await sqs.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: dlq, MaxResults: 1 }));
  assert.equal(page1.queueUrls?.length, 1);
  assert.ok(page1.NextToken, 'NextToken when more sources remain');
  const page2 = await sqs.send(new ListDeadLetterSourceQueuesCommand({
    QueueUrl: dlq, MaxResults: 1, NextToken: page1.NextToken,
  }));
  assert.equal(page2.queueUrls?.length, 1);
  assert.deepEqual([page1.queueUrls[0], page2.queueUrls[0]].sort(), [src1, src2].sort());

  const none = await sqs.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: src1 }));
  assert.deepEqual(none.queueUrls ?? [], []);

  // The RedrivePolicy reads back as the same policy.
  const a = await attrs(src1, ['RedrivePolicy']);
  const rp = JSON.parse(a.RedrivePolicy);
  assert.equal(rp.deadLetterTargetArn, queueArn(dlqName));
  assert.equal(Number(rp.maxReceiveCount), 5);
});

test('AddPermission / RemovePermission maintain the queue Policy; label errors', T, async () => {
  const name = uniqueName('perm');
  const url = await create(name);
  const label = 'crossaccountpermission';
  await sqs.send(new AddPermissionCommand({
    QueueUrl: url, Label: label, AWSAccountIds: [ACCOUNT], Actions: ['ReceiveMessage'],
  }));

  const a = await attrs(url, ['Policy']);
  assert.ok(a.Policy, 'Policy attribute after AddPermission');
  const policy = JSON.parse(a.Policy);
  const st = policy.Statement.find((s) => s.Sid === label);
  assert.ok(st, `statement ${label} in ${a.Policy}`);
  assert.equal(st.Effect, 'Allow');
  assert.equal(st.Action, 'SQS:ReceiveMessage');
  assert.equal(st.Resource, queueArn(name));
  assert.match(JSON.stringify(st.Principal), new RegExp(ACCOUNT));

  await expectSqsError(sqs.send(new AddPermissionCommand({
    QueueUrl: url, Label: label, AWSAccountIds: [ACCOUNT], Actions: ['SendMessage'],
  })), {
    code: 'InvalidParameterValue',
    status: 400,
    message: 'Value crossaccountpermission for parameter Label is invalid. Reason: Already exists.',
    type: 'InvalidParameterValueException',
  });

  await sqs.send(new AddPermissionCommand({
    QueueUrl: url, Label: 'crossaccountpermission2', AWSAccountIds: [ACCOUNT], Actions: ['SendMessage'],
  }));
  await sqs.send(new RemovePermissionCommand({ QueueUrl: url, Label: label }));
  const a2 = await attrs(url, ['Policy']);
  const sids = JSON.parse(a2.Policy).Statement.map((s) => s.Sid);
  assert.deepEqual(sids, ['crossaccountpermission2']);

  await sqs.send(new RemovePermissionCommand({ QueueUrl: url, Label: 'crossaccountpermission2' }));
  const a3 = await attrs(url, ['Policy']);
  assert.equal(a3.Policy, undefined, 'no Policy once the last statement is removed');

  await expectSqsError(sqs.send(new RemovePermissionCommand({ QueueUrl: url, Label: 'crossaccountpermission2' })), {
    code: 'InvalidParameterValue',
    status: 400,
    message: "Value crossaccountpermission2 for parameter Label is invalid. Reason: can't find label.",
    type: 'InvalidParameterValueException',
  });
});
