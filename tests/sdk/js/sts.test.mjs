// STS GetCallerIdentity through @aws-sdk/client-sts (query protocol): code
// under test asks it for the account id. sluice answers with the configured
// account_id, Arn arn:aws:iam::<account>:root and UserId AKIAIOSFODNN7EXAMPLE
// (docs/compatibility.md).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { STSClient, GetCallerIdentityCommand, GetSessionTokenCommand } from '@aws-sdk/client-sts';
import { T, ACCOUNT, REGION, UUID_RE, startServer } from './harness.mjs';

let server;
let other; // configured with another account

const client = (endpoint) => new STSClient({
  endpoint,
  region: REGION,
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  maxAttempts: 1,
});

before(async () => {
  server = await startServer();
  other = await startServer({ config: 'account_id: "123456789012"\n' });
}, T);

after(async () => {
  await server?.stop();
  await other?.stop();
}, T);

test('GetCallerIdentity: the configured account, its root ARN and the fixed user id', T, async () => {
  const sts = client(server.endpoint);
  try {
    const out = await sts.send(new GetCallerIdentityCommand({}));
    assert.equal(out.Account, ACCOUNT);
    assert.equal(out.Arn, `arn:aws:iam::${ACCOUNT}:root`);
    assert.equal(out.UserId, 'AKIAIOSFODNN7EXAMPLE');
    assert.equal(out.$metadata.httpStatusCode, 200);
    assert.match(out.$metadata.requestId, UUID_RE);
  } finally {
    sts.destroy();
  }
});

test('GetCallerIdentity follows account_id from the config', T, async () => {
  const sts = client(other.endpoint);
  try {
    const out = await sts.send(new GetCallerIdentityCommand({}));
    assert.equal(out.Account, '123456789012');
    assert.equal(out.Arn, 'arn:aws:iam::123456789012:root');
  } finally {
    sts.destroy();
  }
});

test('another STS action: InvalidAction (400)', T, async () => {
  const sts = client(server.endpoint);
  try {
    await assert.rejects(sts.send(new GetSessionTokenCommand({})), (e) => {
      assert.equal(e.name, 'InvalidAction');
      assert.equal(e.$metadata.httpStatusCode, 400);
      assert.equal(e.message, 'Could not find operation GetSessionToken for version 2011-06-15');
      return true;
    });
  } finally {
    sts.destroy();
  }
});
