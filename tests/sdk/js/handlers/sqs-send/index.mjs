// Sends a message from inside the handler with the AWS SDK for JavaScript v3,
// written as the docs write it: a client made once, outside the handler, with
// no endpoint. AWS_ENDPOINT_URL (read by the SDK since 3.428.0) points it at
// sluice. @aws-sdk/client-sqs resolves from tests/sdk/js/node_modules.
import { GetQueueUrlCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';

const sqs = new SQSClient({});

export const handler = async (event) => {
  const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: process.env.QUEUE_NAME }));
  const out = await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: event.body }));
  console.log(`sent ${out.MessageId} to ${QueueUrl}`);
  return { MessageId: out.MessageId, QueueUrl };
};
