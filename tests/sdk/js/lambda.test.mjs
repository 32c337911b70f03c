// The Lambda REST API through @aws-sdk/client-lambda: ListFunctions,
// GetFunction(Configuration), Invoke (RequestResponse, Event, DryRun, log
// tail, function errors, timeouts, reserved concurrency, the handler's
// environment) and the event source mapping CRUD with AWS's errors
// (reference/lambda.md §1.2, §2). Functions come from tests/e2e/lambda-api.yaml,
// run by tests/e2e/handlers/record.py and exit3.sh. The file always starts a
// private server with that config.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import {
  ListFunctionsCommand,
  GetFunctionCommand,
  GetFunctionConfigurationCommand,
  InvokeCommand,
  CreateEventSourceMappingCommand,
  GetEventSourceMappingCommand,
  ListEventSourceMappingsCommand,
  UpdateEventSourceMappingCommand,
  DeleteEventSourceMappingCommand,
} from '@aws-sdk/client-lambda';
import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import {
  T, startServer, makeClient, makeLambdaClient, stageE2eConfig, readJsonLines, waitFor, sleep,
  queueArn, functionArn, functionLog, uniqueName, UUID_RE, REGION, ACCOUNT,
} from './harness.mjs';

let server;
let stage;
let lambda;
let sqs;

before(async () => {
  stage = stageE2eConfig('lambda-api.yaml');
  server = await startServer({ configFile: stage.file });
  lambda = await makeLambdaClient(server.endpoint);
  sqs = makeClient(server.endpoint);
}, T);

after(async () => {
  lambda?.destroy();
  sqs?.destroy();
  try {
    await server?.stop();
  } finally {
    stage?.cleanup();
  }
}, T);

const ALL_FUNCTIONS = ['batch', 'crash', 'echo', 'mapped', 'single', 'slow', 'wd'];
const NOT_FOUND_MAPPING = 'The resource you requested does not exist.';
const fnNotFound = (name) => `Function not found: ${functionArn(name)}`;
const TRACE_RE = /^Root=1-[0-9a-f]{8}-[0-9a-f]{24}(;|$)/;

const enc = (v) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));
const dec = (u8) => (u8 ? Buffer.from(u8).toString('utf8') : '');
const nonce = () => uniqueName('n');

function invoke(FunctionName, payload, extra = {}) {
  return lambda.send(new InvokeCommand({
    FunctionName,
    ...(payload === undefined ? {} : { Payload: enc(payload) }),
    ...extra,
  }));
}

/** The decoded X-Amz-Log-Result of an Invoke answer. */
function tail(out) {
  assert.ok(out.LogResult, 'X-Amz-Log-Result expected with LogType Tail');
  return Buffer.from(out.LogResult, 'base64').toString('utf8');
}

/** The request id of the START line of a log tail. */
function startId(log) {
  const m = /START RequestId: (\S+) Version: \$LATEST/.exec(log);
  assert.ok(m, `no START line in the log tail:\n${log}`);
  return m[1];
}

/** START, END and REPORT lines for id, in that order. */
function assertPlatformLines(log, id) {
  const start = log.indexOf(`START RequestId: ${id} Version: $LATEST`);
  const end = log.indexOf(`END RequestId: ${id}`);
  const report = log.search(new RegExp(
    `REPORT RequestId: ${id}\\tDuration: \\d+(\\.\\d+)? ms\\tBilled Duration: \\d+ ms\\tMemory Size: \\d+ MB\\tMax Memory Used: \\d+ MB`,
  ));
  assert.ok(start >= 0, `START line for ${id}:\n${log}`);
  assert.ok(end > start, `END line after START for ${id}:\n${log}`);
  assert.ok(report > end, `REPORT line after END for ${id}:\n${log}`);
}

/**
 * Awaits a promise that must reject with a Lambda service error (restJson1:
 * x-amzn-ErrorType header + {Type, message} body).
 *   name     err.name, or a list of accepted names
 *   status   HTTP status
 *   message  exact string, RegExp, or undefined (any non-empty text)
 */
