// sluice's Node.js runtime: runs an unmodified Lambda handler
// (`export const handler = async (event, context) => ...`, `exports.handler`,
// or `(event, context, callback)`) behind the Lambda Runtime API, as AWS's
// managed nodejsNN.x runtime does (aws-lambda-ric;
// shared/reference/runtime-api.md §4). Plain Node.js 18+, no packages.
//
// Contract with sluice (docs/handlers.md, "Runtimes"):
// - sluice runs `node <data_dir>/runtimes/nodejs/bootstrap.mjs` with cwd = the
//   code folder, stdin = /dev/null, stdout and stderr = the function's log
//   (one entry per line), and Lambda's environment: AWS_LAMBDA_RUNTIME_API
//   (host:port), _HANDLER, LAMBDA_TASK_ROOT, ...
// - Init: `_HANDLER` `dir/file.a.b` is the module `dir/file` (relative to
//   LAMBDA_TASK_ROOT) and the export path `a.b`. The module is found as the
//   RIC finds it: the bare file (require), `.js` (require, or import() when
//   the nearest package.json says "type": "module"), `.mjs` (import()),
//   `.cjs` (require), then require.resolve from the code folder. A failure is
//   logged and posted to /runtime/init/error (Runtime.MalformedHandlerName,
//   ImportModuleError, UserCodeSyntaxError, HandlerNotFound, or the error's
//   own name), and the process exits 129.
// - Then, invocation after invocation: GET /runtime/invocation/next (no
//   timeout), call handler(event, context, callback), POST the result to
//   /invocation/{id}/response or {errorType, errorMessage, trace} to
//   /invocation/{id}/error.
//   * A returned promise answers when it settles.
//   * callback(err) answers at once. callback(null, result) answers when the
//     event loop is empty (process 'beforeExit': nothing but the idle
//     keep-alive socket, which is unref'd, is left), or at once when
//     context.callbackWaitsForEmptyEventLoop is false. context.succeed /
//     fail / done answer at once.
//   * If the loop empties and nothing answered: a promise-returning handler
//     fails with Runtime.NodeJsExit, any other answers null.
//   * A second answer for one invocation is logged and dropped.
//   * An uncaught exception posts the error and exits 129; an unhandled
//     rejection posts Runtime.UnhandledPromiseRejection and exits 128.
// - One keep-alive HTTP/1.1 connection for the life of the process, spoken
//   by a small client on node:net (see RuntimeConnection).
// - console.log/info/warn/error/debug/trace write
//   `<ISO time>\t<requestId>\t<LEVEL>\t<util.format(...)>` to stdout, with
//   `\n` inside the message turned into `\r`: one call, one log entry. The
//   request id is `undefined` during init, as on Lambda.
// - SDK redirect: AWS SDK for JavaScript v3 >= 3.428.0 reads AWS_ENDPOINT_URL
//   and AWS_ENDPOINT_URL_<SERVICE> itself; nothing is patched here.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import util from 'node:util';

const API = '/2018-06-01/runtime';
const [apiHost, apiPort] = (() => {
  const v = process.env.AWS_LAMBDA_RUNTIME_API || '127.0.0.1:9001';
  const i = v.lastIndexOf(':');
  return [v.slice(0, i).replace(/^\[|\]$/g, ''), Number(v.slice(i + 1))];
})();
const require = createRequire(import.meta.url);

let requestId; // the current invocation's id (undefined during init)

// ---------------------------------------------------------------------------
// Runtime API client
// ---------------------------------------------------------------------------

/**
 * HTTP/1.1 on one persistent socket to the Runtime API: one request at a
 * time, Content-Length or chunked bodies. node:http's client costs about half
 * a millisecond more per round trip (agent bookkeeping, timers), which is
 * most of the 1 ms warm budget. The socket is unref'd while idle, so it
 * never keeps the event loop alive: 'beforeExit' still tells a drained loop.
 */
