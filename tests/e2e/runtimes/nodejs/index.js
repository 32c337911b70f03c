// CommonJS, as in the Lambda docs: `exports.handler = async (event, context) => ...`.
// Module-level state lives as long as the instance.
let count = 0;
console.log('index.js loaded');

exports.handler = async (event, context) => {
  count += 1;
  console.log('console.log from the handler:', { count });
  console.info('multi\nline');
  console.warn('a warning');
  console.error('an error line');
  return {
    count,
    pid: process.pid,
    remaining: context.getRemainingTimeInMillis(),
    event,
    functionName: context.functionName,
    functionVersion: context.functionVersion,
    invokedFunctionArn: context.invokedFunctionArn,
    memoryLimitInMB: context.memoryLimitInMB,
    awsRequestId: context.awsRequestId,
    logGroupName: context.logGroupName,
    logStreamName: context.logStreamName,
    callbackWaitsForEmptyEventLoop: context.callbackWaitsForEmptyEventLoop,
    clientContext: context.clientContext,
    env: Object.fromEntries(['_HANDLER', 'LAMBDA_TASK_ROOT', 'AWS_EXECUTION_ENV', 'AWS_LAMBDA_FUNCTION_NAME',
      'AWS_REGION', 'TZ', 'AWS_ENDPOINT_URL'].map((k) => [k, process.env[k] ?? null])),
    module: 'cjs',
  };
};
