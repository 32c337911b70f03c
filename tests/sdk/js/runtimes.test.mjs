// The Lambda runtimes through @aws-sdk/client-lambda: unmodified Node.js
// handlers (CommonJS, ES modules, "type": "module", callback style) run by the
// bootstrap sluice ships, console lines in the log tail, thrown errors in
// Lambda's shape (with `trace`), load errors, an uncaught exception, the SDK
// v3 called from inside a handler, and two custom runtimes (provided.al2023):
// a bash + curl `bootstrap` and a C one (reference/runtime-api.md §1, §4).
// Functions come from tests/e2e/runtimes.yaml; the file starts a private
// server with that config.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { GetQueueUrlCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import {
  T, startServer, makeClient, makeLambdaClient, stageRuntimesConfig, functionArn, functionLog, REGION,
} from './harness.mjs';

let server;
let stage;
let lambda;
let sqs;

before(async () => {
  stage = stageRuntimesConfig();
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

const enc = (v) => new TextEncoder().encode(JSON.stringify(v));
const dec = (u8) => (u8 ? Buffer.from(u8).toString('utf8') : '');
const ISO = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z';
const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function invoke(FunctionName, payload, extra = {}) {
  return lambda.send(new InvokeCommand({ FunctionName, Payload: enc(payload ?? {}), ...extra }));
}

/** The answer's JSON, asserting it is a success. */
function okJson(out) {
  assert.equal(out.StatusCode, 200);
  assert.equal(out.FunctionError, undefined, `unexpected function error: ${dec(out.Payload)}`);
  return JSON.parse(dec(out.Payload));
}

/** The answer's error JSON, asserting X-Amz-Function-Error: Unhandled. */
function errorJson(out) {
  assert.equal(out.StatusCode, 200);
  assert.equal(out.FunctionError, 'Unhandled', `expected a function error, got ${dec(out.Payload)}`);
  return JSON.parse(dec(out.Payload));
}

function tail(out) {
  assert.ok(out.LogResult, 'X-Amz-Log-Result expected with LogType Tail');
  return Buffer.from(out.LogResult, 'base64').toString('utf8');
}

function startId(log) {
  const m = /START RequestId: (\S+) Version: \$LATEST/.exec(log);
  assert.ok(m, `no START line in the log tail:\n${log}`);
  return m[1];
}

// ---------------------------------------------------------------------------
// Node.js module kinds
// ---------------------------------------------------------------------------

test('CommonJS handler: Lambda context and environment', T, async () => {
  const out = await invoke('js-cjs', { order: 1 }, { LogType: 'Tail' });
  const doc = okJson(out);
  const rid = startId(tail(out));
  assert.equal(doc.module, 'cjs');
  assert.deepEqual(doc.event, { order: 1 });
  assert.equal(doc.functionName, 'js-cjs');
  assert.equal(doc.functionVersion, '$LATEST');
  assert.equal(doc.invokedFunctionArn, functionArn('js-cjs'));
  assert.equal(doc.memoryLimitInMB, '512');
  assert.equal(doc.awsRequestId, rid);
  assert.equal(doc.logGroupName, '/aws/lambda/js-cjs');
  assert.ok(doc.logStreamName);
  assert.equal(doc.callbackWaitsForEmptyEventLoop, true);
  assert.ok(doc.remaining > 0 && doc.remaining <= 3000, `remaining ${doc.remaining}`);
  assert.equal(doc.env._HANDLER, 'index.handler');
  assert.equal(doc.env.AWS_EXECUTION_ENV, 'AWS_Lambda_nodejs20.x');
  assert.equal(doc.env.AWS_LAMBDA_FUNCTION_NAME, 'js-cjs');
  assert.equal(doc.env.AWS_REGION, REGION);
  assert.equal(doc.env.TZ, ':UTC');
  assert.equal(doc.env.AWS_ENDPOINT_URL, server.endpoint);
  assert.equal(realpathSync(doc.env.LAMBDA_TASK_ROOT), realpathSync(`${stage.dir}/runtimes/nodejs`));
});

test('Invoke ClientContext reaches context.clientContext', T, async () => {
  const cc = { custom: { tenant: 't-9' }, env: { locale: 'en' }, client: { app_title: 'shop' } };
  const doc = okJson(await invoke('js-cjs', {}, { ClientContext: Buffer.from(JSON.stringify(cc)).toString('base64') }));
  assert.deepEqual(doc.clientContext, cc);
  const plain = okJson(await invoke('js-cjs', {}));
  assert.equal(plain.clientContext, undefined, 'no ClientContext, no context.clientContext');
});

test('console lines are in the log tail, in Lambda\'s format', T, async () => {
  const out = await invoke('js-cjs', { n: 2 }, { LogType: 'Tail' });
  const doc = okJson(out);
  const log = tail(out);
  const rid = esc(startId(log));
  assert.match(log, new RegExp(`${ISO}\\t${rid}\\tINFO\\tconsole\\.log from the handler: \\{ count: ${doc.count} \\}\\n`));
  assert.match(log, new RegExp(`${ISO}\\t${rid}\\tINFO\\tmulti\\rline\\n`), 'a \\n inside a message becomes \\r');
  assert.match(log, new RegExp(`${ISO}\\t${rid}\\tWARN\\ta warning\\n`));
  assert.match(log, new RegExp(`${ISO}\\t${rid}\\tERROR\\tan error line\\n`));
  assert.ok(!dec(out.Payload).includes('console.log from'), 'console output never reaches the answer');
  // During init there is no request yet: Lambda writes `undefined`.
  const file = await functionLog(server.endpoint, 'js-cjs');
  assert.match(file, new RegExp(`${ISO}\\tundefined\\tINFO\\tindex\\.js loaded\\n`));
});

test('warm reuse: module state grows on one instance', T, async () => {
  const a = okJson(await invoke('js-cjs', {}));
  const b = okJson(await invoke('js-cjs', {}));
  assert.equal(b.count, a.count + 1);
  assert.equal(b.pid, a.pid);
});

test('ES module handler (.mjs, export const handler)', T, async () => {
  const a = okJson(await invoke('js-esm', { x: 1 }));
  const b = okJson(await invoke('js-esm', { x: 2 }));
  assert.equal(a.module, 'esm');
  assert.deepEqual(b.event, { x: 2 });
  assert.equal(b.count, a.count + 1);
  assert.equal(b.pid, a.pid);
});

test('a 5 MB event arrives whole', T, async () => {
  const data = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'.repeat(200000) + 'é✓';
  const raw = Buffer.from(data, 'utf8');
  const doc = okJson(await invoke('js-digest', { data }));
  assert.deepEqual(doc, { length: raw.length, sha256: createHash('sha256').update(raw).digest('hex') });
});

test('.js under a package.json with "type": "module" loads as an ES module', T, async () => {
  const doc = okJson(await invoke('js-typemodule', { y: 1 }));
  assert.deepEqual(doc, { module: 'type-module', isEsm: true, event: { y: 1 } });
});

test('callback handler: answers once the event loop is empty, or at once without waiting', T, async () => {
  const first = await invoke('js-callback', { timerMs: 50 }, { LogType: 'Tail' });
  const a = okJson(first);
  assert.deepEqual(a, { style: 'callback', timersBefore: 0, wait: true });
  assert.match(tail(first), /\tINFO\ttimer after the callback ran\n/, 'the timer ran before the answer');
  // callbackWaitsForEmptyEventLoop = false: the answer leaves before the timer.
  const second = await invoke('js-callback', { noWait: true, timerMs: 300 }, { LogType: 'Tail' });
  const b = okJson(second);
  assert.deepEqual(b, { style: 'callback', timersBefore: 1, wait: false });
  assert.doesNotMatch(tail(second), /timer after the callback ran/);
  const third = errorJson(await invoke('js-callback', { fail: true }));
  assert.equal(third.errorType, 'Error');
  assert.equal(third.errorMessage, 'callback failure');
  assert.equal(third.trace[0], 'Error: callback failure');
  // A callback handler that never calls back answers null once the loop is empty.
  const quiet = await invoke('js-callback', { noAnswer: true });
  assert.equal(quiet.FunctionError, undefined);
  assert.equal(dec(quiet.Payload), 'null');
});

test('an async handler whose promise never settles fails with Runtime.NodeJsExit', T, async () => {
  const doc = errorJson(await invoke('js-errors', { hang: true }));
  assert.equal(doc.errorType, 'Runtime.NodeJsExit');
  // The instance is still usable.
  assert.ok(okJson(await invoke('js-errors', { pid: true })).pid);
});

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

test('a thrown error: {errorType, errorMessage, trace} and an Invoke Error log line', T, async () => {
  const out = await invoke('js-errors', { id: 7 }, { LogType: 'Tail' });
  const doc = errorJson(out);
  assert.deepEqual(Object.keys(doc), ['errorType', 'errorMessage', 'trace']);
  assert.equal(doc.errorType, 'OrderError');
  assert.equal(doc.errorMessage, 'order 7 is invalid');
  assert.ok(Array.isArray(doc.trace));
  assert.equal(doc.trace[0], 'OrderError: order 7 is invalid');
  assert.match(doc.trace[1], /^ {4}at .*errors\.js:\d+:\d+\)$/);
  const log = tail(out);
  const rid = esc(startId(log));
  assert.match(log, new RegExp(`${ISO}\\t${rid}\\tERROR\\tInvoke Error \\t\\{"errorType":"OrderError","errorMessage":"order 7 is invalid"`));
  // A thrown non-Error: its type and text, no trace.
  assert.deepEqual(errorJson(await invoke('js-errors', { string: true })),
    { errorType: 'string', errorMessage: 'a plain string', trace: [] });
});

test('an uncaught exception fails the invocation and the next one runs on a new instance', T, async () => {
  const before = okJson(await invoke('js-errors', { pid: true })).pid;
  const doc = errorJson(await invoke('js-errors', { uncaught: true }));
  assert.equal(doc.errorType, 'Error');
  assert.equal(doc.errorMessage, 'thrown from a timer');
  assert.equal(doc.trace[0], 'Error: thrown from a timer');
  // The instance exited (129); the next invocation gets a new one.
  const after = okJson(await invoke('js-errors', { pid: true })).pid;
  assert.notEqual(after, before);
});

test('an unhandled rejection is Runtime.UnhandledPromiseRejection', T, async () => {
  const doc = errorJson(await invoke('js-errors', { rejection: true }));
  assert.equal(doc.errorType, 'Runtime.UnhandledPromiseRejection');
  assert.equal(doc.errorMessage, 'Error: nobody catches this');
});

test('load errors: ImportModuleError, UserCodeSyntaxError, HandlerNotFound', T, async () => {
  const imp = errorJson(await invoke('js-import', {}));
  assert.equal(imp.errorType, 'Runtime.ImportModuleError');
  assert.match(imp.errorMessage, /^Error: Cannot find module 'a-package-that-is-not-installed'\nRequire stack:\n/);
  assert.ok(Array.isArray(imp.trace));
  const syn = errorJson(await invoke('js-syntax', {}));
  assert.equal(syn.errorType, 'Runtime.UserCodeSyntaxError');
  assert.match(syn.errorMessage, /^SyntaxError: /);
  const nf = errorJson(await invoke('js-nohandler', {}));
  assert.equal(nf.errorType, 'Runtime.HandlerNotFound');
  assert.equal(nf.errorMessage, 'errors.nope is undefined or not exported');
  // Init runs again at the next invocation, and fails again the same way.
  assert.equal(errorJson(await invoke('js-import', {})).errorType, 'Runtime.ImportModuleError');
});

// ---------------------------------------------------------------------------
// The SDK inside a handler
// ---------------------------------------------------------------------------

test('@aws-sdk/client-sqs inside the handler reaches sluice without an endpoint', T, async () => {
  const doc = okJson(await invoke('js-send', { body: 'from a node handler' }));
  const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: 'rt-js-out' }));
  assert.equal(doc.QueueUrl, QueueUrl);
  const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 2, MaxNumberOfMessages: 10 }));
  assert.deepEqual((got.Messages ?? []).map((m) => [m.MessageId, m.Body]), [[doc.MessageId, 'from a node handler']]);
});

