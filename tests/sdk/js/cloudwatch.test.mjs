// The CloudWatch metrics API through @aws-sdk/client-cloudwatch, in both
// protocols the JS SDK v3 can speak: AWS JSON 1.0 (its default) and Smithy
// RPC v2 CBOR (the Go SDK v2's protocol, chosen here with
// `protocol: AwsSmithyRpcV2CborProtocol`). Every test runs in both; raw
// requests check the wire details (unknown operations, headers, bodies).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  CloudWatchClient, PutMetricDataCommand, GetMetricStatisticsCommand, GetMetricDataCommand,
  ListMetricsCommand, ListDashboardsCommand, PutCompositeAlarmCommand, paginateListMetrics,
} from '@aws-sdk/client-cloudwatch';
import { AwsSmithyRpcV2CborProtocol } from '@aws-sdk/core/protocols';
import { cbor, dateToTag } from '@smithy/core/cbor';
import { gzipSync } from 'node:zlib';
import { SendMessageCommand, CreateQueueCommand } from '@aws-sdk/client-sqs';
import { T, REGION, makeClient, startServer, uniqueName } from './harness.mjs';

let server;
before(async () => { server = await startServer(); }, T);
after(async () => { await server?.stop(); }, T);

const PROTOCOLS = { json: undefined, cbor: AwsSmithyRpcV2CborProtocol };

function client(protocol) {
  return new CloudWatchClient({
    endpoint: server.endpoint,
    region: REGION,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
    // 3.1164's CBOR protocol sets Content-Length before the compression
    // middleware gzips the body, so a compressed request announces its
    // uncompressed length and never completes (a client bug). The CBOR gzip
    // path is covered by a raw request below.
    ...(PROTOCOLS[protocol] ? { protocol: PROTOCOLS[protocol], disableRequestCompression: true } : {}),
  });
}

/** The start of the minute `ago` minutes back. */
const minute = (ago) => new Date(Math.floor(Date.now() / 60000) * 60000 - ago * 60000);
const window = (minutes = 20) => ({ StartTime: new Date(Date.now() - minutes * 60000), EndTime: new Date(Date.now() + 60000) });
const ALL = ['Sum', 'Average', 'SampleCount', 'Minimum', 'Maximum'];

async function expectCwError(promise, { name, code, message, status = 400 }) {
  let err;
  try { await promise; } catch (e) { err = e; }
  assert.ok(err, `expected ${name}`);
  assert.equal(err.name, name, `name (message: ${err.message})`);
  assert.equal(err.Code, code);
  assert.equal(err.message, message);
  assert.equal(err.$metadata.httpStatusCode, status);
}

