// Issue 11, the parts an SDK user sees: a web page cannot destroy data
// (a cross-site GET DeleteQueue, a cross-origin JSON call, a text/plain
// clock POST), a rebinding Host is refused, and SDK v3 calls keep working
// with the guard configured (allowed origins, hosts, admin token). Also a
// NUL in a JSON body is refused, not cut. See docs/reliability.md.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  CreateQueueCommand, DeleteQueueCommand, GetQueueUrlCommand, ReceiveMessageCommand, SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { T, startServer, makeClient, uniqueName, clockCall, expectSqsError } from './harness.mjs';

const TOKEN = 'js-admin-token';
let server;
let sqs;
let base;

before(async () => {
  server = await startServer({
    config: `security:\n  allowed_origins: [http://localhost:3000]\n  allowed_hosts: [sluice.test]\n`
      + `  admin_token: ${TOKEN}\n`,
  });
  sqs = makeClient(server.endpoint);
  base = new URL(server.endpoint);
}, T);

after(async () => {
  await server?.stop();
}, T);

/** One raw request with exactly these headers (Host may be overridden). */
function raw({ method = 'GET', path = '/', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: base.hostname,
      port: base.port,
      method,
      path,
      headers: body === undefined ? headers : { 'content-length': Buffer.byteLength(body), ...headers },
      agent: false,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

async function newQueue(prefix) {
  const name = uniqueName(prefix);
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  return { name, url: QueueUrl };
}

test('a queue survives a cross-site <img> GET DeleteQueue', T, async () => {
  const q = await newQueue('img');
  const r = await raw({
    path: `/?Action=DeleteQueue&QueueUrl=${encodeURIComponent(q.url)}`,
    headers: { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'image' },
  });
  assert.equal(r.status, 403, r.text);
  assert.match(r.text, /<Code>AccessDenied<\/Code>/);
  assert.match(r.text, /cross-site browser request refused \(Sec-Fetch-Site: cross-site\)/);
  const got = await sqs.send(new GetQueueUrlCommand({ QueueName: q.name }));
  assert.equal(got.QueueUrl, q.url);
});

test('a cross-origin JSON DeleteQueue is refused with AccessDenied', T, async () => {
  const q = await newQueue('origin');
  const r = await raw({
    method: 'POST',
    headers: {
      origin: 'https://evil.example', 'sec-fetch-site': 'cross-site',
      'x-amz-target': 'AmazonSQS.DeleteQueue', 'content-type': 'application/x-amz-json-1.0',
    },
    body: JSON.stringify({ QueueUrl: q.url }),
  });
  assert.equal(r.status, 403, r.text);
  assert.equal(r.headers['x-amzn-query-error'], 'AccessDenied;Sender');
  assert.equal(JSON.parse(r.text).__type, 'com.amazon.coral.service#AccessDeniedException');
  assert.equal((await sqs.send(new GetQueueUrlCommand({ QueueName: q.name }))).QueueUrl, q.url);
});

test('a DNS-rebinding Host is refused; an allowed host is served', T, async () => {
  const bad = await raw({ path: '/?Action=ListQueues', headers: { host: `rebind.example:${base.port}` } });
  assert.equal(bad.status, 403, bad.text);
  assert.match(bad.text, /is not a loopback address/);
  const ok = await raw({ path: '/?Action=ListQueues', headers: { host: `sluice.test:${base.port}` } });
  assert.equal(ok.status, 200, ok.text);
});

test('the clock: text/plain and token-less POSTs refused, the clock unmoved; with the token it moves', T, async () => {
  const before0 = (await clockCall(server.endpoint)).json.offset_ms;
  const plain = await raw({
    method: 'POST', path: '/_sluice/clock', headers: { 'content-type': 'text/plain' },
    body: '{"advance_seconds": 315360000}',
  });
  assert.equal(plain.status, 415, plain.text);
  const noToken = await clockCall(server.endpoint, 'POST', { advance_seconds: 10 });
  assert.equal(noToken.status, 403, noToken.text);
  assert.match(noToken.json.error, /X-Sluice-Admin-Token/);
  assert.equal((await clockCall(server.endpoint)).json.offset_ms, before0);
  const res = await fetch(`${server.endpoint}/_sluice/clock`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-sluice-admin-token': TOKEN },
    body: JSON.stringify({ advance_seconds: 10 }),
  });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).offset_ms, before0 + 10000);
});

test('SDK v3 calls work unchanged with the guard configured', T, async () => {
  const q = await newQueue('sdk');
  await sqs.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: 'still fine' }));
  const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: q.url, WaitTimeSeconds: 1 }));
  assert.deepEqual(r.Messages.map((m) => m.Body), ['still fine']);
  await sqs.send(new DeleteQueueCommand({ QueueUrl: q.url }));
});

test('SDK v3: a NUL in a message body is InvalidMessageContents naming #x0, not a cut body', T, async () => {
  const q = await newQueue('nul');
  await expectSqsError(sqs.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: 'secret\u0000-tail' })), {
    code: 'InvalidMessageContents',
    message: "Invalid binary character '#x0' was found in the message body, the set of allowed characters is "
      + '#x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].',
  });
  const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: q.url, WaitTimeSeconds: 0 }));
  assert.equal(r.Messages, undefined);
});

test('SDK v3: a queue name with a NUL creates nothing', T, async () => {
  const name = uniqueName('nulname');
  await expectSqsError(sqs.send(new CreateQueueCommand({ QueueName: `${name}\u0000../../x` })), {
    code: 'InvalidParameterValue',
    message: 'Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length',
  });
  await expectSqsError(sqs.send(new GetQueueUrlCommand({ QueueName: name })), {
    name: 'QueueDoesNotExist', code: 'AWS.SimpleQueueService.NonExistentQueue',
  });
});
