// An ES module, as in the Lambda docs: `export const handler = async (event) => ...`.
import { setTimeout as sleep } from 'node:timers/promises';

let count = 0;

export const handler = async (event, context) => {
  count += 1;
  await sleep(5);
  console.log(`esm handler count=${count}`);
  return { module: 'esm', count, pid: process.pid, requestId: context.awsRequestId, event };
};
