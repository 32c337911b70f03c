// Harness for the black-box SQS suite: starts the real sluice binary on port 0
// with a fresh data directory (or uses SLUICE_ENDPOINT), builds SDK v3 clients,
// and holds the small helpers every test file shares (errors, MD5s, names).
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

// The SDK warns once per process that it will soon need node >= 22; the suite
// runs on node 20, so keep the test output clean.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const { SQSClient } = await import('@aws-sdk/client-sqs');

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(HERE, '..', '..', '..');
export const ACCOUNT = '000000000000';
export const REGION = 'us-east-1';
export const TEST_TIMEOUT = 30000;
/** Options for node:test: every test has a timeout. */
export const T = { timeout: TEST_TIMEOUT };

// SLUICE_AUTH=1 (scripts/run-tests --auth, `make test-auth`): every sluice
// started here gets an `auth:` section with the key the clients sign with
// (test/test), so every request is checked for SigV4; advanceClock moves the
// signing clock of the clients made here along with the server's.
export const AUTH_MODE = process.env.SLUICE_AUTH === '1';
const AUTH_SECTION = '\nauth:\n  keys:\n    - {access_key_id: test, secret_access_key: test, principal: test}\n';
const clientsByEndpoint = new Map(); // endpoint -> Set of SDK clients (AUTH_MODE)
const offsetsByEndpoint = new Map(); // endpoint -> ms the server's clock was moved

function track(endpoint, client) {
  if (!AUTH_MODE) return client;
  const key = endpoint.replace(/\/+$/, '');
  if (!clientsByEndpoint.has(key)) clientsByEndpoint.set(key, new Set());
  clientsByEndpoint.get(key).add(client);
  client.config.systemClockOffset = offsetsByEndpoint.get(key) ?? 0;
  const destroy = client.destroy.bind(client);
  client.destroy = () => {
    clientsByEndpoint.get(key)?.delete(client);
    destroy();
  };
  return client;
}

/** AUTH_MODE: YAML text plus the auth section (unless it has one). */
function withAuth(text) {
  return /^auth:/m.test(text) ? text : `${text.replace(/\n*$/, '\n')}${AUTH_SECTION}`;
}

const READY_RE = /sluice listening on (http:\/\/[^\s]+)/;
const START_TIMEOUT_MS = 10000;
const STOP_GRACE_MS = 5000;
const LOG_CAP = 64 * 1024;

/**
 * Starts a sluice server for one test file, or points at SLUICE_ENDPOINT.
 * Returns { endpoint, host, apis, stop(), log() } (apis: name -> URL of each
 * API of the config). stop() is idempotent; it throws
 * if the server had died on its own before being asked to stop.
 * Options (all optional; without them nothing changes):
 *   own     true: always start a private server, even with SLUICE_ENDPOINT set
 *           (files that move the process-wide clock need one)
 *   config  YAML text: written to a temporary file and passed as --config
 *           (implies own)
 *   configFile  path of a YAML file passed as --config as it is (implies own)
 *   dataDir     use this data directory and keep it at stop() (a restart on
 *               the same directory); default: a fresh one, removed at stop()
 * The result also carries dataDir (null for SLUICE_ENDPOINT).
 */