class RuntimeConnection {
  constructor() {
    this.sock = null;
    this.buf = Buffer.alloc(0);
    this.chunks = []; // what has arrived, not yet joined
    this.have = 0;    // bytes in chunks
    this.need = 0;    // bytes the answer needs, once its headers are known
    this.pending = null; // { resolve, reject } of the request in flight
  }

  open() {
    const sock = net.createConnection({ host: apiHost, port: apiPort });
    sock.setNoDelay(true);
    sock.on('data', (chunk) => this.onData(chunk));
    const lost = (err) => {
      if (this.sock !== sock) return;
      this.sock = null;
      this.buf = Buffer.alloc(0);
      this.chunks = [];
      this.have = 0;
      this.need = 0;
      const p = this.pending;
      this.pending = null;
      if (p) p.reject(err || Object.assign(new Error('the Runtime API closed the connection'), { code: 'ECONNRESET' }));
    };
    sock.on('error', lost);
    sock.on('close', () => lost());
    this.sock = sock;
  }

  request(method, urlPath, body, headers) {
    return new Promise((resolve, reject) => {
      if (!this.sock) this.open();
      let head = `${method} ${urlPath} HTTP/1.1\r\nHost: ${apiHost}:${apiPort}\r\nContent-Length: ${body.length}\r\n`;
      for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
      this.pending = { resolve, reject };
      this.sock.ref();
      this.sock.write(body.length ? Buffer.concat([Buffer.from(head + '\r\n', 'latin1'), body]) : head + '\r\n');
    });
  }

  onData(chunk) {
    // Chunks are kept in a list and joined once the answer is complete:
    // joining at every chunk would copy a 6 MB event a hundred times.
    this.chunks.push(chunk);
    this.have += chunk.length;
    const p = this.pending;
    if (!p || this.have < this.need) return;
    this.buf = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.have);
    this.chunks = [this.buf];
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    const lines = this.buf.toString('latin1', 0, end).split('\r\n');
    const status = Number(lines[0].split(' ')[1]);
    const headers = {};
    for (let i = 1; i < lines.length; i++) {
      const c = lines[i].indexOf(':');
      if (c > 0) headers[lines[i].slice(0, c).trim().toLowerCase()] = lines[i].slice(c + 1).trim();
    }
    let body;
    let rest;
    if ((headers['transfer-encoding'] || '').toLowerCase() === 'chunked') {
      const parts = [];
      let at = end + 4;
      for (;;) {
        const eol = this.buf.indexOf('\r\n', at);
        if (eol < 0) return; // wait for more
        const size = parseInt(this.buf.toString('latin1', at, eol), 16);
        if (size === 0) {
          const fin = this.buf.indexOf('\r\n\r\n', eol); // trailers, then an empty line
          if (fin < 0) return;
          rest = this.buf.subarray(fin + 4);
          break;
        }
        if (this.buf.length < eol + 2 + size + 2) return;
        parts.push(this.buf.subarray(eol + 2, eol + 2 + size));
        at = eol + 2 + size + 2;
      }
      body = Buffer.concat(parts);
    } else {
      const len = Number(headers['content-length'] || 0);
      if (this.buf.length < end + 4 + len) {
        this.need = end + 4 + len;
        return;
      }
      body = this.buf.subarray(end + 4, end + 4 + len);
      rest = this.buf.subarray(end + 4 + len);
    }
    this.buf = rest.length ? Buffer.from(rest) : Buffer.alloc(0);
    this.chunks = this.buf.length ? [this.buf] : [];
    this.have = this.buf.length;
    this.need = 0;
    this.pending = null;
    if ((headers.connection || '').toLowerCase() === 'close') {
      this.sock.destroy();
      this.sock = null;
    } else {
      this.sock.unref();
    }
    p.resolve({ status, headers, body: body.toString('utf8') });
  }
}

const conn = new RuntimeConnection();

