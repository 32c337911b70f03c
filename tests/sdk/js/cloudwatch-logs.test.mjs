// CloudWatch Logs through @aws-sdk/client-cloudwatch-logs (AWS JSON 1.1):
// a function's lines in /aws/lambda/NAME in its instance's stream, filter
// patterns, logGroupIdentifier as an ARN, GetLogEvents tokens, and the
// errors the SDK turns into named exceptions. Functions come from
// tests/e2e/cwlogs.yaml; the file starts a private server with that config.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import {
  CreateLogGroupCommand, CreateLogStreamCommand, DescribeLogGroupsCommand, DescribeLogStreamsCommand,
  FilterLogEventsCommand, GetLogEventsCommand, PutLogEventsCommand, DeleteLogGroupCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  T, startServer, makeLambdaClient, makeLogsClient, stageCwlogsConfig, logEvents, waitFor, uniqueName,
} from './harness.mjs';

let server;
let stage;
let lambda;
let logs;

before(async () => {
  stage = stageCwlogsConfig();
  server = await startServer({ configFile: stage.file });
  lambda = await makeLambdaClient(server.endpoint);
  logs = await makeLogsClient(server.endpoint);
}, T);

after(async () => {
  lambda?.destroy();
  logs?.destroy();
  try {
    await server?.stop();
  } finally {
    stage?.cleanup();
  }
}, T);

const enc = (v) => new TextEncoder().encode(JSON.stringify(v));
const dec = (u8) => (u8 ? Buffer.from(u8).toString('utf8') : '');

async function invoke(FunctionName, payload) {
  const out = await lambda.send(new InvokeCommand({ FunctionName, Payload: enc(payload) }));
  return { rid: out.$metadata.requestId, body: JSON.parse(dec(out.Payload)), error: out.FunctionError };
}

/** START..REPORT of request rid in group, once REPORT is there. */
async function invocation(group, rid) {
  return waitFor(async () => {
    const msgs = (await logEvents(server.endpoint, group)).map((e) => e.message);
    const s = msgs.findIndex((m) => m.startsWith(`START RequestId: ${rid}`));
    const e = msgs.findIndex((m) => m.startsWith(`REPORT RequestId: ${rid}`));
    return s >= 0 && e > s ? msgs.slice(s, e + 1) : null;
  }, { timeoutMs: 10000, what: `REPORT of ${rid}` });
}

test('a function\'s START, printed lines, END and REPORT land in its group and instance stream', T, async () => {
  const { rid, body, error } = await invoke('printer', { tag: 'js1' });
  assert.equal(error, undefined);
  assert.match(body.stream, /^\d{4}\/\d\d\/\d\d\/\[\$LATEST\][0-9a-f]{32}$/);
  const lines = await invocation('/aws/lambda/printer', rid);
  assert.deepEqual(lines.slice(0, 5), [
    `START RequestId: ${rid} Version: $LATEST`,
    'plain line tag=js1',
    'ERROR something failed tag=js1',
    '{"level": "warn", "tag": "js1", "ms": 250, "ok": false, "user": null}',
    `END RequestId: ${rid}`,
  ]);
  assert.match(lines[5], new RegExp(`^REPORT RequestId: ${rid}\\tDuration: \\d+\\.\\d\\d ms\\tBilled Duration: \\d+ ms`));
  const streams = await logs.send(new DescribeLogStreamsCommand({
    logGroupName: '/aws/lambda/printer', orderBy: 'LastEventTime', descending: true,
  }));
  assert.equal(streams.logStreams[0].logStreamName, body.stream);
});

test('filter patterns through the SDK, with logGroupIdentifier as an ARN', T, async () => {
  const { rid } = await invoke('printer', { tag: 'js2' });
  await invocation('/aws/lambda/printer', rid);
  const arn = 'arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/printer:*';
  const byArn = await logs.send(new FilterLogEventsCommand({ logGroupIdentifier: arn, filterPattern: 'ERROR tag=js2' }));
  assert.deepEqual(byArn.events.map((e) => e.message), ['ERROR something failed tag=js2']);
  assert.match(byArn.events[0].eventId, /^\d{56}$/);
  assert.ok(byArn.events[0].ingestionTime >= byArn.events[0].timestamp);
  const json = await logEvents(server.endpoint, '/aws/lambda/printer', { filterPattern: '{ $.tag = "js2" && $.ms >= 250 }' });
  assert.deepEqual(json.map((e) => e.message), ['{"level": "warn", "tag": "js2", "ms": 250, "ok": false, "user": null}']);
  await assert.rejects(
    logs.send(new FilterLogEventsCommand({ logGroupName: '/aws/lambda/printer', logGroupIdentifier: arn })),
    (e) => e.name === 'ValidationException'
      && e.message === 'LogGroup name and LogGroup ARN are mutually exclusive parameters.',
  );
});

test('create, put, get with tokens, describe and delete', T, async () => {
  const group = `/js/${uniqueName('g')}`;
  await logs.send(new CreateLogGroupCommand({ logGroupName: group }));
  await logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: 'one' }));
  const now = Date.now();
  const put = await logs.send(new PutLogEventsCommand({
    logGroupName: group, logStreamName: 'one',
    logEvents: [0, 1, 2].map((i) => ({ timestamp: now + i, message: `e${i}` })),
  }));
  assert.match(put.nextSequenceToken, /^\d+$/);
  const first = await logs.send(new GetLogEventsCommand({
    logGroupName: group, logStreamName: 'one', startFromHead: true, limit: 2,
  }));
  assert.deepEqual(first.events.map((e) => e.message), ['e0', 'e1']);
  const second = await logs.send(new GetLogEventsCommand({
    logGroupName: group, logStreamName: 'one', nextToken: first.nextForwardToken,
  }));
  assert.deepEqual(second.events.map((e) => e.message), ['e2']);
  const end = await logs.send(new GetLogEventsCommand({
    logGroupName: group, logStreamName: 'one', nextToken: second.nextForwardToken,
  }));
  assert.deepEqual(end.events, []);
  assert.equal(end.nextForwardToken, second.nextForwardToken);
  const groups = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: group }));
  assert.equal(groups.logGroups.length, 1);
  assert.equal(groups.logGroups[0].arn, `arn:aws:logs:us-east-1:000000000000:log-group:${group}:*`);
  assert.equal(groups.logGroups[0].logGroupArn, `arn:aws:logs:us-east-1:000000000000:log-group:${group}`);
  await assert.rejects(
    logs.send(new CreateLogGroupCommand({ logGroupName: group })),
    (e) => e.name === 'ResourceAlreadyExistsException' && e.$metadata.httpStatusCode === 400,
  );
  await logs.send(new DeleteLogGroupCommand({ logGroupName: group }));
  await assert.rejects(
    logs.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: 'one' })),
    (e) => e.name === 'ResourceNotFoundException' && e.message === 'The specified log group does not exist.',
  );
  await assert.rejects(
    logs.send(new DescribeLogGroupsCommand({ limit: 51 })),
    (e) => e.name === 'InvalidParameterException',
  );
});