export async function startServer({ own = false, config, configFile, dataDir: givenDataDir } = {}) {
  if (process.env.SLUICE_ENDPOINT && !own && config === undefined && configFile === undefined
      && givenDataDir === undefined) {
    const endpoint = process.env.SLUICE_ENDPOINT.replace(/\/+$/, '');
    return {
      endpoint,
      host: new URL(endpoint).host,
      external: true,
      dataDir: null,
      async stop() {},
      log: () => '',
    };
  }

  const bin = process.env.SLUICE_BIN || join(REPO_ROOT, 'build', 'sluice');
  const dataDir = givenDataDir ?? mkdtempSync(join(tmpdir(), 'sluice-js-'));
  const args = ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir];
  let configDir = null;
  let authFile = null;
  if (AUTH_MODE && config === undefined && configFile === undefined) config = '';
  if (config !== undefined) {
    configDir = mkdtempSync(join(tmpdir(), 'sluice-js-cfg-'));
    const file = join(configDir, 'sluice.yaml');
    writeFileSync(file, AUTH_MODE ? withAuth(config) : config);
    args.splice(1, 0, '--config', file);
  } else if (configFile !== undefined) {
    let file = configFile;
    const text = AUTH_MODE ? readFileSync(configFile, 'utf8') : '';
    if (AUTH_MODE && !/^auth:/m.test(text)) {
      // Next to the original, so its relative paths keep resolving.
      file = authFile = configFile.replace(/(\.ya?ml)?$/, '.auth-mode.yaml');
      writeFileSync(file, withAuth(text));
    }
    args.splice(1, 0, '--config', file);
  }
  const child = spawn(bin, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  let logText = '';
  const appendLog = (chunk) => {
    logText += chunk.toString('utf8');
    if (logText.length > LOG_CAP) logText = logText.slice(-LOG_CAP);
  };
  child.stderr.on('data', appendLog);

  let exited = null; // { code, signal } once the process is gone
  let stopping = false;
  const exitPromise = new Promise((res) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      res(exited);
    });
  });
  const killOnExit = () => {
    if (!exited) child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);

  const apis = {}; // API name -> its URL (config `apis:`)
  const endpoint = await new Promise((res, rej) => {
    let out = '';
    let done = false;
    const finish = (err, value) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        if (!exited) child.kill('SIGKILL');
        rej(err);
      } else {
        res(value);
      }
    };
    const timer = setTimeout(
      () => finish(new Error(`sluice did not report its port within ${START_TIMEOUT_MS} ms\n${logText}`)),
      START_TIMEOUT_MS,
    );
    child.on('error', (e) => finish(new Error(`cannot start ${bin}: ${e.message}`)));
    child.on('exit', (code, signal) =>
      finish(new Error(`sluice exited before listening (code=${code} signal=${signal})\n${logText}`)),
    );
    child.stdout.on('data', (chunk) => {
      if (done) {
        appendLog(chunk);
        return;
      }
      out += chunk.toString('utf8');
      const m = READY_RE.exec(out);
      if (m) {
        // With `apis:`, one "sluice api NAME serving on URL" line each comes first.
        for (const a of out.matchAll(/sluice api (\S+) serving on (http:\/\/\S+)/g)) apis[a[1]] = a[2];
        finish(null, m[1].replace(/\/+$/, ''));
      }
    });
  });

  return {
    endpoint,
    host: new URL(endpoint).host,
    external: false,
    apis,
    dataDir,
    pid: child.pid,
    log: () => logText,
    async stop() {
      if (stopping) return;
      stopping = true;
      const diedEarly = exited;
      let killed = false;
      if (!exited) {
        child.kill('SIGTERM');
        const t = setTimeout(() => {
          if (!exited) {
            killed = true;
            child.kill('SIGKILL');
          }
        }, STOP_GRACE_MS);
        await exitPromise;
        clearTimeout(t);
      }
      process.removeListener('exit', killOnExit);
      if (givenDataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
      if (configDir) rmSync(configDir, { recursive: true, force: true });
      if (authFile) rmSync(authFile, { force: true });
      if (diedEarly) {
        throw new Error(
          `sluice died during the tests (code=${diedEarly.code} signal=${diedEarly.signal})\n${logText}`,
        );
      }
      // A clean stop is part of the contract: exit 0 on SIGTERM within the
      // grace period (a sanitizer report also shows up as a non-zero exit).
      if (killed) throw new Error(`sluice ignored SIGTERM for ${STOP_GRACE_MS} ms\n${logText}`);
      if (exited.code !== 0) {
        throw new Error(`sluice exited uncleanly (code=${exited.code} signal=${exited.signal})\n${logText}`);
      }
    },
  };
}

/** A fresh SDK v3 client for the server; callers destroy() it when done. */
export function makeClient(endpoint, extra = {}) {
  return track(endpoint, new SQSClient({
    endpoint,
    region: REGION,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
    ...extra,
  }));
}