/** One request; resolves { status, headers, body (string) }. A request made
 *  while another is in flight (an uncaught error during a POST) goes on a
 *  connection of its own. Retries once when a reused connection turns out
 *  to be closed. */
async function call(method, urlPath, body, headers = {}) {
  const data = Buffer.from(body === undefined ? '' : body);
  const c = conn.pending ? new RuntimeConnection() : conn;
  const reused = c.sock !== null;
  try {
    return await c.request(method, urlPath, data, headers);
  } catch (err) {
    if (reused && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
      return c.request(method, urlPath, data, headers);
    }
    throw err;
  }
}

function fatal(what, err) {
  process.stderr.write(`runtime: ${what}: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
}

async function post(urlPath, doc, headers = {}) {
  let body;
  try {
    body = JSON.stringify(doc === undefined ? null : doc);
  } catch (err) {
    // Not serialisable (a cycle, a BigInt): report it as the handler's error.
    const e = toRapidResponse(err);
    console.error('Invoke Error', toFormatted(err));
    return call('POST', urlPath.replace(/\/response$/, '/error'), JSON.stringify(e), { 'Content-Type': 'application/json' });
  }
  return call('POST', urlPath, body, { 'Content-Type': 'application/json', ...headers });
}

// ---------------------------------------------------------------------------
// Errors (aws-lambda-ric Errors.js)
// ---------------------------------------------------------------------------

function isError(v) {
  return util.types.isNativeError(v) || (v && typeof v === 'object' && typeof v.name === 'string'
    && typeof v.message === 'string' && typeof v.stack === 'string');
}

/** The error body posted to the Runtime API. */
function toRapidResponse(err) {
  try {
    if (isError(err)) {
      return { errorType: err.name, errorMessage: err.message, trace: err.stack.split('\n') };
    }
    return { errorType: typeof err, errorMessage: String(err), trace: [] };
  } catch {
    return {
      errorType: 'handled',
      errorMessage: 'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
    };
  }
}

/** The error as logged: `\t{json}` with the stack as a list. */
function toFormatted(err) {
  try {
    return '\t' + JSON.stringify(err, (k, v) => {
      if (v instanceof Error || (k === '' && isError(v))) {
        const out = Object.assign({ errorType: v.name, errorMessage: v.message, code: v.code }, v);
        if (typeof v.stack === 'string') out.stack = v.stack.split('\n');
        return out;
      }
      return v;
    });
  } catch {
    return '\t' + String(err);
  }
}

/** An Error whose name is a Runtime.* type; its stack keeps the frames of
 *  `cause` (the loader's error) when there is one. */
function namedError(name, message, cause) {
  const e = new Error(message);
  Object.defineProperty(e, 'name', { value: name, writable: true, configurable: true, enumerable: false });
  const frames = ((cause && typeof cause.stack === 'string') ? cause.stack : e.stack).split('\n')
    .filter((l) => /^\s+at /.test(l) && !l.includes('at namedError'));
  e.stack = [`${name}: ${message}`, ...frames].join('\n');
  return e;
}

// ---------------------------------------------------------------------------
// Console (aws-lambda-ric LogPatch.js, text format)
// ---------------------------------------------------------------------------

function patchConsole() {
  const write = (level) => (...args) => {
    const line = `${new Date().toISOString()}\t${requestId}\t${level}\t${util.format(...args)}`;
    process.stdout.write(line.replace(/\n/g, '\r') + '\n');
  };
  console.trace = write('TRACE');
  console.debug = write('DEBUG');
  console.info = write('INFO');
  console.log = write('INFO');
  console.warn = write('WARN');
  console.error = write('ERROR');
  console.fatal = write('FATAL');
}

// ---------------------------------------------------------------------------
// Loading the handler (aws-lambda-ric UserFunction.js)
// ---------------------------------------------------------------------------

function typeModuleAbove(folder) {
  for (;;) {
    if (folder.endsWith(`${path.sep}node_modules`)) return false;
    const pj = path.join(folder, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        return JSON.parse(fs.readFileSync(pj, 'utf8'))?.type === 'module';
      } catch (err) {
        console.warn(`${pj} cannot be read, it will be ignored for ES module detection purposes.`, err);
        return false;
      }
    }
    const up = path.dirname(folder);
    if (up === folder) return false;
    folder = up;
  }
}

async function loadModule(appRoot, moduleRoot, name) {
  const base = path.resolve(appRoot, moduleRoot, name);
  const exists = (p) => fs.existsSync(p) && fs.statSync(p).isFile();
  if (exists(base)) return require(base);
  const esm = exists(`${base}.js`) && typeModuleAbove(path.dirname(`${base}.js`));
  if (exists(`${base}.js`) && !esm) return require(`${base}.js`);
  if (esm) return import(pathToFileURL(`${base}.js`).href);
  if (exists(`${base}.mjs`)) return import(pathToFileURL(`${base}.mjs`).href);
  if (exists(`${base}.cjs`)) return require(`${base}.cjs`);
  return require(require.resolve(name, { paths: [path.resolve(appRoot, moduleRoot), appRoot] }));
}

async function loadHandler(appRoot, full) {
  if (full.includes('..')) throw namedError('Runtime.MalformedHandlerName', "'" + full + "' is not a valid handler name. Use absolute paths when specifying root directories in handler names.");
  const handlerString = path.basename(full);
  const moduleRoot = full.substring(0, full.indexOf(handlerString));
  const m = /^([^.]*)\.(.*)$/.exec(handlerString);
  if (!m) throw namedError('Runtime.MalformedHandlerName', 'Bad handler');
  const [, name, exportPath] = m;
  let mod;
  try {
    mod = await loadModule(appRoot, moduleRoot, name);
  } catch (err) {
    if (err instanceof SyntaxError) throw namedError('Runtime.UserCodeSyntaxError', String(err), err);
    if (err && (err.code === 'MODULE_NOT_FOUND' || err.code === 'ERR_MODULE_NOT_FOUND')) {
      throw namedError('Runtime.ImportModuleError', String(err), err);
    }
    throw err;
  }
  const fn = exportPath.split('.').reduce((o, k) => (o == null ? undefined : o[k]), mod);
  if (!fn) throw namedError('Runtime.HandlerNotFound', `${full} is undefined or not exported`);
  if (typeof fn !== 'function') throw namedError('Runtime.HandlerNotFound', `${full} is not a function`);
  return fn;
}

// ---------------------------------------------------------------------------
// Invocations (aws-lambda-ric Runtime.js, CallbackContext.js)
// ---------------------------------------------------------------------------

let onEmptyLoop = null; // what 'beforeExit' does for the current invocation
process.on('beforeExit', () => {
  const fn = onEmptyLoop;
  onEmptyLoop = null;
  if (fn) fn();
});

let currentId = null; // the invocation in progress, for uncaught errors

function parseJsonHeader(v) {
  if (v === undefined) return undefined;
  try {
    return JSON.parse(v);
  } catch {
    return undefined;
  }
}

async function next(handler) {
  let r;
  try {
    r = await call('GET', `${API}/invocation/next`);
  } catch (err) {
    fatal('GET /invocation/next failed', err);
  }
  if (r.status !== 200) fatal(`/invocation/next answered ${r.status}`, r.body);
  const h = r.headers;
  const id = h['lambda-runtime-aws-request-id'];
  currentId = id;
  requestId = id;
  if (h['lambda-runtime-trace-id']) process.env._X_AMZN_TRACE_ID = h['lambda-runtime-trace-id'];
  else delete process.env._X_AMZN_TRACE_ID;

  let finished = false;
  const scheduleNext = () => {
    currentId = null;
    setImmediate(() => next(handler));
  };
  const finish = (kind, value) => {
    onEmptyLoop = null;
    if (finished) {
      console.error('Invocation has already been reported as done. Cannot call complete more than once per invocation.');
      return;
    }
    finished = true;
    let p;
    if (kind === 'error') {
      console.error('Invoke Error', toFormatted(value));
      p = call('POST', `${API}/invocation/${id}/error`, JSON.stringify(toRapidResponse(value)), { 'Content-Type': 'application/json' });
    } else {
      p = post(`${API}/invocation/${id}/response`, value);
    }
    p.then(scheduleNext, (err) => fatal('posting the answer failed', err));
  };

  let waitForEmptyLoop = true;
  const callback = (err, result) => {
    if (err !== undefined && err !== null) finish('error', err);
    else if (!waitForEmptyLoop) finish('response', result);
    else if (!finished) onEmptyLoop = () => setImmediate(() => finish('response', result));
  };
  const done = (err, result) => (err !== undefined && err !== null ? finish('error', err) : finish('response', result));
  const deadline = Number(h['lambda-runtime-deadline-ms']);
  const env = process.env;
  const context = {
    get callbackWaitsForEmptyEventLoop() { return waitForEmptyLoop; },
    set callbackWaitsForEmptyEventLoop(v) { waitForEmptyLoop = v; },
    succeed: (result) => done(null, result),
    fail: (err) => done(err === undefined || err === null ? 'handled' : err),
    done,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: parseJsonHeader(h['lambda-runtime-client-context']),
    identity: parseJsonHeader(h['lambda-runtime-cognito-identity']),
    invokedFunctionArn: h['lambda-runtime-invoked-function-arn'],
    awsRequestId: id,
    getRemainingTimeInMillis: () => deadline - Date.now(),
  };

  let isPromise = false;
  // Nothing answered by the time the loop is empty.
  onEmptyLoop = () => {
    if (isPromise) finish('error', namedError('Runtime.NodeJsExit', 'Runtime exited without providing a reason'));
    else finish('response', null);
  };
  try {
    const event = JSON.parse(r.body);
    const result = handler(event, context, callback);
    if (result && typeof result.then === 'function') {
      isPromise = true;
      result.then(context.succeed, (err) => context.fail(err));
    }
  } catch (err) {
    callback(err);
  }
}

async function main() {
  patchConsole();
  const appRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
  process.on('uncaughtException', (err) => {
    console.error('Uncaught Exception', toFormatted(err));
    const where = currentId ? `${API}/invocation/${currentId}/error` : `${API}/init/error`;
    const body = toRapidResponse(err);
    const hdrs = { 'Content-Type': 'application/json' };
    if (!currentId) hdrs['Lambda-Runtime-Function-Error-Type'] = body.errorType;
    call('POST', where, JSON.stringify(body), hdrs).finally(() => process.exit(129));
  });
  process.on('unhandledRejection', (reason) => {
    const err = namedError('Runtime.UnhandledPromiseRejection', isError(reason) ? `${reason.name}: ${reason.message}` : String(reason), isError(reason) ? reason : undefined);
    console.error('Unhandled Promise Rejection', toFormatted(err));
    const where = currentId ? `${API}/invocation/${currentId}/error` : `${API}/init/error`;
    const body = toRapidResponse(err);
    const hdrs = { 'Content-Type': 'application/json' };
    if (!currentId) hdrs['Lambda-Runtime-Function-Error-Type'] = body.errorType;
    call('POST', where, JSON.stringify(body), hdrs).finally(() => process.exit(128));
  });

  let handler;
  try {
    handler = await loadHandler(appRoot, process.env._HANDLER || '');
  } catch (err) {
    console.error('Uncaught Exception', toFormatted(err));
    const body = toRapidResponse(err);
    try {
      await call('POST', `${API}/init/error`, JSON.stringify(body),
        { 'Content-Type': 'application/json', 'Lambda-Runtime-Function-Error-Type': body.errorType });
    } finally {
      process.exit(129);
    }
  }
  next(handler);
}

main();
