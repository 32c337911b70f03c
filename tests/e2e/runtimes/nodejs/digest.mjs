// Answers the length and SHA-256 of event.data: a large event must arrive whole.
import { createHash } from 'node:crypto';

export const handler = async (event) => {
  const data = Buffer.from(event.data, 'utf8');
  return { length: data.length, sha256: createHash('sha256').update(data).digest('hex') };
};
