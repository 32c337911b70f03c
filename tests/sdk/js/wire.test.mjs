// Raw HTTP checks of the JSON 1.0 wire format that the SDK hides: headers,
// __type, x-amzn-query-error, omitted members, unknown targets, bad JSON, the
// health endpoint, Host-derived queue URLs and JSON posted to a queue path.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { T, ACCOUNT, startServer, uniqueName, md5Hex } from './harness.mjs';

let server;
let base; // URL of the server

before(async () => {
  server = await startServer();
  base = new URL(server.endpoint);
}, T);

after(async () => {
  await server?.stop();
}, T);

/**
 * One raw request. Returns { status, headers, text, json } where json is the
 * parsed body or undefined. Uses node:http so the Host header can be set.
 */
function raw({ method = 'POST', path = '/', headers = {}, body } = {}) {
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
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try {
          json = text.length ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.setTimeout(20000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** A JSON 1.0 call: AmazonSQS.<action> with the object as body. */
function call(action, payload, { path = '/', headers = {} } = {}) {
  return raw({
    path,
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': `AmazonSQS.${action}`,
      ...headers,
    },
    body: JSON.stringify(payload),
  });
}

function assertJsonContentType(res) {
  assert.match(String(res.headers['content-type']), /^application\/x-amz-json-1\.0\b/);
}

function assertRequestId(res) {
  const id = res.headers['x-amzn-requestid'];
  assert.ok(typeof id === 'string' && id.length > 0, `x-amzn-RequestId present (headers ${JSON.stringify(res.headers)})`);
  return id;
}

test('success: 200, x-amzn-RequestId, JSON 1.0 content type, QueueUrl from the Host header', T, async () => {
  const name = uniqueName('wire');
  const res = await call('CreateQueue', { QueueName: name });
  assert.equal(res.status, 200, res.text);
  assertJsonContentType(res);
  const id1 = assertRequestId(res);
  assert.deepEqual(res.json, { QueueUrl: `http://${base.host}/${ACCOUNT}/${name}` });

  const res2 = await call('GetQueueUrl', { QueueName: name });
  assert.equal(res2.status, 200);
  assert.notEqual(assertRequestId(res2), id1, 'request ids are unique');
});

test('every answer carries a Date header in IMF-fixdate, GMT, of the current second', T, async () => {
  // sluice formats the Date once a second instead of letting evhttp format
  // one per reply; it must still be the reply's own second, for successes
  // and errors, across a second boundary.
  const imf = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;
  const dates = new Set();
  for (let i = 0; i < 3; i++) {
    for (const res of [await call('ListQueues', {}), await call('GetQueueUrl', { QueueName: uniqueName('nodate') })]) {
      const before = Math.floor(Date.now() / 1000) * 1000;
      const date = res.headers.date;
      assert.match(String(date), imf);
      const t = Date.parse(date);
      assert.ok(Math.abs(t - before) <= 1000, `Date ${date} is the current second (client ${new Date(before).toUTCString()})`);
      assert.equal(new Date(t).toUTCString(), date, 'the weekday matches the date');
      dates.add(date);
    }
    await new Promise((r) => setTimeout(r, 600));
  }
  assert.ok(dates.size >= 2, `the Date moves with the clock (${[...dates].join(', ')})`);
});

test('error: QueueDoesNotExist with __type, x-amzn-query-error and message', T, async () => {
  const res = await call('GetQueueUrl', { QueueName: uniqueName('nope') });
  assert.equal(res.status, 400);
  assertJsonContentType(res);
  assertRequestId(res);
  assert.equal(res.headers['x-amzn-query-error'], 'AWS.SimpleQueueService.NonExistentQueue;Sender');
  assert.equal(res.json.__type, 'com.amazonaws.sqs#QueueDoesNotExist');
  assert.equal(res.json.message ?? res.json.Message, 'The specified queue does not exist.');
});

test('error: InvalidParameterValue carries the coral __type and the legacy code header', T, async () => {
  const name = uniqueName('wireipv');
  const url = (await call('CreateQueue', { QueueName: name })).json.QueueUrl;
  const res = await call('ReceiveMessage', { QueueUrl: url, MaxNumberOfMessages: 11 });
  assert.equal(res.status, 400);
  assertJsonContentType(res);
  assertRequestId(res);
  assert.equal(res.headers['x-amzn-query-error'], 'InvalidParameterValue;Sender');
  assert.equal(res.json.__type, 'com.amazon.coral.service#InvalidParameterValueException');
  assert.equal(res.json.message ?? res.json.Message,
    'Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.');
});

test('error: QueueAlreadyExists is sent as __type QueueNameExists', T, async () => {
  const name = uniqueName('wiredup');
  await call('CreateQueue', { QueueName: name, Attributes: { DelaySeconds: '1' } });
  const res = await call('CreateQueue', { QueueName: name, Attributes: { DelaySeconds: '2' } });
  assert.equal(res.status, 400);
  assert.equal(res.headers['x-amzn-query-error'], 'QueueAlreadyExists;Sender');
  assert.equal(res.json.__type, 'com.amazonaws.sqs#QueueNameExists');
});

test('empty results omit members: no Messages, no attribute digests', T, async () => {
  const name = uniqueName('wireempty');
  const url = (await call('CreateQueue', { QueueName: name })).json.QueueUrl;

  const empty = await call('ReceiveMessage', { QueueUrl: url, MaxNumberOfMessages: 10 });
  assert.equal(empty.status, 200);
  assertJsonContentType(empty);
  assert.equal(empty.json !== undefined && 'Messages' in empty.json, false, `body ${empty.text}`);

  const sent = await call('SendMessage', { QueueUrl: url, MessageBody: 'hello' });
  assert.equal(sent.status, 200, sent.text);
  assert.equal(sent.json.MD5OfMessageBody, '5d41402abc4b2a76b9719d911017c592');
  assert.ok(!('MD5OfMessageAttributes' in sent.json), `body ${sent.text}`);
  assert.ok(!('MD5OfMessageSystemAttributes' in sent.json), `body ${sent.text}`);
  assert.ok(!('SequenceNumber' in sent.json), `body ${sent.text}`);

  const got = await call('ReceiveMessage', { QueueUrl: url });
  assert.equal(got.json.Messages.length, 1);
  const m = got.json.Messages[0];
  assert.equal(m.Body, 'hello');
  assert.equal(m.MD5OfBody, '5d41402abc4b2a76b9719d911017c592');
  assert.ok(!('MessageAttributes' in m) && !('MD5OfMessageAttributes' in m), `message ${JSON.stringify(m)}`);
});

test('the documented SendMessage example: attr1=v digests to 5d7451cd…', T, async () => {
  const url = (await call('CreateQueue', { QueueName: uniqueName('wiremd5') })).json.QueueUrl;
  const res = await call('SendMessage', {
    QueueUrl: url,
    MessageBody: 'hello',
    MessageAttributes: { attr1: { DataType: 'String', StringValue: 'v' } },
  });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.MD5OfMessageAttributes, '5d7451cdb6bb563786f0f121888def84');
  assert.equal(res.json.MD5OfMessageBody, '5d41402abc4b2a76b9719d911017c592');
  // Binary values travel as base64 in JSON.
  const bin = await call('SendMessage', {
    QueueUrl: url,
    MessageBody: 'b',
    MessageAttributes: { mybin: { DataType: 'Binary', BinaryValue: Buffer.from('kekchebukek').toString('base64') } },
  });
  assert.equal(bin.status, 200, bin.text);
  const r = await call('ReceiveMessage', { QueueUrl: url, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'] });
  const bm = r.json.Messages.find((m) => m.Body === 'b');
  assert.equal(bm.MessageAttributes.mybin.BinaryValue, Buffer.from('kekchebukek').toString('base64'));
  assert.equal(bm.MessageAttributes.mybin.DataType, 'Binary');
});

test('unknown X-Amz-Target action: 400 with x-amzn-query-error InvalidAction', T, async () => {
  const res = await call('FooBar', {});
  assert.equal(res.status, 400);
  assertRequestId(res);
  assert.match(String(res.headers['x-amzn-query-error']), /^InvalidAction/);
  assert.ok(res.json && typeof res.json.__type === 'string', `JSON error body: ${res.text}`);
});

test('malformed JSON body: 400 with a JSON error', T, async () => {
  const res = await raw({
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.ListQueues' },
    body: '{"QueueNamePrefix": ',
  });
  assert.equal(res.status, 400);
  assertRequestId(res);
  assert.ok(res.json && typeof res.json.__type === 'string', `JSON error body: ${res.text}`);
});

test('GET /_sluice/health: 200 {"status":"ok"}', T, async () => {
  const res = await raw({ method: 'GET', path: '/_sluice/health' });
  assert.equal(res.status, 200);
  assert.deepEqual(res.json, { status: 'ok' });
});

test('QueueUrl echoes another Host header', T, async () => {
  const name = uniqueName('host');
  // A loopback listener accepts loopback names only (or security.allowed_hosts):
  // another name is what a DNS-rebinding page sends (hostile.test.mjs).
  const res = await call('CreateQueue', { QueueName: name }, { headers: { host: 'sqs.localhost:4566' } });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.QueueUrl, `http://sqs.localhost:4566/${ACCOUNT}/${name}`);
  const res2 = await call('GetQueueUrl', { QueueName: name }, { headers: { host: 'localhost:9999' } });
  assert.equal(res2.json.QueueUrl, `http://localhost:9999/${ACCOUNT}/${name}`);
  // The queue is the same whichever host named it.
  const list = await call('ListQueues', { QueueNamePrefix: name });
  assert.deepEqual(list.json.QueueUrls, [`http://${base.host}/${ACCOUNT}/${name}`]);
});

test('a queue URL with a foreign host still addresses the queue by account and name', T, async () => {
  const name = uniqueName('foreign');
  await call('CreateQueue', { QueueName: name });
  const res = await call('SendMessage', {
    QueueUrl: `https://sqs.us-east-1.amazonaws.com/${ACCOUNT}/${name}`,
    MessageBody: 'via aws-style url',
  });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.MD5OfMessageBody, md5Hex('via aws-style url'));
});

test('JSON posted to the queue URL path works', T, async () => {
  const name = uniqueName('pathpost');
  const url = (await call('CreateQueue', { QueueName: name })).json.QueueUrl;
  const path = `/${ACCOUNT}/${name}`;
  const sent = await call('SendMessage', { QueueUrl: url, MessageBody: 'to the path' }, { path });
  assert.equal(sent.status, 200, sent.text);
  assertJsonContentType(sent);
  assert.equal(sent.json.MD5OfMessageBody, md5Hex('to the path'));
  const got = await call('ReceiveMessage', { QueueUrl: url }, { path });
  assert.equal(got.status, 200, got.text);
  assert.equal(got.json.Messages?.[0]?.Body, 'to the path');
  const attrs = await call('GetQueueAttributes', { QueueUrl: url, AttributeNames: ['QueueArn'] }, { path });
  assert.equal(attrs.json.Attributes.QueueArn, `arn:aws:sqs:us-east-1:${ACCOUNT}:${name}`);
});

test('integers are JSON numbers and attribute maps are strings', T, async () => {
  const url = (await call('CreateQueue', {
    QueueName: uniqueName('types'),
    Attributes: { VisibilityTimeout: '45' },
  })).json.QueueUrl;
  const a = await call('GetQueueAttributes', { QueueUrl: url, AttributeNames: ['All'] });
  assert.equal(a.status, 200);
  for (const [k, v] of Object.entries(a.json.Attributes)) assert.equal(typeof v, 'string', `${k} is a string`);
  assert.equal(a.json.Attributes.VisibilityTimeout, '45');
  // A JSON number where the model wants an integer is accepted.
  const r = await call('ReceiveMessage', { QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 5 });
  assert.equal(r.status, 200, r.text);
});
