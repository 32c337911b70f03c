// CloudWatch metric alarms through @aws-sdk/client-cloudwatch, in AWS JSON
// 1.0 (its default) and Smithy RPC v2 CBOR: the operations' shapes (dates
// as Dates, integers, the history JSON), their errors, and an alarm on a
// custom metric evaluated as the emulated clock moves.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  CloudWatchClient, PutMetricAlarmCommand, DescribeAlarmsCommand, DescribeAlarmsForMetricCommand,
  DeleteAlarmsCommand, SetAlarmStateCommand, DescribeAlarmHistoryCommand, EnableAlarmActionsCommand,
  DisableAlarmActionsCommand, PutMetricDataCommand,
} from '@aws-sdk/client-cloudwatch';
import { AwsSmithyRpcV2CborProtocol } from '@aws-sdk/core/protocols';
import { T, REGION, startServer, uniqueName, advanceClock, sleep, clearOfMinuteBoundary } from './harness.mjs';

let server;
before(async () => { server = await startServer(); }, T);
after(async () => { await server?.stop(); }, T);

const PROTOCOLS = { json: undefined, cbor: AwsSmithyRpcV2CborProtocol };

function client(endpoint, protocol) {
  return new CloudWatchClient({
    endpoint,
    region: REGION,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
    ...(PROTOCOLS[protocol] ? { protocol: PROTOCOLS[protocol], disableRequestCompression: true } : {}),
  });
}

async function expectCwError(promise, { name, code, message, status = 400 }) {
  let err;
  try { await promise; } catch (e) { err = e; }
  assert.ok(err, `expected ${name}`);
  assert.equal(err.name, name, `name (message: ${err.message})`);
  assert.equal(err.Code, code);
  if (message !== undefined) assert.equal(err.message, message);
  assert.equal(err.$metadata.httpStatusCode, status);
}

const base = (name, extra = {}) => ({
  AlarmName: name, Namespace: 'Test/Alarms', MetricName: 'Depth', Statistic: 'Average', Period: 60,
  EvaluationPeriods: 3, DatapointsToAlarm: 2, Threshold: 7.5, ComparisonOperator: 'GreaterThanOrEqualToThreshold',
  ...extra,
});

for (const protocol of Object.keys(PROTOCOLS)) {
  test(`${protocol}: PutMetricAlarm, DescribeAlarms and DescribeAlarmsForMetric shapes`, T, async () => {
    const cw = client(server.endpoint, protocol);
    const name = uniqueName('alarm');
    await cw.send(new PutMetricAlarmCommand(base(name, { Dimensions: [{ Name: 'QueueName', Value: 'orders' }] })));
    const got = await cw.send(new DescribeAlarmsCommand({ AlarmNames: [name] }));
    assert.deepEqual(got.CompositeAlarms, []);
    assert.equal(got.MetricAlarms.length, 1);
    const a = got.MetricAlarms[0];
    assert.equal(a.AlarmName, name);
    assert.equal(a.AlarmArn, `arn:aws:cloudwatch:${REGION}:000000000000:alarm:${name}`);
    assert.equal(a.StateValue, 'INSUFFICIENT_DATA');
    assert.equal(a.StateReason, 'Unchecked: Initial alarm creation');
    assert.ok(a.StateUpdatedTimestamp instanceof Date && a.StateUpdatedTimestamp.getFullYear() >= 2024);
    assert.ok(a.AlarmConfigurationUpdatedTimestamp instanceof Date);
    assert.equal(a.Period, 60);
    assert.equal(a.EvaluationPeriods, 3);
    assert.equal(a.DatapointsToAlarm, 2);
    assert.equal(a.Threshold, 7.5);
    assert.equal(a.TreatMissingData, 'missing');
    assert.equal(a.ActionsEnabled, true);
    assert.deepEqual(a.Dimensions, [{ Name: 'QueueName', Value: 'orders' }]);
    const forMetric = await cw.send(new DescribeAlarmsForMetricCommand({
      Namespace: 'Test/Alarms', MetricName: 'Depth', Dimensions: [{ Name: 'QueueName', Value: 'orders' }],
    }));
    assert.ok(forMetric.MetricAlarms.some((x) => x.AlarmName === name));
    await cw.send(new DisableAlarmActionsCommand({ AlarmNames: [name] }));
    assert.equal((await cw.send(new DescribeAlarmsCommand({ AlarmNames: [name] }))).MetricAlarms[0].ActionsEnabled, false);
    await cw.send(new EnableAlarmActionsCommand({ AlarmNames: [name] }));
    await cw.send(new DeleteAlarmsCommand({ AlarmNames: [name] }));
    assert.deepEqual((await cw.send(new DescribeAlarmsCommand({ AlarmNames: [name] }))).MetricAlarms, []);
    cw.destroy();
  });

  test(`${protocol}: SetAlarmState and DescribeAlarmHistory`, T, async () => {
    await clearOfMinuteBoundary(10); // an evaluation at a real minute would add a state change
    const cw = client(server.endpoint, protocol);
    const name = uniqueName('alarm');
    await cw.send(new PutMetricAlarmCommand(base(name)));
    await cw.send(new SetAlarmStateCommand({ AlarmName: name, StateValue: 'ALARM', StateReason: 'by hand' }));
    const hist = await cw.send(new DescribeAlarmHistoryCommand({ AlarmName: name }));
    assert.deepEqual(hist.AlarmHistoryItems.map((i) => i.HistoryItemType), ['StateUpdate', 'ConfigurationUpdate']);
    const [update, created] = hist.AlarmHistoryItems;
    assert.equal(update.HistorySummary, 'Alarm updated from INSUFFICIENT_DATA to ALARM');
    assert.ok(update.Timestamp instanceof Date);
    assert.deepEqual(JSON.parse(update.HistoryData), {
      version: '1.0',
      oldState: { stateValue: 'INSUFFICIENT_DATA', stateReason: 'Unchecked: Initial alarm creation' },
      newState: { stateValue: 'ALARM', stateReason: 'by hand' },
    });
    assert.equal(created.HistorySummary, `Alarm "${name}" created`);
    const recent = await cw.send(new DescribeAlarmHistoryCommand({
      AlarmName: name, StartDate: new Date(Date.now() - 3600e3), EndDate: new Date(Date.now() + 3600e3),
      HistoryItemType: 'StateUpdate',
    }));
    assert.equal(recent.AlarmHistoryItems.length, 1);
    cw.destroy();
  });

  test(`${protocol}: errors`, T, async () => {
    const cw = client(server.endpoint, protocol);
    const name = uniqueName('alarm');
    await expectCwError(cw.send(new SetAlarmStateCommand({ AlarmName: name, StateValue: 'OK', StateReason: 'x' })),
      // AWS's message is empty; the SDK then says UnknownError
      { name: 'ResourceNotFound', code: 'ResourceNotFound', message: 'UnknownError', status: 404 });
    await cw.send(new PutMetricAlarmCommand(base(name)));
    await expectCwError(cw.send(new SetAlarmStateCommand({
      AlarmName: name, StateValue: 'OK', StateReason: 'x', StateReasonData: 'not json',
    })), { name: 'InvalidFormatFault', code: 'InvalidFormat', message: 'Invalid JSON in the parameter StateReasonData.' });
    await expectCwError(cw.send(new PutMetricAlarmCommand(base(name, { EvaluationPeriods: 2, DatapointsToAlarm: 3 }))), {
      name: 'ValidationException', code: 'ValidationError',
      message: 'DatapointsToAlarm must be less than or equal to EvaluationPeriods.',
    });
    await expectCwError(cw.send(new PutMetricAlarmCommand(base(name, { EvaluationPeriods: 0 }))), {
      name: 'ValidationException', code: 'ValidationError',
      message: "1 validation error detected: Value '0' at 'evaluationPeriods' failed to satisfy constraint: Member must have value greater than or equal to 1",
    });
    await expectCwError(cw.send(new PutMetricAlarmCommand(base(name, { Period: 90 }))), {
      name: 'InvalidParameterValueException', code: 'InvalidParameterValue',
      message: 'The parameter Period must be 10, 20, 30 or a multiple of 60.',
    });
    cw.destroy();
  });
}