for (const protocol of Object.keys(PROTOCOLS)) {
  test(`${protocol}: PutMetricData then GetMetricStatistics, exact values`, T, async () => {
    const cw = client(protocol);
    const ns = `Test/${uniqueName('cw')}`;
    const dims = [{ Name: 'Function', Value: 'worker' }];
    const t0 = minute(5);
    const t1 = new Date(minute(4).getTime() + 1234); // milliseconds: JS sends a fractional timestamp
    await cw.send(new PutMetricDataCommand({
      Namespace: ns,
      MetricData: [
        { MetricName: 'Duration', Dimensions: dims, Timestamp: t0, Value: 10, Unit: 'Milliseconds' },
        { MetricName: 'Duration', Dimensions: dims, Timestamp: t0, Values: [2, 30], Counts: [3, 1], Unit: 'Milliseconds' },
        { MetricName: 'Duration', Dimensions: dims, Timestamp: t1, Unit: 'Milliseconds',
          StatisticValues: { SampleCount: 4, Sum: 100, Minimum: 5, Maximum: 70 } },
      ],
    }));
    const out = await cw.send(new GetMetricStatisticsCommand({
      Namespace: ns, MetricName: 'Duration', Dimensions: dims, Period: 60, Statistics: ALL, ...window(),
    }));
    assert.equal(out.Label, 'Duration');
    const points = out.Datapoints.sort((a, b) => a.Timestamp - b.Timestamp);
    assert.deepEqual(points.map((p) => p.Timestamp), [t0, minute(4)]);
    assert.deepEqual(points.map((p) => [p.SampleCount, p.Sum, p.Minimum, p.Maximum, p.Average, p.Unit]), [
      [5, 46, 2, 30, 9.2, 'Milliseconds'],
      [4, 100, 5, 70, 25, 'Milliseconds'],
    ]);
    const ext = await cw.send(new GetMetricStatisticsCommand({
      Namespace: ns, MetricName: 'Duration', Dimensions: dims, Period: 60, ExtendedStatistics: ['p0', 'p100'],
      ...window(),
    }));
    const first = ext.Datapoints.find((p) => p.Timestamp.getTime() === t0.getTime());
    assert.deepEqual(first.ExtendedStatistics, { p0: 2, p100: 30 });
    assert.equal(first.Sum, undefined);
    cw.destroy();
  });

  test(`${protocol}: GetMetricData orders, labels, skips ReturnData false and pages`, T, async () => {
    const cw = client(protocol);
    const ns = `Test/${uniqueName('cw')}`;
    const metric = { Namespace: ns, MetricName: 'Sent', Dimensions: [{ Name: 'QueueName', Value: 'orders' }] };
    await cw.send(new PutMetricDataCommand({
      Namespace: ns,
      MetricData: [0, 1, 2, 3].map((i) => ({ ...metric, Namespace: undefined, Timestamp: minute(6 - i), Value: i + 1, Unit: 'Count' })),
    }));
    const out = await cw.send(new GetMetricDataCommand({
      MetricDataQueries: [
        { Id: 'sent', MetricStat: { Metric: metric, Period: 60, Stat: 'Sum' } },
        { Id: 'hidden', MetricStat: { Metric: metric, Period: 60, Stat: 'Sum' }, ReturnData: false },
        { Id: 'avg', MetricStat: { Metric: metric, Period: 60, Stat: 'Average' }, Label: 'mean' },
      ],
      ScanBy: 'TimestampAscending',
      ...window(),
    }));
    assert.deepEqual(out.Messages, []);
    assert.equal(out.NextToken, undefined);
    assert.deepEqual(out.MetricDataResults.map((r) => [r.Id, r.Label, r.StatusCode]),
      [['sent', 'Sent', 'Complete'], ['avg', 'mean', 'Complete']]);
    assert.deepEqual(out.MetricDataResults[0].Timestamps, [minute(6), minute(5), minute(4), minute(3)]);
    assert.deepEqual(out.MetricDataResults[0].Values, [1, 2, 3, 4]);
    const pages = [];
    let NextToken;
    do {
      const page = await cw.send(new GetMetricDataCommand({
        MetricDataQueries: [{ Id: 'sent', MetricStat: { Metric: metric, Period: 60, Stat: 'Sum' } }],
        MaxDatapoints: 3, NextToken, ...window(),
      }));
      pages.push([page.MetricDataResults[0].Values, page.MetricDataResults[0].StatusCode]);
      NextToken = page.NextToken;
    } while (NextToken);
    assert.deepEqual(pages, [[[4, 3, 2], 'PartialData'], [[1], 'Complete']]); // default ScanBy: descending
    cw.destroy();
  });

  test(`${protocol}: ListMetrics filters and pages of 500${protocol === 'json' ? ' (a gzipped PutMetricData)' : ''}`, T, async () => {
    const cw = client(protocol);
    const ns = `Test/${uniqueName('cw')}`;
    const encodings = [];
    cw.middlewareStack.add((next) => async (args) => {
      encodings.push(args.request.headers['content-encoding'] ?? 'identity');
      return next(args);
    }, { step: 'finalizeRequest', name: 'seeEncoding' });
    await cw.send(new PutMetricDataCommand({
      Namespace: ns,
      MetricData: Array.from({ length: 502 }, (_, i) => ({
        MetricName: i === 501 ? 'Other' : 'Each', Value: 1, Timestamp: minute(2),
        Dimensions: [{ Name: 'Index', Value: String(i).padStart(4, '0') }],
      })),
    }));
    assert.deepEqual(encodings, [protocol === 'json' ? 'gzip' : 'identity']); // over 10 KiB: the SDK compresses it
    const first = await cw.send(new ListMetricsCommand({ Namespace: ns }));
    assert.equal(first.Metrics.length, 500);
    assert.ok(first.NextToken);
    const second = await cw.send(new ListMetricsCommand({ Namespace: ns, NextToken: first.NextToken }));
    assert.equal(second.Metrics.length, 2);
    assert.equal(second.NextToken, undefined);
    const all = [];
    for await (const page of paginateListMetrics({ client: cw }, { Namespace: ns })) all.push(...page.Metrics);
    assert.equal(all.length, 502);
    const other = await cw.send(new ListMetricsCommand({ Namespace: ns, MetricName: 'Other' }));
    assert.deepEqual(other.Metrics, [{ Namespace: ns, MetricName: 'Other', Dimensions: [{ Name: 'Index', Value: '0501' }] }]);
    const byDim = await cw.send(new ListMetricsCommand({ Namespace: ns, Dimensions: [{ Name: 'Index', Value: '0007' }] }));
    assert.deepEqual(byDim.Metrics.map((m) => m.MetricName), ['Each']);
    cw.destroy();
  });

  test(`${protocol}: AWS/SQS metrics sluice records read back through GetMetricData`, T, async () => {
    const sqs = makeClient(server.endpoint);
    const cw = client(protocol);
    const name = uniqueName('cwjs');
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
    for (const body of ['x', 'yyyy']) await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: body }));
    const metric = (MetricName) => ({ Namespace: 'AWS/SQS', MetricName, Dimensions: [{ Name: 'QueueName', Value: name }] });
    const out = await cw.send(new GetMetricDataCommand({
      MetricDataQueries: [
        { Id: 'sent', MetricStat: { Metric: metric('NumberOfMessagesSent'), Period: 60, Stat: 'Sum' } },
        { Id: 'size', MetricStat: { Metric: metric('SentMessageSize'), Period: 60, Stat: 'Average' } },
      ],
      ...window(5),
    }));
    const sum = (id) => out.MetricDataResults.find((r) => r.Id === id).Values.reduce((a, b) => a + b, 0);
    assert.equal(sum('sent'), 2);
    // one minute: the average of 1 and 4 bytes; two (the sends straddled a minute): each
    const sizes = [...out.MetricDataResults.find((r) => r.Id === 'size').Values].sort();
    assert.ok(JSON.stringify(sizes) === '[2.5]' || JSON.stringify(sizes) === '[1,4]', `sizes ${sizes}`);
    sqs.destroy();
    cw.destroy();
  });

  test(`${protocol}: errors carry AWS's codes and messages`, T, async () => {
    const cw = client(protocol);
    await expectCwError(cw.send(new PutMetricDataCommand({
      Namespace: 'App', MetricData: [{ MetricName: 'm', Value: 1, Values: [1] }],
    })), {
      name: 'InvalidParameterCombinationException', code: 'InvalidParameterCombination',
      message: 'The parameters MetricData.member.1.Value and MetricData.member.1.Values are mutually exclusive and you have specified both.',
    });
    await expectCwError(cw.send(new PutMetricDataCommand({
      Namespace: 'AWS/Lambda', MetricData: [{ MetricName: 'm', Value: 1 }],
    })), {
      name: 'InvalidParameterValueException', code: 'InvalidParameterValue',
      message: 'The value AWS/Lambda for parameter Namespace is invalid.',
    });
    await expectCwError(cw.send(new PutMetricDataCommand({
      Namespace: 'App', MetricData: [{ MetricName: 'm', Value: NaN }],
    })), {
      name: 'InvalidParameterValueException', code: 'InvalidParameterValue',
      message: 'The value NaN for parameter MetricData.member.1.Value is invalid.',
    });
    await expectCwError(cw.send(new GetMetricStatisticsCommand({
      Namespace: 'App', MetricName: 'm', Period: 60, Statistics: ['Sum'], StartTime: minute(0), EndTime: minute(5),
    })), {
      name: 'InvalidParameterValueException', code: 'InvalidParameterValue',
      message: 'The parameter StartTime must be less than the parameter EndTime.',
    });
    await expectCwError(cw.send(new GetMetricStatisticsCommand({
      Namespace: 'App', MetricName: 'm', Period: 1, Statistics: ['Sum'], StartTime: minute(1440), EndTime: minute(0),
    })), {
      name: 'InvalidParameterCombinationException', code: 'InvalidParameterCombination',
      message: 'You have requested up to 86400 datapoints, which exceeds the limit of 1440. You may reduce the datapoints requested by increasing Period, or decreasing the time range.',
    });
    await expectCwError(cw.send(new GetMetricDataCommand({
      MetricDataQueries: [{ Id: 'e1', Expression: 'SUM(METRICS())' }], StartTime: minute(5), EndTime: minute(0),
    })), {
      name: 'InvalidParameterValueException', code: 'InvalidParameterValue',
      message: 'Metric math is not supported by sluice: MetricDataQueries.member.1.Expression cannot be evaluated; use MetricStat.',
    });
    for (const cmd of [new ListDashboardsCommand({}), new PutCompositeAlarmCommand({
      AlarmName: 'a', AlarmRule: 'ALARM(b)',
    })]) {
      const op = cmd.constructor.name.replace(/Command$/, '');
      await expectCwError(cw.send(cmd), {
        name: 'UnsupportedOperation', code: 'UnsupportedOperation',
        message: `sluice does not support the CloudWatch operation ${op}: it serves the metric operations (PutMetricData, GetMetricData, GetMetricStatistics, ListMetrics) and the metric alarm ones (PutMetricAlarm, DescribeAlarms, DescribeAlarmsForMetric, DeleteAlarms, DescribeAlarmHistory, SetAlarmState, EnableAlarmActions, DisableAlarmActions).`,
      });
    }
    cw.destroy();
  });
}