async function expectLambdaError(promise, { name, status, message }) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected ${name} but the call succeeded`);
  const got = { name: err.name, status: err.$metadata?.httpStatusCode, message: err.message };
  const names = Array.isArray(name) ? name : [name];
  assert.ok(names.includes(got.name), `expected error ${names.join('|')}; got ${JSON.stringify(got)}`);
  assert.equal(got.status, status, `HTTP status; got ${JSON.stringify(got)}`);
  if (typeof message === 'string') assert.equal(err.message, message);
  else if (message instanceof RegExp) assert.match(err.message, message);
  else assert.ok(err.message && err.message !== 'UnknownError', `a message; got ${JSON.stringify(got)}`);
  assert.ok(err.$metadata?.requestId, 'x-amzn-RequestId on the error response');
  return err;
}

const IPVE = 'InvalidParameterValueException';
// Model-level range violations: AWS's wording/code for these is not verified
// (reference/lambda.md §1.2), so either name is accepted.
const RANGE = [IPVE, 'ValidationException'];

// ---------------------------------------------------------------------------
// Functions
// ---------------------------------------------------------------------------

test('ListFunctions returns every function of the config with its settings', T, async () => {
  const out = await lambda.send(new ListFunctionsCommand({}));
  assert.equal(out.$metadata.httpStatusCode, 200);
  const byName = Object.fromEntries(out.Functions.map((f) => [f.FunctionName, f]));
  assert.deepEqual(Object.keys(byName).sort(), ALL_FUNCTIONS);
  for (const name of ALL_FUNCTIONS) {
    assert.equal(byName[name].FunctionArn, functionArn(name), `${name} FunctionArn`);
  }
  assert.equal(byName.echo.Timeout, 2);
  assert.equal(byName.echo.MemorySize, 256);
  assert.deepEqual(byName.echo.Environment?.Variables,
    { RECORD_FILE: 'records/echo.jsonl', GREETING: 'hello from the config', MODE: 'ok' });
  // Defaults: timeout 3 s, 128 MB.
  assert.equal(byName.crash.Timeout, 2);
  assert.equal(byName.crash.MemorySize, 128);
  assert.equal(byName.wd.Timeout, 3);
  assert.equal(byName.wd.MemorySize, 128);
  assert.equal(byName.slow.Timeout, 1);
});

test('GetFunction: Configuration, Code, reserved concurrency', T, async () => {
  const out = await lambda.send(new GetFunctionCommand({ FunctionName: 'echo' }));
  assert.equal(out.$metadata.httpStatusCode, 200);
  const c = out.Configuration;
  assert.equal(c.FunctionName, 'echo');
  assert.equal(c.FunctionArn, `arn:aws:lambda:${REGION}:${ACCOUNT}:function:echo`);
  assert.equal(c.Timeout, 2);
  assert.equal(c.MemorySize, 256);
  assert.equal(c.State, 'Active');
  assert.equal(c.Version, '$LATEST');
  assert.equal(typeof c.LastModified, 'string');
  assert.deepEqual(c.Environment, {
    Variables: { RECORD_FILE: 'records/echo.jsonl', GREETING: 'hello from the config', MODE: 'ok' },
  });
  assert.ok(out.Code, 'GetFunction has Code');

  const single = await lambda.send(new GetFunctionCommand({ FunctionName: 'single' }));
  assert.equal(single.Concurrency?.ReservedConcurrentExecutions, 1);
  const crash = await lambda.send(new GetFunctionCommand({ FunctionName: 'crash' }));
  assert.equal(crash.Concurrency?.ReservedConcurrentExecutions, undefined, 'no reserved concurrency configured');
});

test('GetFunction accepts the function ARN', T, async () => {
  const out = await lambda.send(new GetFunctionCommand({ FunctionName: functionArn('crash') }));
  assert.equal(out.Configuration.FunctionName, 'crash');
});

test('GetFunctionConfiguration equals GetFunction.Configuration', T, async () => {
  const { $metadata, ...conf } = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'echo' }));
  assert.equal($metadata.httpStatusCode, 200);
  const full = await lambda.send(new GetFunctionCommand({ FunctionName: 'echo' }));
  assert.deepEqual(conf, full.Configuration);
});

test('GetFunction / GetFunctionConfiguration of an unknown function: 404 ResourceNotFoundException', T, async () => {
  const e = await expectLambdaError(lambda.send(new GetFunctionCommand({ FunctionName: 'nope' })),
    { name: 'ResourceNotFoundException', status: 404, message: fnNotFound('nope') });
  assert.equal(e.Type, 'User');
  await expectLambdaError(lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'nope' })),
    { name: 'ResourceNotFoundException', status: 404, message: fnNotFound('nope') });
});

// ---------------------------------------------------------------------------
// Invoke
// ---------------------------------------------------------------------------

test('Invoke RequestResponse: 200, $LATEST, the payload reaches the handler and its stdout comes back', T, async () => {
  const payload = { hello: 'world', n: 42, list: [1, 2, { deep: true }], unicode: 'héllo ✓' };
  const out = await invoke('echo', payload);
  assert.equal(out.StatusCode, 200);
  assert.equal(out.ExecutedVersion, '$LATEST');
  assert.equal(out.FunctionError, undefined);
  assert.equal(out.LogResult, undefined, 'no log without LogType Tail');
  const body = JSON.parse(dec(out.Payload));
  assert.equal(body.ok, true);
  assert.deepEqual(body.event, payload);
});

test('Invoke: the handler\'s stdout is returned byte for byte', T, async () => {
  const out = await invoke('echo', { mode: 'result', result: [1, 'two', { three: 3 }] });
  assert.equal(out.StatusCode, 200);
  assert.equal(dec(out.Payload), '[1, "two", {"three": 3}]');
  const s = await invoke('echo', { mode: 'result', result: 'plain' });
  assert.equal(dec(s.Payload), '"plain"');
});

test('Invoke: the handler sees the Lambda environment and the function\'s own', T, async () => {
  const out = await invoke('echo', { mode: 'ok' });
  const { requestId, env } = JSON.parse(dec(out.Payload));
  assert.match(requestId, UUID_RE, 'AWS_REQUEST_ID is a uuid');
  assert.equal(env.AWS_REQUEST_ID, requestId);
  assert.equal(env.AWS_LAMBDA_FUNCTION_NAME, 'echo');
  assert.equal(env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE, '256');
  assert.equal(env.AWS_LAMBDA_FUNCTION_VERSION, '$LATEST');
  assert.equal(env.AWS_LAMBDA_LOG_GROUP_NAME, '/aws/lambda/echo');
  assert.equal(env.AWS_REGION, REGION);
  assert.equal(env.AWS_DEFAULT_REGION, REGION);
  assert.equal(env.GREETING, 'hello from the config');
  assert.equal(env.MODE, 'ok');
  assert.equal(env.RECORD_FILE, 'records/echo.jsonl');
  // Working directory: the config file's folder by default.
  assert.equal(realpathSync(env._cwd), realpathSync(stage.dir));
  // A second invocation gets a new request id.
  const again = JSON.parse(dec((await invoke('echo', { mode: 'ok' })).Payload));
  assert.notEqual(again.requestId, requestId);
});

test('Invoke: _X_AMZN_TRACE_ID is set for every invocation (X-Ray Root=1-... form)', T, async () => {
  const { env } = JSON.parse(dec((await invoke('echo', { mode: 'ok' })).Payload));
  assert.match(env._X_AMZN_TRACE_ID ?? '', TRACE_RE, `_X_AMZN_TRACE_ID=${env._X_AMZN_TRACE_ID}`);
});

test('Invoke with an X-Amzn-Trace-Id header: the handler\'s _X_AMZN_TRACE_ID carries its Root', T, async () => {
  const root = 'Root=1-5759e988-bd862e3fe1be46a994272793';
  const res = await fetch(`${server.endpoint}/2015-03-31/functions/echo/invocations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-amzn-trace-id': `${root};Parent=53995c3f42cd8ad8;Sampled=1` },
    body: JSON.stringify({ mode: 'ok' }),
  });
  assert.equal(res.status, 200);
  const { env } = await res.json();
  assert.ok((env._X_AMZN_TRACE_ID ?? '').startsWith(`${root};`), `_X_AMZN_TRACE_ID=${env._X_AMZN_TRACE_ID}`);
});

