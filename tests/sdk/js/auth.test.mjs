// Who gets in (issue 11): with `auth:` keys, SDK v3 signs with the right key
// and works (SQS JSON 1.0, Lambda REST); a wrong secret, an unknown key and
// no signature get AWS's errors; a presigned URL works until it expires; a
// clock 20 minutes off fails, and the SDK's own skew correction (from the
// answer's Date, the emulated clock) recovers when retries are on.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import {
  CreateQueueCommand, ListQueuesCommand, ReceiveMessageCommand, SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { ListFunctionsCommand } from '@aws-sdk/client-lambda';
import { SignatureV4 } from '@smithy/signature-v4';
import {
  T, REGION, advanceClock, clockCall, expectSqsError, makeClient, makeLambdaClient, startServer,
} from './harness.mjs';

const KEY = { accessKeyId: 'AKIDSLUICEJS0001', secretAccessKey: 'js/Secret+Key' };
const PRINCIPAL = 'AIDASLUICEJSPRINCIPAL';
const CONFIG = `
auth:
  keys:
    - access_key_id: ${KEY.accessKeyId}
      secret_access_key: "${KEY.secretAccessKey}"
      principal: ${PRINCIPAL}
`;

let server;
before(async () => {
  server = await startServer({ config: CONFIG });
}, T);
after(async () => {
  await server?.stop();
}, T);

class Sha256 {
  constructor(secret) {
    this.h = secret ? createHmac('sha256', secret) : createHash('sha256');
  }

  update(data) {
    this.h.update(typeof data === 'string' ? Buffer.from(data) : data);
  }

  async digest() {
    return new Uint8Array(this.h.digest());
  }
}

test('the right key works; SenderId is the key\'s principal', T, async () => {
  const sqs = makeClient(server.endpoint, { credentials: KEY });
  const lambda = await makeLambdaClient(server.endpoint, { credentials: KEY });
  try {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'js-signed' }));
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'hi' }));
    const out = await sqs.send(new ReceiveMessageCommand({
      QueueUrl, MessageSystemAttributeNames: ['SenderId'], WaitTimeSeconds: 1,
    }));
    assert.equal(out.Messages[0].Attributes.SenderId, PRINCIPAL);
    const fns = await lambda.send(new ListFunctionsCommand({}));
    assert.deepEqual(fns.Functions, []);
  } finally {
    sqs.destroy();
    lambda.destroy();
  }
});

test('a wrong secret is SignatureDoesNotMatch, an unknown key InvalidClientTokenId', T, async () => {
  const wrong = makeClient(server.endpoint, { credentials: { ...KEY, secretAccessKey: 'nope' } });
  const unknown = makeClient(server.endpoint, { credentials: { accessKeyId: 'AKIDNOBODY', secretAccessKey: 'x' } });
  const lambda = await makeLambdaClient(server.endpoint, { credentials: { accessKeyId: 'AKIDNOBODY', secretAccessKey: 'x' } });
  try {
    await expectSqsError(wrong.send(new ListQueuesCommand({})), {
      code: 'SignatureDoesNotMatch', status: 403,
      message: /^The request signature we calculated does not match the signature you provided\./,
    });
    await expectSqsError(unknown.send(new ListQueuesCommand({})), {
      code: 'InvalidClientTokenId', status: 403,
      message: 'The security token included in the request is invalid.',
    });
    await assert.rejects(lambda.send(new ListFunctionsCommand({})), (e) => {
      assert.equal(e.name, 'UnrecognizedClientException');
      assert.equal(e.$metadata.httpStatusCode, 403);
      return true;
    });
  } finally {
    wrong.destroy();
    unknown.destroy();
    lambda.destroy();
  }
});

test('an unsigned JSON request is MissingAuthenticationToken', T, async () => {
  const res = await fetch(`${server.endpoint}/`, {
    method: 'POST',
    headers: { 'x-amz-target': 'AmazonSQS.ListQueues', 'content-type': 'application/x-amz-json-1.0' },
    body: '{}',
  });
  assert.equal(res.status, 403);
  assert.equal(res.headers.get('x-amzn-query-error'), 'MissingAuthenticationToken;Sender');
  const body = await res.json();
  assert.equal(body.message, 'Request is missing Authentication Token');
});

test('a presigned URL works, and fails once expired', T, async () => {
  const url = new URL(server.endpoint);
  const signer = new SignatureV4({ credentials: KEY, region: REGION, service: 'sqs', sha256: Sha256 });
  const now = (await (await fetch(`${server.endpoint}/_sluice/clock`)).json()).now_ms;
  const signed = await signer.presign({
    method: 'GET',
    protocol: 'http:',
    hostname: url.hostname,
    port: Number(url.port),
    path: '/',
    query: { Action: 'ListQueues', Version: '2012-11-05', QueueNamePrefix: 'js-' },
    headers: { host: url.host },
  }, { expiresIn: 60, signingDate: new Date(now) });
  const qs = new URLSearchParams(signed.query).toString();
  const ok = await fetch(`${server.endpoint}/?${qs}`);
  assert.equal(ok.status, 200, await ok.clone().text());
  assert.match(await ok.text(), /js-signed<\/QueueUrl>/);
  await advanceClock(server.endpoint, 61);
  const late = await fetch(`${server.endpoint}/?${qs}`);
  assert.equal(late.status, 403);
  assert.match(await late.text(), /<Code>SignatureDoesNotMatch<\/Code><Message>Signature expired: /);
});

test('a clock 20 minutes off fails; with retries the SDK corrects its skew from Date', T, async () => {
  const own = await startServer({ config: CONFIG });
  const strict = makeClient(own.endpoint, { credentials: KEY });
  const retrying = makeClient(own.endpoint, { credentials: KEY, maxAttempts: 3 });
  try {
    // clockCall, not advanceClock: in SLUICE_AUTH mode advanceClock also
    // moves the signing clock of these clients, and they must stay behind.
    assert.equal((await clockCall(own.endpoint, 'POST', { advance_seconds: 20 * 60 })).status, 200);
    await expectSqsError(strict.send(new ListQueuesCommand({})), {
      code: 'SignatureDoesNotMatch', status: 403, message: /^Signature expired: .* - 15 min\.\)$/,
    });
    const out = await retrying.send(new ListQueuesCommand({}));
    assert.equal(out.$metadata.httpStatusCode, 200);
  } finally {
    strict.destroy();
    retrying.destroy();
    await own.stop();
  }
});
