#!/usr/bin/env node
// Example sluice handler for the `orders` queue (Node.js, no packages): the
// same behaviour as orders.py. sluice runs it once per SQS batch with the
// event JSON on stdin; the response goes to stdout and stderr is the
// function's log (docs/handlers.md). Each record is logged as one JSON line;
// a record whose body is a JSON object with "fail": true is reported in
// batchItemFailures, so only that message comes back for a retry.
//
// Try it without sluice:
//   printf '%s' '{"Records":[{"messageId":"m1","body":"{\"fail\":true}"}]}' \
//     | config/handlers/orders.js
'use strict';

function log(fields) {
  // One JSON object per line: sluice logs each stderr line as it comes.
  process.stderr.write(JSON.stringify(fields) + '\n');
}

// The body as JSON when it is JSON, else the text itself.
function parseBody(body) {
  try {
    return JSON.parse(body);
  } catch (e) {
    return body;
  }
}

function handle(raw) {
  const level = process.env.LOG_LEVEL || 'info';
  const requestId = process.env.AWS_REQUEST_ID || '';
  let event;
  try {
    event = raw.trim() ? JSON.parse(raw) : {};
  } catch (e) {
    // Our own error: printed on stdout, with a non-zero exit status (set
    // as exitCode, not process.exit(), so that stdout drains first).
    process.stdout.write(JSON.stringify({
      errorMessage: 'the event is not JSON: ' + e.message,
      errorType: 'InvalidEvent',
    }) + '\n');
    process.exitCode = 1;
    return;
  }
  let records = event !== null && typeof event === 'object' ? event.Records : undefined;
  if (!Array.isArray(records)) records = [];
  if (level === 'debug') log({ level: 'debug', requestId, msg: 'batch', records: records.length });

  const failures = [];
  for (const record of records) {
    if (record === null || typeof record !== 'object') continue;
    const attributes = record.attributes || {};
    const body = parseBody(record.body);
    const fail = body !== null && typeof body === 'object' && !Array.isArray(body) && body.fail === true;
    log({
      level: fail ? 'warn' : 'info',
      requestId,
      messageId: record.messageId ?? null,
      receiveCount: attributes.ApproximateReceiveCount ?? null,
      result: fail ? 'failed' : 'processed',
      body: body === undefined ? null : body,
    });
    if (fail) failures.push({ itemIdentifier: record.messageId });
  }
  process.stdout.write(JSON.stringify({ batchItemFailures: failures }) + '\n');
}

const chunks = [];
process.stdin.on('data', (chunk) => chunks.push(chunk));
process.stdin.on('end', () => handle(Buffer.concat(chunks).toString('utf8')));