test('Invoke: AWS_LAMBDA_LOG_STREAM_NAME has the form YYYY/MM/DD/[$LATEST]<32 hex>', T, async () => {
  const { env } = JSON.parse(dec((await invoke('echo', { mode: 'ok' })).Payload));
  assert.match(env.AWS_LAMBDA_LOG_STREAM_NAME ?? '', /^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/);
});

test('Invoke: working_dir is where the handler runs (relative to the config folder)', T, async () => {
  const out = await invoke('wd', { mode: 'ok', tag: 'wd' });
  assert.equal(out.StatusCode, 200);
  const { env } = JSON.parse(dec(out.Payload));
  assert.equal(realpathSync(env._cwd), realpathSync(stage.records));
  // RECORD_FILE=wd.jsonl is relative to that directory.
  const recs = readJsonLines(join(stage.records, 'wd.jsonl'));
  assert.ok(recs.some((r) => r.phase === 'start' && r.event.tag === 'wd'), 'record in records/wd.jsonl');
});

test('Invoke with LogType Tail: base64 log with START / handler output / END / REPORT', T, async () => {
  const out = await invoke('echo', { mode: 'ok' }, { LogType: 'Tail' });
  assert.equal(out.StatusCode, 200);
  const { requestId } = JSON.parse(dec(out.Payload));
  const log = tail(out);
  assert.equal(startId(log), requestId, 'the log\'s RequestId is the handler\'s AWS_REQUEST_ID');
  assertPlatformLines(log, requestId);
  const handlerLine = log.indexOf('record.py: mode=ok records=-');
  assert.ok(handlerLine > log.indexOf('START') && handlerLine < log.indexOf('END RequestId'),
    `the handler's stderr sits between START and END:\n${log}`);
  assert.ok(log.endsWith('\n'), 'log ends with a newline');
});

test('Invoke with LogType Tail: only the last 4 KB of a long log', T, async () => {
  const out = await invoke('echo', { mode: 'spam:20000' }, { LogType: 'Tail' });
  assert.equal(out.StatusCode, 200);
  const raw = Buffer.from(out.LogResult, 'base64');
  assert.ok(raw.length <= 4096, `tail is ${raw.length} bytes`);
  assert.ok(raw.length >= 4000, `tail is the last 4 KB, got ${raw.length} bytes`);
  const log = raw.toString('utf8');
  const { requestId } = JSON.parse(dec(out.Payload));
  assert.match(log, new RegExp(`END RequestId: ${requestId}\\nREPORT RequestId: ${requestId}\\t`));
  assert.ok(!log.includes('START RequestId'), 'the START line fell out of the 4 KB tail');
  assert.match(log, /spam line \d{6} x+\n/);
});