async function raw(path, headers, body) {
  const res = await fetch(server.endpoint + path, { method: 'POST', headers, body });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

const CBOR_HEADERS = { 'smithy-protocol': 'rpc-v2-cbor', 'content-type': 'application/cbor', accept: 'application/cbor' };
const op = (name) => `/service/GraniteServiceVersion20100801/operation/${name}`;

test('cbor wire: headers, empty PutMetricData reply, unknown operations and bad bodies', T, async () => {
  let r = await raw(op('ListMetrics'), CBOR_HEADERS, Buffer.from([0xa1, 0x69, ...Buffer.from('Namespace'), 0x66, ...Buffer.from('Nobody')]));
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('smithy-protocol'), 'rpc-v2-cbor');
  assert.equal(r.headers.get('content-type'), 'application/cbor');
  assert.deepEqual([...r.body], [0xa1, 0x67, ...Buffer.from('Metrics'), 0x80]);
  // the service's full shape id works as the service segment too
  r = await raw('/service/com.amazonaws.cloudwatch.GraniteServiceVersion20100801/operation/PutMetricData', CBOR_HEADERS,
    Buffer.from(cbor.serialize({ Namespace: 'App', MetricData: [{ MetricName: 'm', Value: 1 }] })));
  assert.equal(r.status, 200);
  assert.deepEqual([...r.body], [0xa0]); // no output: an empty map
  assert.equal(r.headers.get('content-type'), 'application/cbor');
  assert.equal(r.headers.get('smithy-protocol'), 'rpc-v2-cbor');
  // a gzipped body (what botocore sends for PutMetricData from 10 KiB on)
  const ns = `Test/${uniqueName('cw')}`;
  const t = minute(3);
  const big = cbor.serialize({
    Namespace: ns,
    MetricData: Array.from({ length: 300 }, (_, i) => ({
      MetricName: 'Zipped', Value: i % 2 ? 1.5 : 0.5, Timestamp: dateToTag(t), Dimensions: [{ Name: 'Pad', Value: 'p'.repeat(30) }],
    })),
  });
  assert.ok(big.length > 10240);
  r = await raw(op('PutMetricData'), { ...CBOR_HEADERS, 'content-encoding': 'gzip' }, gzipSync(big));
  assert.equal(r.status, 200);
  r = await raw(op('GetMetricStatistics'), CBOR_HEADERS, Buffer.from(cbor.serialize({
    Namespace: ns, MetricName: 'Zipped', Dimensions: [{ Name: 'Pad', Value: 'p'.repeat(30) }],
    StartTime: dateToTag(new Date(t.getTime() - 600000)), EndTime: dateToTag(new Date(t.getTime() + 600000)), Period: 60, Statistics: ['Sum', 'SampleCount'],
  })));
  assert.equal(r.status, 200);
  const got = cbor.deserialize(r.body);
  assert.equal(got.Datapoints[0].Timestamp.tag, 1); // tag 1 around epoch seconds
  got.Datapoints[0].Timestamp = got.Datapoints[0].Timestamp.value;
  assert.deepEqual(got, {
    Label: 'Zipped', Datapoints: [{ Timestamp: t.getTime() / 1000, Sum: 300, SampleCount: 300, Unit: 'None' }],
  });
  r = await raw(op('LaunchRocket'), CBOR_HEADERS, Buffer.from([0xa0]));
  assert.equal(r.status, 400);
  assert.equal(r.headers.get('x-amzn-query-error'), 'InvalidAction;Sender');
  assert.deepEqual(cbor.deserialize(r.body), {
    __type: 'com.amazon.coral.service#UnknownOperationException',
    message: 'The action LaunchRocket is not valid for this endpoint.',
  });
  for (const body of [Buffer.from([0xa1, 0x69]), Buffer.from([0x81, 0x01]), Buffer.from('{"Namespace":"x"}')]) {
    r = await raw(op('ListMetrics'), CBOR_HEADERS, body);
    assert.equal(r.status, 400);
    assert.equal(r.headers.get('x-amzn-query-error'), 'SerializationException;Sender');
    assert.equal(cbor.deserialize(r.body).__type, 'com.amazon.coral.service#SerializationException');
  }
  r = await raw(op('ListMetrics'), { ...CBOR_HEADERS, 'x-amz-target': 'GraniteServiceVersion20100801.ListMetrics' }, Buffer.from([0xa0]));
  assert.equal(r.status, 400);
  assert.deepEqual(cbor.deserialize(r.body), {
    __type: 'com.amazon.coral.service#SerializationException',
    message: 'A Smithy RPC v2 CBOR request must not carry X-Amz-Target.',
  });
});