test('an alarm on a custom metric follows the emulated clock', { timeout: 60000 }, async () => {
  await clearOfMinuteBoundary(15); // the test moves the clock a minute at a time: a real one would step in
  const own = await startServer({ own: true });
  try {
    const cw = client(own.endpoint, 'json');
    const ns = `Test/${uniqueName('ns')}`;
    await cw.send(new PutMetricAlarmCommand({
      AlarmName: 'errors', Namespace: ns, MetricName: 'Errors', Statistic: 'Sum', Period: 60,
      EvaluationPeriods: 1, Threshold: 5, ComparisonOperator: 'GreaterThanThreshold', TreatMissingData: 'notBreaching',
    }));
    const state = async () => (await cw.send(new DescribeAlarmsCommand({ AlarmNames: ['errors'] }))).MetricAlarms[0];
    await advanceClock(own.endpoint, 60);
    assert.equal((await state()).StateValue, 'OK');
    assert.equal((await state()).StateReason,
      'Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as [NonBreaching].');
    await cw.send(new PutMetricDataCommand({ Namespace: ns, MetricData: [{ MetricName: 'Errors', Value: 9 }] }));
    await advanceClock(own.endpoint, 60);
    const a = await state();
    assert.equal(a.StateValue, 'ALARM');
    assert.match(a.StateReason, /^Threshold Crossed: 1 datapoint \[9\.0 \(\d\d\/\d\d\/\d\d \d\d:\d\d:00\)\] was greater than the threshold \(5\.0\)\.$/);
    const data = JSON.parse(a.StateReasonData);
    assert.equal(data.statistic, 'Sum');
    assert.deepEqual(data.recentDatapoints, [9]);
    assert.equal(data.evaluatedDatapoints[0].value, 9);
    assert.equal(data.evaluatedDatapoints[0].sampleCount, 1);
    const admin = await (await fetch(`${own.endpoint}/_sluice/alarms`)).json();
    assert.deepEqual(admin.history.map((h) => [h.name, h.old, h.new]),
      [['errors', 'OK', 'ALARM'], ['errors', 'INSUFFICIENT_DATA', 'OK']]);
    assert.equal(admin.alarms[0].state, 'ALARM');
    await sleep(10);
    cw.destroy();
  } finally {
    await own.stop();
  }
});