test('Invoke writes START / END / REPORT to the log group /aws/lambda/<function>', T, async () => {
  const out = await invoke('echo', { mode: 'ok' });
  const { requestId } = JSON.parse(dec(out.Payload));
  const log = await waitFor(async () => {
    const text = await functionLog(server.endpoint, 'echo');
    return text.includes(`REPORT RequestId: ${requestId}`) && text;
  }, { what: `REPORT ${requestId} in /aws/lambda/echo` });
  assertPlatformLines(log, requestId);
});

test('Invoke Event: 202 with an empty body; the handler runs in the background', T, async () => {
  const n = nonce();
  const t0 = Date.now();
  const out = await invoke('echo', { mode: 'sleep:0.3', nonce: n }, { InvocationType: 'Event' });
  assert.equal(out.StatusCode, 202);
  assert.equal(dec(out.Payload), '');
  assert.equal(out.FunctionError, undefined);
  assert.ok(Date.now() - t0 < 300, 'Event returns before the handler finishes');
  const file = join(stage.records, 'echo.jsonl');
  const start = await waitFor(
    () => readJsonLines(file).find((r) => r.phase === 'start' && r.event?.nonce === n),
    { what: 'the Event invocation to start' },
  );
  assert.match(start.requestId, UUID_RE);
  assert.equal(start.env.AWS_LAMBDA_FUNCTION_NAME, 'echo');
  await waitFor(() => readJsonLines(file).find((r) => r.phase === 'end' && r.requestId === start.requestId),
    { what: 'the Event invocation to finish' });
});

test('Invoke Event with LogType Tail: no log result (Tail is synchronous only)', T, async () => {
  const out = await invoke('echo', { mode: 'ok' }, { InvocationType: 'Event', LogType: 'Tail' });
  assert.equal(out.StatusCode, 202);
  assert.equal(out.LogResult, undefined);
});

test('Invoke DryRun: 204, the handler does not run', T, async () => {
  const n = nonce();
  const out = await invoke('echo', { nonce: n }, { InvocationType: 'DryRun' });
  assert.equal(out.StatusCode, 204);
  assert.equal(dec(out.Payload), '');
  await sleep(300);
  const recs = readJsonLines(join(stage.records, 'echo.jsonl'));
  assert.ok(!recs.some((r) => r.event?.nonce === n), 'DryRun must not invoke the handler');
});

test('Invoke DryRun of an unknown function: 404', T, async () => {
  await expectLambdaError(invoke('nope', {}, { InvocationType: 'DryRun' }),
    { name: 'ResourceNotFoundException', status: 404, message: fnNotFound('nope') });
});

test('Invoke of an unknown function: 404 ResourceNotFoundException (all invocation types)', T, async () => {
  for (const InvocationType of ['RequestResponse', 'Event']) {
    const e = await expectLambdaError(invoke('does-not-exist', { a: 1 }, { InvocationType }),
      { name: 'ResourceNotFoundException', status: 404, message: fnNotFound('does-not-exist') });
    assert.equal(e.Type, 'User');
  }
});

test('Invoke: a non-zero exit is a function error (Runtime.ExitError, exit status 3)', T, async () => {
  const out = await invoke('crash', { a: 1 }, { LogType: 'Tail' });
  assert.equal(out.StatusCode, 200);
  assert.equal(out.FunctionError, 'Unhandled');
  assert.equal(out.ExecutedVersion, '$LATEST');
  const log = tail(out);
  const id = startId(log);
  assert.match(id, UUID_RE);
  assert.deepEqual(JSON.parse(dec(out.Payload)), {
    errorType: 'Runtime.ExitError',
    errorMessage: `RequestId: ${id} Error: Runtime exited with error: exit status 3`,
  });
  assert.ok(log.includes('exit3.sh: giving up with status 3'), `handler stderr in the tail:\n${log}`);
  assertPlatformLines(log, id);
});

test('Invoke: exit 1 and exit 7 from the Python handler', T, async () => {
  for (const [mode, code] of [['fail', 1], ['exit:7', 7]]) {
    const out = await invoke('echo', { mode }, { LogType: 'Tail' });
    assert.equal(out.StatusCode, 200);
    assert.equal(out.FunctionError, 'Unhandled');
    const id = startId(tail(out));
    assert.deepEqual(JSON.parse(dec(out.Payload)), {
      errorType: 'Runtime.ExitError',
      errorMessage: `RequestId: ${id} Error: Runtime exited with error: exit status ${code}`,
    });
  }
});