// ---------------------------------------------------------------------------
// Custom runtimes (provided.al2023)
// ---------------------------------------------------------------------------

test('a bash + curl bootstrap serves invocations on one warm process', T, async () => {
  const out = await invoke('sh-custom', { hello: 'shell' }, { LogType: 'Tail' });
  const doc = okJson(out);
  const log = tail(out);
  assert.equal(doc.runtime, 'shell');
  assert.equal(doc.requestId, startId(log));
  assert.deepEqual(doc.event, { hello: 'shell' });
  assert.equal(doc.execEnv, '', 'no AWS_EXECUTION_ENV for provided runtimes');
  assert.match(log, /shell handler got: \{"hello":"shell"\}\n/);
  const again = okJson(await invoke('sh-custom', { n: 2 }));
  assert.equal(again.pid, doc.pid);
});

test('a C bootstrap on plain sockets: responses and errors', T, async () => {
  const out = await invoke('c-custom', { hello: 'c' }, { LogType: 'Tail' });
  const doc = okJson(out);
  const log = tail(out);
  assert.deepEqual(doc.event, { hello: 'c' });
  assert.equal(doc.runtime, 'c');
  assert.equal(doc.handler, 'whatever.handler');
  assert.equal(doc.requestId, startId(log));
  assert.match(log, /c runtime handling /);
  const err = errorJson(await invoke('c-custom', { fail: true }));
  assert.deepEqual(err, { errorMessage: 'asked to fail', errorType: 'CHandlerError' });
  assert.equal(okJson(await invoke('c-custom', { n: 3 })).pid, doc.pid);
});
