// Does each job (appends it to OUT_FILE) and reports the ones it cannot do
// as batch item failures, so only those are retried.
import { appendFileSync } from "node:fs";

export const handler = async (event) => {
  const batchItemFailures = [];
  for (const record of event.Records) {
    const job = JSON.parse(record.body);
    if (job.fail) {
      batchItemFailures.push({ itemIdentifier: record.messageId });
      continue;
    }
    appendFileSync(process.env.OUT_FILE, JSON.stringify({ id: job.id, batch: event.Records.length }) + "\n");
  }
  return { batchItemFailures };
};