test('Invoke: a handler past its timeout is killed (Sandbox.Timedout after 1.00 seconds)', T, async () => {
  const t0 = Date.now();
  const out = await invoke('slow', { a: 1 }, { LogType: 'Tail' });
  const took = Date.now() - t0;
  assert.equal(out.StatusCode, 200);
  assert.equal(out.FunctionError, 'Unhandled');
  const log = tail(out);
  const id = startId(log);
  assert.deepEqual(JSON.parse(dec(out.Payload)), {
    errorType: 'Sandbox.Timedout',
    errorMessage: `RequestId: ${id} Error: Task timed out after 1.00 seconds`,
  });
  assert.ok(took >= 950, `answered after ${took} ms, before the 1 s timeout`);
  assert.ok(took < 3000, `answered after ${took} ms; the handler (sleep 5) was not killed at 1 s`);
  // The killed handler wrote its start record but never its end record.
  const recs = readJsonLines(join(stage.records, 'slow.jsonl')).filter((r) => r.requestId === id);
  assert.deepEqual(recs.map((r) => r.phase), ['start']);
  assert.ok(log.includes(`END RequestId: ${id}`), 'END line after a timeout');
  assert.ok(log.includes(`REPORT RequestId: ${id}`), 'REPORT line after a timeout');
});

test('Invoke beyond reserved_concurrency: 429 TooManyRequestsException', T, async () => {
  const [a, b] = await Promise.allSettled([invoke('single', { i: 1 }), invoke('single', { i: 2 })]);
  const ok = [a, b].filter((r) => r.status === 'fulfilled');
  const bad = [a, b].filter((r) => r.status === 'rejected');
  assert.equal(ok.length, 1, `one invocation runs: ${JSON.stringify([a, b].map((r) => r.status))}`);
  assert.equal(ok[0].value.StatusCode, 200);
  assert.equal(bad.length, 1);
  assert.equal(bad[0].reason.name, 'TooManyRequestsException');
  assert.equal(bad[0].reason.$metadata.httpStatusCode, 429);
  // Once it is done the function takes invocations again.
  const again = await invoke('single', { i: 3 });
  assert.equal(again.StatusCode, 200);
});

// ---------------------------------------------------------------------------
// Event source mappings
// ---------------------------------------------------------------------------

const created = [];
async function createMapping(params) {
  const out = await lambda.send(new CreateEventSourceMappingCommand(params));
  created.push(out.UUID);
  return out;
}

async function getMapping(UUID) {
  return lambda.send(new GetEventSourceMappingCommand({ UUID }));
}

async function waitState(UUID, State) {
  return waitFor(async () => {
    const m = await getMapping(UUID);
    return m.State === State ? m : null;
  }, { what: `mapping ${UUID} to be ${State}`, timeoutMs: 5000 });
}

async function newQueue(prefix, Attributes = {}) {
  const name = uniqueName(prefix);
  const out = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes }));
  return { name, url: out.QueueUrl, arn: queueArn(name) };
}

after(async () => {
  for (const UUID of created) {
    try {
      await lambda.send(new DeleteEventSourceMappingCommand({ UUID }));
    } catch {
      // already deleted
    }
  }
});

test('CreateEventSourceMapping: 202, State Creating, AWS\'s shape; then Enabled', T, async () => {
  const q = await newQueue('esm', { VisibilityTimeout: '10' });
  const out = await createMapping({ FunctionName: 'echo', EventSourceArn: q.arn, BatchSize: 5 });
  assert.equal(out.$metadata.httpStatusCode, 202);
  assert.match(out.UUID, UUID_RE);
  assert.equal(out.State, 'Creating');
  assert.equal(out.StateTransitionReason, 'USER_INITIATED');
  assert.equal(out.BatchSize, 5);
  assert.equal(out.MaximumBatchingWindowInSeconds, 0);
  assert.equal(out.EventSourceArn, q.arn);
  assert.equal(out.FunctionArn, functionArn('echo'));
  assert.deepEqual(out.FunctionResponseTypes, []);
  assert.equal(out.EventSourceMappingArn, `arn:aws:lambda:${REGION}:${ACCOUNT}:event-source-mapping:${out.UUID}`);
  assert.ok(out.LastModified instanceof Date && !Number.isNaN(out.LastModified.getTime()), 'LastModified');

  const got = await waitState(out.UUID, 'Enabled');
  assert.equal(got.$metadata.httpStatusCode, 200);
  assert.equal(got.UUID, out.UUID);
  assert.equal(got.BatchSize, 5);
  assert.equal(got.EventSourceArn, q.arn);
  assert.equal(got.FunctionArn, functionArn('echo'));
});

