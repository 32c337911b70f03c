// Example handler for the `orders` queue in Node.js, written as Lambda runs
// it (runtime nodejs20.x, handler orders.handler): the same as orders.py.
// A record whose body has "fail": true is reported in batchItemFailures.

let batchesSeen = 0; // survives between invocations of a warm instance

const parseBody = (body) => {
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
};

export const handler = async (event, context) => {
  batchesSeen += 1;
  const failures = [];
  for (const record of event.Records ?? []) {
    const body = parseBody(record.body);
    const fail = body !== null && typeof body === "object" && body.fail === true;
    console.log(JSON.stringify({
      level: fail ? "warn" : "info",
      requestId: context.awsRequestId,
      messageId: record.messageId,
      receiveCount: record.attributes?.ApproximateReceiveCount,
      result: fail ? "failed" : "processed",
      batch: batchesSeen,
      body,
    }));
    if (fail) failures.push({ itemIdentifier: record.messageId });
  }
  return { batchItemFailures: failures };
};