test('json wire: unknown operation, bad JSON, epoch-second timestamps', T, async () => {
  const H = { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'GraniteServiceVersion20100801.LaunchRocket' };
  let r = await raw('/', H, '{}');
  assert.equal(r.status, 400);
  assert.equal(r.headers.get('x-amzn-query-error'), 'InvalidAction;Sender');
  assert.deepEqual(JSON.parse(r.body), {
    __type: 'com.amazon.coral.service#UnknownOperationException',
    message: 'The action LaunchRocket is not valid for this endpoint.',
  });
  r = await raw('/', { ...H, 'x-amz-target': 'GraniteServiceVersion20100801.ListMetrics' }, '{"Namespace":');
  assert.equal(r.status, 400);
  assert.deepEqual(JSON.parse(r.body), {
    __type: 'com.amazon.coral.service#SerializationException', message: 'The request body is not a JSON object.',
  });
  const ns = `Test/${uniqueName('cw')}`;
  const t = minute(3).getTime() / 1000;
  r = await raw('/', { ...H, 'x-amz-target': 'GraniteServiceVersion20100801.PutMetricData' },
    JSON.stringify({ Namespace: ns, MetricData: [{ MetricName: 'm', Value: 2, Timestamp: t }] }));
  assert.equal(r.status, 200);
  r = await raw('/', { ...H, 'x-amz-target': 'GraniteServiceVersion20100801.GetMetricStatistics' },
    JSON.stringify({ Namespace: ns, MetricName: 'm', StartTime: t - 600, EndTime: t + 600, Period: 60, Statistics: ['Sum'] }));
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'application/x-amz-json-1.0');
  assert.deepEqual(JSON.parse(r.body), { Label: 'm', Datapoints: [{ Timestamp: t, Sum: 2, Unit: 'None' }] });
});