/** A queue name nobody else in this run uses (≤ 80 chars, [A-Za-z0-9_-]). */
export function uniqueName(prefix = 'q') {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// sluice evaluates every alarm when its clock crosses a real minute, on its
// own. A test that asserts an alarm's exact states or history, and takes up
// to `seconds`, starts clear of such a crossing: if the next one is closer,
// it waits for it to pass (as the py alarm test and the CLI smoke do).
export async function clearOfMinuteBoundary(seconds) {
  const left = 60000 - (Date.now() % 60000);
  if (left < seconds * 1000) await sleep(left + 500);
}

export function queueArn(name) {
  return `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}`;
}

export function md5Hex(data) {
  return createHash('md5').update(data).digest('hex');
}

/**
 * MD5OfMessageAttributes as AWS documents it: names sorted, each written as
 * len+name, len+DataType, transport byte (1 String/Number, 2 Binary), len+value.
 * attrs use the SDK shape { name: { DataType, StringValue | BinaryValue } }.
 */
export function md5OfAttributes(attrs) {
  const parts = [];
  const u32 = (n) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const lenPrefixed = (buf) => Buffer.concat([u32(buf.length), buf]);
  for (const name of Object.keys(attrs).sort()) {
    const a = attrs[name];
    parts.push(lenPrefixed(Buffer.from(name, 'utf8')));
    parts.push(lenPrefixed(Buffer.from(a.DataType, 'utf8')));
    if (a.DataType.startsWith('Binary')) {
      parts.push(Buffer.from([2]));
      parts.push(lenPrefixed(Buffer.from(a.BinaryValue)));
    } else {
      parts.push(Buffer.from([1]));
      parts.push(lenPrefixed(Buffer.from(a.StringValue, 'utf8')));
    }
  }
  return md5Hex(Buffer.concat(parts));
}

/**
 * Awaits a promise that must reject with an SQS service error and checks it
 * the way AWS reports it through SDK v3 (awsQueryCompatible JSON protocol):
 *   name    err.name: the modeled shape (QueueDoesNotExist) or, for errors the
 *           model does not declare, the legacy code (InvalidParameterValue)
 *   code    err.Code: the legacy query code from x-amzn-query-error
 *   status  err.$metadata.httpStatusCode
 *   message exact string, a RegExp, or undefined (any non-empty text) where
 *           AWS's text is not verified
 *   type    optional __type shape name (the part after '#')
 * Returns the error for further checks.
 */
export async function expectSqsError(promise, { name, code, status = 400, message, type }) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected ${code} but the call succeeded`);
  const got = {
    name: err.name,
    code: err.Code,
    status: err.$metadata?.httpStatusCode,
    message: err.message,
  };
  const want = { name: name ?? code, code, status };
  assert.deepEqual(
    { name: got.name, code: got.code, status: got.status },
    want,
    `error mismatch; got ${JSON.stringify(got)}`,
  );
  assert.equal(err.Type, 'Sender', 'x-amzn-query-error fault type');
  if (typeof message === 'string') {
    assert.equal(err.message, message);
  } else if (message instanceof RegExp) {
    assert.match(err.message, message);
  } else {
    assert.ok(typeof err.message === 'string' && err.message.length > 0 && err.message !== 'UnknownError',
      `expected a non-empty error message, got ${JSON.stringify(err.message)}`);
  }
  if (type) {
    assert.equal(String(err.__type).split('#').pop(), type, '__type shape name');
  }
  assert.ok(err.$metadata?.requestId, 'x-amzn-RequestId on the error response');
  return err;
}

/** Known MD5 vectors (reference/sqs.md §3 and §6.3). */
export const VECTORS = {
  bodyTest: '098f6bcd4621d373cade4e832627b4f6', // "test"
  bodyHello: '5d41402abc4b2a76b9719d911017c592', // "hello"
  bodyA: '0cc175b9c0f1b6a831c399e269772661', // "a"
  attr1V: '5d7451cdb6bb563786f0f121888def84', // attr1 String "v"
  traceHeader: '5ae4d5d7636402d80f4eb6d213245a88',
};
export const TRACE_HEADER = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';

/**
 * The test clock (POST/GET /_sluice/clock). clockCall returns the raw answer
 * as { status, json, text } (json null when the body is not JSON); body, when given,
 * is sent as-is if a string, else JSON-encoded.
 */
export async function clockCall(endpoint, method = 'GET', body) {
  const init = { method };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    init.headers = { 'content-type': 'application/json' };
  }
  const res = await fetch(`${endpoint}/_sluice/clock`, init);
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, json, text };
}

/** Moves sluice's clock forward by seconds; returns { now_ms, offset_ms }. */
export async function advanceClock(endpoint, seconds) {
  const r = await clockCall(endpoint, 'POST', { advance_seconds: seconds });
  assert.equal(r.status, 200, `POST /_sluice/clock ${seconds}: ${r.status} ${r.text}`);
  if (AUTH_MODE) {
    const key = endpoint.replace(/\/+$/, '');
    offsetsByEndpoint.set(key, r.json.offset_ms);
    for (const c of clientsByEndpoint.get(key) ?? []) c.config.systemClockOffset = r.json.offset_ms;
  }
  return r.json;
}

// ---- Lambda (tests/e2e) ----------------------------------------------------

export const E2E_DIR = join(REPO_ROOT, 'tests', 'e2e');

/**
 * Copies tests/e2e/<name> (a YAML config) into a fresh temporary folder as
 * sluice.yaml, next to a `handlers` symlink to tests/e2e/handlers and an
 * empty `records` folder, so that the config's relative paths (command,
 * working_dir, the handlers' RECORD_FILE) resolve inside the temporary
 * folder. Returns { dir, file, records, path(rel), cleanup() }.
 */
export function stageE2eConfig(name) {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-e2e-'));
  const file = join(dir, 'sluice.yaml');
  copyFileSync(join(E2E_DIR, name), file);
  symlinkSync(join(E2E_DIR, 'handlers'), join(dir, 'handlers'));
  mkdirSync(join(dir, 'records'));
  return {
    dir,
    file,
    records: join(dir, 'records'),
    path: (rel) => join(dir, rel),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Copies tests/e2e/runtimes.yaml into a fresh temporary folder as sluice.yaml,
 * next to a `runtimes` symlink to tests/e2e/runtimes, a `js-handlers` symlink
 * to tests/sdk/js/handlers, and `cbuild/bootstrap` compiled with `cc` from
 * tests/e2e/runtimes/c/bootstrap.c. Returns { dir, file, cleanup() }.
 */
export function stageRuntimesConfig() {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-runtimes-'));
  const file = join(dir, 'sluice.yaml');
  copyFileSync(join(E2E_DIR, 'runtimes.yaml'), file);
  symlinkSync(join(E2E_DIR, 'runtimes'), join(dir, 'runtimes'));
  symlinkSync(join(REPO_ROOT, 'tests', 'sdk', 'js', 'handlers'), join(dir, 'js-handlers'));
  mkdirSync(join(dir, 'cbuild'));
  execFileSync('cc', ['-O2', '-o', join(dir, 'cbuild', 'bootstrap'), join(E2E_DIR, 'runtimes', 'c', 'bootstrap.c')],
    { stdio: 'inherit', timeout: 60000 });
  return { dir, file, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The complete JSON lines of a file ([] while it does not exist). A last
 * line without its newline is a handler still writing it: left for the next
 * read, not parsed half-written. */
export function readJsonLines(file) {
  if (!existsSync(file)) return [];
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.pop(); // '' after the last newline, or the unfinished line
  return lines.filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
}

/**
 * Polls fn (sync or async) every intervalMs until it returns a truthy value,
 * which is returned; throws after timeoutMs with `what` and the last value.
 */
export async function waitFor(fn, { timeoutMs = 5000, intervalMs = 25, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last value: ${JSON.stringify(last)}`);
    }
    await sleep(intervalMs);
  }
}