test('CreateEventSourceMapping: defaults (BatchSize 10), function by ARN, every option echoed', T, async () => {
  const q = await newQueue('esm-def');
  const plain = await createMapping({ FunctionName: functionArn('echo'), EventSourceArn: q.arn });
  assert.equal(plain.BatchSize, 10);
  assert.equal(plain.MaximumBatchingWindowInSeconds, 0);
  assert.equal(plain.FunctionArn, functionArn('echo'));

  const q2 = await newQueue('esm-opts');
  const pattern = JSON.stringify({ body: { kind: ['keep'] } });
  const full = await createMapping({
    FunctionName: 'echo',
    EventSourceArn: q2.arn,
    BatchSize: 50,
    MaximumBatchingWindowInSeconds: 2,
    FunctionResponseTypes: ['ReportBatchItemFailures'],
    FilterCriteria: { Filters: [{ Pattern: pattern }] },
    ScalingConfig: { MaximumConcurrency: 3 },
  });
  assert.equal(full.$metadata.httpStatusCode, 202);
  assert.equal(full.BatchSize, 50);
  assert.equal(full.MaximumBatchingWindowInSeconds, 2);
  assert.deepEqual(full.FunctionResponseTypes, ['ReportBatchItemFailures']);
  assert.deepEqual(full.FilterCriteria, { Filters: [{ Pattern: pattern }] });
  assert.deepEqual(full.ScalingConfig, { MaximumConcurrency: 3 });
  const got = await getMapping(full.UUID);
  assert.deepEqual(got.FilterCriteria, { Filters: [{ Pattern: pattern }] });
  assert.deepEqual(got.ScalingConfig, { MaximumConcurrency: 3 });
  assert.deepEqual(got.FunctionResponseTypes, ['ReportBatchItemFailures']);
});

test('CreateEventSourceMapping with Enabled false: State Disabled', T, async () => {
  const q = await newQueue('esm-off');
  const out = await createMapping({ FunctionName: 'echo', EventSourceArn: q.arn, Enabled: false });
  assert.equal(out.$metadata.httpStatusCode, 202);
  assert.equal(out.State, 'Disabled');
  assert.equal((await getMapping(out.UUID)).State, 'Disabled');
});

test('CreateEventSourceMapping for a queue that does not exist is accepted (AWS reports it later)', T, async () => {
  const out = await createMapping({ FunctionName: 'echo', EventSourceArn: queueArn(uniqueName('ghost')) });
  assert.equal(out.$metadata.httpStatusCode, 202);
  assert.match(out.UUID, UUID_RE);
});

test('CreateEventSourceMapping: unknown function is 404 ResourceNotFoundException', T, async () => {
  const q = await newQueue('esm-nofn');
  await expectLambdaError(
    lambda.send(new CreateEventSourceMappingCommand({ FunctionName: 'nope', EventSourceArn: q.arn })),
    { name: 'ResourceNotFoundException', status: 404, message: fnNotFound('nope') },
  );
});

test('CreateEventSourceMapping: queue visibility timeout below the function timeout', T, async () => {
  const q = await newQueue('esm-vis', { VisibilityTimeout: '1' });
  const e = await expectLambdaError(
    lambda.send(new CreateEventSourceMappingCommand({ FunctionName: 'echo', EventSourceArn: q.arn })),
    { name: IPVE, status: 400, message: 'Queue visibility timeout: 1 seconds is less than Function timeout: 2 seconds' },
  );
  assert.equal(e.Type, 'User');
  // Equal is fine.
  const q2 = await newQueue('esm-vis2', { VisibilityTimeout: '2' });
  const ok = await createMapping({ FunctionName: 'echo', EventSourceArn: q2.arn });
  assert.equal(ok.$metadata.httpStatusCode, 202);
});

test('CreateEventSourceMapping: BatchSize and batching window ranges', T, async () => {
  const q = await newQueue('esm-range');
  const fifo = `arn:aws:sqs:${REGION}:${ACCOUNT}:api-jobs.fifo`;
  const create = (p) => lambda.send(new CreateEventSourceMappingCommand({ FunctionName: 'echo', ...p }));
  await expectLambdaError(create({ EventSourceArn: q.arn, BatchSize: 0 }),
    { name: RANGE, status: 400, message: /batch ?size/i });
  await expectLambdaError(create({ EventSourceArn: q.arn, BatchSize: 10001, MaximumBatchingWindowInSeconds: 1 }),
    { name: RANGE, status: 400, message: /batch ?size/i });
  await expectLambdaError(create({ EventSourceArn: q.arn, BatchSize: 20 }), {
    name: IPVE,
    status: 400,
    message: 'Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10',
  });
  await expectLambdaError(create({ EventSourceArn: q.arn, MaximumBatchingWindowInSeconds: 301 }),
    { name: RANGE, status: 400, message: /batching ?window/i });
  await expectLambdaError(create({ EventSourceArn: fifo, BatchSize: 11, MaximumBatchingWindowInSeconds: 1 }),
    { name: RANGE, status: 400 });
  // The edges are fine.
  const edge = await createMapping({ FunctionName: 'echo', EventSourceArn: q.arn, BatchSize: 10000,
    MaximumBatchingWindowInSeconds: 300 });
  assert.equal(edge.BatchSize, 10000);
  assert.equal(edge.MaximumBatchingWindowInSeconds, 300);
  const f = await createMapping({ FunctionName: 'echo', EventSourceArn: fifo, BatchSize: 10 });
  assert.equal(f.BatchSize, 10);
});