/** A fresh @aws-sdk/client-lambda client for the server (no retries). */
export async function makeLambdaClient(endpoint, extra = {}) {
  const { LambdaClient } = await import('@aws-sdk/client-lambda');
  return track(endpoint, new LambdaClient({
    endpoint,
    region: REGION,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
    ...extra,
  }));
}

export function functionArn(name) {
  return `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`;
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Copies tests/e2e/cwlogs.yaml into a fresh temporary folder as sluice.yaml,
 * next to a `cwlogs` symlink to tests/e2e/cwlogs. Returns { dir, file, cleanup() }.
 */
export function stageCwlogsConfig() {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-cwlogs-'));
  const file = join(dir, 'sluice.yaml');
  copyFileSync(join(E2E_DIR, 'cwlogs.yaml'), file);
  symlinkSync(join(E2E_DIR, 'cwlogs'), join(dir, 'cwlogs'));
  return { dir, file, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A fresh @aws-sdk/client-cloudwatch-logs client for the server (no retries). */
export async function makeLogsClient(endpoint, extra = {}) {
  const { CloudWatchLogsClient } = await import('@aws-sdk/client-cloudwatch-logs');
  return new CloudWatchLogsClient({
    endpoint,
    region: REGION,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
    ...extra,
  });
}

/**
 * Every event of log group `group` (FilterLogEvents, all pages), oldest
 * first; [] while the group does not exist. A function's output is in
 * /aws/lambda/NAME.
 */
export async function logEvents(endpoint, group, params = {}) {
  const { FilterLogEventsCommand } = await import('@aws-sdk/client-cloudwatch-logs');
  const logs = await makeLogsClient(endpoint);
  const out = [];
  try {
    let nextToken;
    do {
      const page = await logs.send(new FilterLogEventsCommand({ logGroupName: group, nextToken, ...params }));
      out.push(...(page.events ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
  } catch (e) {
    if (e.name !== 'ResourceNotFoundException') throw e;
  } finally {
    logs.destroy();
  }
  return out;
}

/** The text of a function's log: each message of /aws/lambda/NAME and a newline. */
export async function functionLog(endpoint, fn) {
  return (await logEvents(endpoint, `/aws/lambda/${fn}`)).map((e) => `${e.message}\n`).join('');
}