test('CreateEventSourceMapping: invalid filter patterns, response types, scaling config', T, async () => {
  const q = await newQueue('esm-bad');
  const create = (p) => lambda.send(new CreateEventSourceMappingCommand({
    FunctionName: 'echo', EventSourceArn: q.arn, ...p,
  }));
  for (const Pattern of ['not json', '{"body": "keep"}', '[1, 2]']) {
    await expectLambdaError(create({ FilterCriteria: { Filters: [{ Pattern }] } }),
      { name: IPVE, status: 400, message: 'Invalid filter pattern definition.' });
  }
  await expectLambdaError(create({ FunctionResponseTypes: ['Bogus'] }), { name: RANGE, status: 400 });
  await expectLambdaError(create({ ScalingConfig: { MaximumConcurrency: 1 } }), { name: RANGE, status: 400 });
  await expectLambdaError(create({ ScalingConfig: { MaximumConcurrency: 1001 } }), { name: RANGE, status: 400 });
});

test('Create/UpdateEventSourceMapping: MetricsConfig EventCount', T, async () => {
  const q = await newQueue('esm-metrics');
  const m = await createMapping({ FunctionName: 'echo', EventSourceArn: q.arn,
    MetricsConfig: { Metrics: ['EventCount'] } });
  assert.deepEqual(m.MetricsConfig, { Metrics: ['EventCount'] });
  assert.deepEqual((await getMapping(m.UUID)).MetricsConfig, { Metrics: ['EventCount'] });
  const off = await lambda.send(new UpdateEventSourceMappingCommand({ UUID: m.UUID, MetricsConfig: { Metrics: [] } }));
  assert.equal(off.MetricsConfig, undefined);
  const q2 = await newQueue('esm-metrics-plain');
  const plain = await createMapping({ FunctionName: 'echo', EventSourceArn: q2.arn });
  assert.equal(plain.MetricsConfig, undefined);
  const q3 = await newQueue('esm-metrics-bad');
  const create = (p) => lambda.send(new CreateEventSourceMappingCommand({
    FunctionName: 'echo', EventSourceArn: q3.arn, ...p,
  }));
  await expectLambdaError(create({ MetricsConfig: { Metrics: ['Bogus'] } }), { name: IPVE, status: 400 });
  await expectLambdaError(create({ MetricsConfig: { Metrics: ['KafkaMetrics'] } }), { name: IPVE, status: 400 });
});

test('ListEventSourceMappings: config mappings, created ones, filters', T, async () => {
  const q = await newQueue('esm-list');
  const mine = await createMapping({ FunctionName: 'echo', EventSourceArn: q.arn });
  const all = await lambda.send(new ListEventSourceMappingsCommand({}));
  assert.equal(all.$metadata.httpStatusCode, 200);
  const uuids = all.EventSourceMappings.map((m) => m.UUID);
  assert.ok(uuids.includes(mine.UUID), 'the created mapping is listed');

  // The config's mapping of `mapped` to api-mapped (enabled: false, batch_size 4).
  const cfg = all.EventSourceMappings.filter((m) => m.FunctionArn === functionArn('mapped'));
  assert.equal(cfg.length, 1, 'the config mapping is listed once');
  assert.match(cfg[0].UUID, UUID_RE);
  assert.equal(cfg[0].EventSourceArn, queueArn('api-mapped'));
  assert.equal(cfg[0].BatchSize, 4);
  assert.equal(cfg[0].State, 'Disabled');
  const cfgGot = await getMapping(cfg[0].UUID);
  assert.equal(cfgGot.EventSourceArn, queueArn('api-mapped'));

  const byFn = await lambda.send(new ListEventSourceMappingsCommand({ FunctionName: 'mapped' }));
  assert.deepEqual(byFn.EventSourceMappings.map((m) => m.UUID), [cfg[0].UUID]);
  const byFnArn = await lambda.send(new ListEventSourceMappingsCommand({ FunctionName: functionArn('mapped') }));
  assert.deepEqual(byFnArn.EventSourceMappings.map((m) => m.UUID), [cfg[0].UUID]);
  const bySrc = await lambda.send(new ListEventSourceMappingsCommand({ EventSourceArn: q.arn }));
  assert.deepEqual(bySrc.EventSourceMappings.map((m) => m.UUID), [mine.UUID]);
  const both = await lambda.send(new ListEventSourceMappingsCommand({ EventSourceArn: q.arn, FunctionName: 'crash' }));
  assert.deepEqual(both.EventSourceMappings, []);
  const echoOnes = await lambda.send(new ListEventSourceMappingsCommand({ FunctionName: 'echo' }));
  assert.ok(echoOnes.EventSourceMappings.every((m) => m.FunctionArn === functionArn('echo')));
  assert.ok(echoOnes.EventSourceMappings.some((m) => m.UUID === mine.UUID));
});

test('UpdateEventSourceMapping: disable (Disabling -> Disabled), enable (Enabling -> Enabled), settings', T, async () => {
  const q = await newQueue('esm-upd');
  const m = await createMapping({ FunctionName: 'echo', EventSourceArn: q.arn });
  await waitState(m.UUID, 'Enabled');

  const off = await lambda.send(new UpdateEventSourceMappingCommand({ UUID: m.UUID, Enabled: false }));
  assert.equal(off.$metadata.httpStatusCode, 202);
  assert.equal(off.State, 'Disabling');
  assert.equal(off.UUID, m.UUID);
  await waitState(m.UUID, 'Disabled');

  const on = await lambda.send(new UpdateEventSourceMappingCommand({ UUID: m.UUID, Enabled: true }));
  assert.equal(on.$metadata.httpStatusCode, 202);
  assert.equal(on.State, 'Enabling');
  await waitState(m.UUID, 'Enabled');

  const pattern = JSON.stringify({ body: { n: [{ numeric: ['>', 5] }] } });
  const upd = await lambda.send(new UpdateEventSourceMappingCommand({
    UUID: m.UUID,
    BatchSize: 7,
    MaximumBatchingWindowInSeconds: 1,
    FunctionResponseTypes: ['ReportBatchItemFailures'],
    FilterCriteria: { Filters: [{ Pattern: pattern }] },
    ScalingConfig: { MaximumConcurrency: 4 },
  }));
  assert.equal(upd.$metadata.httpStatusCode, 202);
  assert.equal(upd.BatchSize, 7);
  assert.equal(upd.MaximumBatchingWindowInSeconds, 1);
  assert.deepEqual(upd.FunctionResponseTypes, ['ReportBatchItemFailures']);
  const got = await getMapping(m.UUID);
  assert.equal(got.BatchSize, 7);
  assert.equal(got.MaximumBatchingWindowInSeconds, 1);
  assert.deepEqual(got.FilterCriteria, { Filters: [{ Pattern: pattern }] });
  assert.deepEqual(got.ScalingConfig, { MaximumConcurrency: 4 });
  assert.equal(got.EventSourceArn, q.arn, 'the source does not change');

  // FilterCriteria {} removes the filters.
  await lambda.send(new UpdateEventSourceMappingCommand({ UUID: m.UUID, FilterCriteria: {} }));
  const cleared = await getMapping(m.UUID);
  assert.ok(cleared.FilterCriteria === undefined || (cleared.FilterCriteria.Filters ?? []).length === 0,
    `filters removed: ${JSON.stringify(cleared.FilterCriteria)}`);
});

test('UpdateEventSourceMapping: invalid values are rejected and change nothing', T, async () => {
  const q = await newQueue('esm-upd-bad');
  const m = await createMapping({ FunctionName: 'echo', EventSourceArn: q.arn, BatchSize: 3 });
  const upd = (p) => lambda.send(new UpdateEventSourceMappingCommand({ UUID: m.UUID, ...p }));
  await expectLambdaError(upd({ BatchSize: 0 }), { name: RANGE, status: 400, message: /batch ?size/i });
  await expectLambdaError(upd({ BatchSize: 20 }), {
    name: IPVE,
    status: 400,
    message: 'Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10',
  });
  await expectLambdaError(upd({ FilterCriteria: { Filters: [{ Pattern: '{oops' }] } }),
    { name: IPVE, status: 400, message: 'Invalid filter pattern definition.' });
  await expectLambdaError(upd({ FunctionName: 'nope' }),
    { name: 'ResourceNotFoundException', status: 404 });
  assert.equal((await getMapping(m.UUID)).BatchSize, 3);
});

test('DeleteEventSourceMapping: 202 Deleting; then it is gone', T, async () => {
  const q = await newQueue('esm-del');
  const m = await createMapping({ FunctionName: 'echo', EventSourceArn: q.arn });
  const out = await lambda.send(new DeleteEventSourceMappingCommand({ UUID: m.UUID }));
  assert.equal(out.$metadata.httpStatusCode, 202);
  assert.equal(out.State, 'Deleting');
  assert.equal(out.UUID, m.UUID);
  assert.equal(out.EventSourceArn, q.arn);
  await waitFor(async () => {
    try {
      await getMapping(m.UUID);
      return false;
    } catch (e) {
      return e.name === 'ResourceNotFoundException';
    }
  }, { what: 'the deleted mapping to disappear' });
  const list = await lambda.send(new ListEventSourceMappingsCommand({ EventSourceArn: q.arn }));
  assert.deepEqual(list.EventSourceMappings, []);
});

test('Get / Update / Delete of an unknown mapping: 404 ResourceNotFoundException', T, async () => {
  const UUID = '00000000-0000-4000-8000-000000000000';
  const want = { name: 'ResourceNotFoundException', status: 404, message: NOT_FOUND_MAPPING };
  const e = await expectLambdaError(getMapping(UUID), want);
  assert.equal(e.Type, 'User');
  await expectLambdaError(lambda.send(new UpdateEventSourceMappingCommand({ UUID, Enabled: false })), want);
  await expectLambdaError(lambda.send(new DeleteEventSourceMappingCommand({ UUID })), want);
});
