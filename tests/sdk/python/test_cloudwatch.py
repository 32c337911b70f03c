"""The CloudWatch metrics API over the query protocol, with Debian's boto3
(botocore 1.29): PutMetricData read back exactly through
GetMetricStatistics and GetMetricData, periods, dimensions, units, paging,
gzip bodies, and each error with AWS's code and message."""
import datetime
import gzip
import urllib.parse
import uuid

import boto3
import pytest
from botocore.config import Config

from sluice_helpers import REGION, aws_error, http_call

UTC = datetime.timezone.utc
PCT_ERROR = 0.01  # observe/metrics.h: METRICS_PERCENTILE_ERROR


@pytest.fixture(scope="module")
def cw(endpoint):
    return boto3.session.Session().client(
        "cloudwatch", region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test",
        endpoint_url=endpoint, config=Config(retries={"max_attempts": 1}))


@pytest.fixture
def ns():
    return f"Test/{uuid.uuid4().hex[:12]}"


def minute(ago):
    """The start of the minute `ago` minutes before this one (UTC)."""
    now = datetime.datetime.now(UTC).replace(second=0, microsecond=0)
    return now - datetime.timedelta(minutes=ago)


def window(minutes=20):
    end = datetime.datetime.now(UTC) + datetime.timedelta(minutes=1)
    return dict(StartTime=end - datetime.timedelta(minutes=minutes), EndTime=end)


def stats(cw, ns, name, dims=None, period=60, minutes=20, **kw):
    args = dict(Namespace=ns, MetricName=name, Period=period, **window(minutes), **kw)
    if dims is not None:
        args["Dimensions"] = dims
    if "Statistics" not in kw and "ExtendedStatistics" not in kw:
        args["Statistics"] = ["Sum", "Average", "SampleCount", "Minimum", "Maximum"]
    resp = cw.get_metric_statistics(**args)
    return resp, sorted(resp["Datapoints"], key=lambda d: d["Timestamp"])


def nearest_rank(values, p):
    ordered = sorted(values)
    k = max(1, -(-len(ordered) * p // 100))
    return ordered[int(k) - 1]


def test_put_then_statistics_exact(cw, ns):
    t0, t1 = minute(5), minute(4)
    dims = [{"Name": "Queue", "Value": "orders"}]
    cw.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "Latency", "Dimensions": dims, "Timestamp": t0, "Value": 10, "Unit": "Milliseconds"},
        {"MetricName": "Latency", "Dimensions": dims, "Timestamp": t0, "Values": [2, 30], "Counts": [3, 1],
         "Unit": "Milliseconds"},
        {"MetricName": "Latency", "Dimensions": dims, "Timestamp": t1, "Unit": "Milliseconds",
         "StatisticValues": {"SampleCount": 4, "Sum": 100, "Minimum": 5, "Maximum": 70}},
    ])
    resp, points = stats(cw, ns, "Latency", dims)
    assert resp["Label"] == "Latency"
    assert [p["Timestamp"] for p in points] == [t0, t1]
    first, second = points
    assert (first["SampleCount"], first["Sum"], first["Minimum"], first["Maximum"]) == (5.0, 46.0, 2.0, 30.0)
    assert first["Average"] == pytest.approx(9.2, rel=1e-12)
    assert first["Unit"] == "Milliseconds"
    assert (second["SampleCount"], second["Sum"], second["Minimum"], second["Maximum"], second["Average"]) == \
        (4.0, 100.0, 5.0, 70.0, 25.0)


def test_percentiles(cw, ns):
    t0, t1 = minute(6), minute(5)
    values = [float(v) for v in range(1, 101)]
    cw.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "Duration", "Timestamp": t0, "Values": values[:50], "Unit": "Milliseconds"},
        {"MetricName": "Duration", "Timestamp": t0, "Values": values[50:], "Unit": "Milliseconds"},
        {"MetricName": "Duration", "Timestamp": t1, "Value": 42.5, "Unit": "Milliseconds"},
        {"MetricName": "Duration", "Timestamp": t1, "Value": 42.5, "Unit": "Milliseconds"},
    ])
    _, points = stats(cw, ns, "Duration", ExtendedStatistics=["p50", "p99", "p100", "p0"])
    assert [p["Timestamp"] for p in points] == [t0, t1]
    ext = points[0]["ExtendedStatistics"]
    assert ext["p50"] == pytest.approx(nearest_rank(values, 50), rel=PCT_ERROR)
    assert ext["p99"] == pytest.approx(nearest_rank(values, 99), rel=PCT_ERROR)
    assert ext["p100"] == 100.0 and ext["p0"] == 1.0
    assert points[0]["Unit"] == "Milliseconds"
    assert "Sum" not in points[0]
    # all values equal: every percentile is exact
    assert points[1]["ExtendedStatistics"] == {"p50": 42.5, "p99": 42.5, "p100": 42.5, "p0": 42.5}


def test_periods_and_high_resolution(cw, ns):
    base = minute(10)
    data = [{"MetricName": "Jobs", "Timestamp": base + datetime.timedelta(minutes=i), "Value": float(i + 1),
             "Unit": "Count"} for i in range(10)]
    cw.put_metric_data(Namespace=ns, MetricData=data)
    _, per_minute = stats(cw, ns, "Jobs")
    assert [p["Sum"] for p in per_minute] == [float(i + 1) for i in range(10)]
    _, five = stats(cw, ns, "Jobs", period=300, Statistics=["Sum", "SampleCount"])
    # periods are aligned to the epoch: sum each 5-minute bucket independently
    buckets = {}
    for d in data:
        start = d["Timestamp"] - datetime.timedelta(minutes=d["Timestamp"].minute % 5)
        buckets[start] = buckets.get(start, 0) + d["Value"]
    assert {p["Timestamp"]: p["Sum"] for p in five} == buckets
    assert sum(p["SampleCount"] for p in five) == 10.0
    # one-second data, read with a 1 s and a 10 s period
    now = datetime.datetime.now(UTC).replace(microsecond=0) - datetime.timedelta(seconds=60)
    now -= datetime.timedelta(seconds=now.second % 10)
    hr = [{"MetricName": "Fast", "Timestamp": now + datetime.timedelta(seconds=i), "Value": 1.0 + i,
           "StorageResolution": 1, "Unit": "Count"} for i in range(12)]
    cw.put_metric_data(Namespace=ns, MetricData=hr)
    _, per_second = stats(cw, ns, "Fast", period=1, minutes=5, Statistics=["Sum"])
    assert [p["Sum"] for p in per_second] == [1.0 + i for i in range(12)]
    assert [p["Timestamp"] for p in per_second] == [d["Timestamp"] for d in hr]
    _, per_ten = stats(cw, ns, "Fast", period=10, Statistics=["Sum", "SampleCount"])
    assert [(p["Sum"], p["SampleCount"]) for p in per_ten] == [(55.0, 10.0), (23.0, 2.0)]


def test_dimensions_match_exactly_and_unit_filters(cw, ns):
    t = minute(3)
    cw.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "Hits", "Timestamp": t, "Value": 1, "Unit": "Count",
         "Dimensions": [{"Name": "A", "Value": "1"}, {"Name": "B", "Value": "2"}]},
        {"MetricName": "Hits", "Timestamp": t, "Value": 10, "Unit": "Count",
         "Dimensions": [{"Name": "A", "Value": "1"}]},
        {"MetricName": "Hits", "Timestamp": t, "Value": 100, "Unit": "Count"},
    ])
    both = [{"Name": "B", "Value": "2"}, {"Name": "A", "Value": "1"}]  # order does not matter
    assert [p["Sum"] for p in stats(cw, ns, "Hits", both)[1]] == [1.0]
    assert [p["Sum"] for p in stats(cw, ns, "Hits", [{"Name": "A", "Value": "1"}])[1]] == [10.0]
    assert [p["Sum"] for p in stats(cw, ns, "Hits")[1]] == [100.0]
    assert stats(cw, ns, "Hits", [{"Name": "A", "Value": "2"}])[1] == []
    assert [p["Sum"] for p in stats(cw, ns, "Hits", Unit="Count")[1]] == [100.0]
    assert stats(cw, ns, "Hits", Unit="Seconds")[1] == []


def test_list_metrics_filters(cw, ns):
    t = minute(2)
    cw.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "Sent", "Timestamp": t, "Value": 1, "Dimensions": [{"Name": "QueueName", "Value": "a"}]},
        {"MetricName": "Sent", "Timestamp": t, "Value": 1, "Dimensions": [{"Name": "QueueName", "Value": "b"}]},
        {"MetricName": "Sent", "Timestamp": t, "Value": 1, "Unit": "Count",
         "Dimensions": [{"Name": "QueueName", "Value": "b"}]},  # another unit: still one metric
        {"MetricName": "Deleted", "Timestamp": t, "Value": 1,
         "Dimensions": [{"Name": "QueueName", "Value": "a"}, {"Name": "Env", "Value": "dev"}]},
    ])

    def listed(**kw):
        return sorted((m["MetricName"], tuple((d["Name"], d["Value"]) for d in m["Dimensions"]))
                      for m in cw.list_metrics(Namespace=ns, **kw)["Metrics"])

    assert listed() == [("Deleted", (("Env", "dev"), ("QueueName", "a"))), ("Sent", (("QueueName", "a"),)),
                        ("Sent", (("QueueName", "b"),))]
    assert listed(MetricName="Sent") == [("Sent", (("QueueName", "a"),)), ("Sent", (("QueueName", "b"),))]
    assert listed(Dimensions=[{"Name": "QueueName", "Value": "a"}]) == [
        ("Deleted", (("Env", "dev"), ("QueueName", "a"))), ("Sent", (("QueueName", "a"),))]
    assert listed(Dimensions=[{"Name": "Env"}]) == [("Deleted", (("Env", "dev"), ("QueueName", "a")))]
    assert listed(RecentlyActive="PT3H") == listed()
    assert cw.list_metrics(Namespace=ns + "x")["Metrics"] == []


def test_list_metrics_pages_of_500(cw, ns):
    t = minute(1)
    for start in (0, 501):
        n = 501 if start == 0 else 2
        cw.put_metric_data(Namespace=ns, MetricData=[
            {"MetricName": "M", "Timestamp": t, "Value": 1, "Dimensions": [{"Name": "I", "Value": f"{i:04d}"}]}
            for i in range(start, start + n)])
    first = cw.list_metrics(Namespace=ns)
    assert len(first["Metrics"]) == 500 and "NextToken" in first
    second = cw.list_metrics(Namespace=ns, NextToken=first["NextToken"])
    assert len(second["Metrics"]) == 3 and "NextToken" not in second
    seen = [m["Dimensions"][0]["Value"] for m in first["Metrics"] + second["Metrics"]]
    assert sorted(seen) == [f"{i:04d}" for i in range(503)]
    paginated = [m for page in cw.get_paginator("list_metrics").paginate(Namespace=ns) for m in page["Metrics"]]
    assert len(paginated) == 503


def test_get_metric_data(cw, ns):
    base = minute(8)
    cw.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "Q", "Timestamp": base + datetime.timedelta(minutes=i), "Value": float(i), "Unit": "Count",
         "Dimensions": [{"Name": "QueueName", "Value": "q"}]} for i in range(5)])
    metric = {"Namespace": ns, "MetricName": "Q", "Dimensions": [{"Name": "QueueName", "Value": "q"}]}
    resp = cw.get_metric_data(MetricDataQueries=[
        {"Id": "sum", "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Sum"}},
        {"Id": "hidden", "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Sum"}, "ReturnData": False},
        {"Id": "max5", "MetricStat": {"Metric": metric, "Period": 300, "Stat": "SampleCount"}, "Label": "five"},
        {"Id": "none", "MetricStat": {"Metric": {**metric, "MetricName": "Nope"}, "Period": 60, "Stat": "Sum"}},
    ], **window())
    assert resp["Messages"] == []
    assert "NextToken" not in resp
    results = {r["Id"]: r for r in resp["MetricDataResults"]}
    assert set(results) == {"sum", "max5", "none"}
    s = results["sum"]
    assert s["Label"] == "Q" and s["StatusCode"] == "Complete"
    # default ScanBy: TimestampDescending
    assert s["Timestamps"] == [base + datetime.timedelta(minutes=i) for i in (4, 3, 2, 1, 0)]
    assert s["Values"] == [4.0, 3.0, 2.0, 1.0, 0.0]
    assert results["max5"]["Label"] == "five"
    assert sum(results["max5"]["Values"]) == 5.0
    assert results["none"]["Timestamps"] == [] and results["none"]["Values"] == []
    asc = cw.get_metric_data(MetricDataQueries=[
        {"Id": "a", "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Maximum"}}],
        ScanBy="TimestampAscending", **window())["MetricDataResults"][0]
    assert asc["Values"] == [0.0, 1.0, 2.0, 3.0, 4.0]
    # MaxDatapoints pages with NextToken until Complete
    pages, token = [], None
    while True:
        kw = {"NextToken": token} if token else {}
        page = cw.get_metric_data(MetricDataQueries=[
            {"Id": "a", "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Sum"}}],
            MaxDatapoints=2, **window(), **kw)
        pages.append(page["MetricDataResults"][0])
        token = page.get("NextToken")
        if not token:
            break
    assert [p["Values"] for p in pages] == [[4.0, 3.0], [2.0, 1.0], [0.0]]
    assert [p["StatusCode"] for p in pages] == ["PartialData", "PartialData", "Complete"]


def metric_data(**datum):
    return [dict({"MetricName": "m"}, **datum)]


ERRORS = [
    ("put_metric_data", dict(Namespace="AWS/SQS", MetricData=metric_data(Value=1)),
     "InvalidParameterValue", "The value AWS/SQS for parameter Namespace is invalid."),
    ("put_metric_data", dict(Namespace=":x", MetricData=metric_data(Value=1)),
     "InvalidParameterValue", "The value :x for parameter Namespace is invalid."),
    ("put_metric_data", dict(Namespace="App", MetricData=metric_data(Value=1, Values=[1])),
     "InvalidParameterCombination", "The parameters MetricData.member.1.Value and MetricData.member.1.Values "
     "are mutually exclusive and you have specified both."),
    ("put_metric_data", dict(Namespace="App", MetricData=metric_data(
        Value=1, StatisticValues={"SampleCount": 1, "Sum": 1, "Minimum": 1, "Maximum": 1})),
     "InvalidParameterCombination", "The parameters MetricData.member.1.Value and "
     "MetricData.member.1.StatisticValues are mutually exclusive and you have specified both."),
    ("put_metric_data", dict(Namespace="App", MetricData=metric_data(Values=[1, 2], Counts=[1])),
     "InvalidParameterValue", "The parameters MetricData.member.1.Values and MetricData.member.1.Counts must be "
     "of the same size."),
    # the query protocol sends Python's text for them, which the message repeats
    ("put_metric_data", dict(Namespace="App", MetricData=metric_data(Value=float("nan"))),
     "InvalidParameterValue", "The value nan for parameter MetricData.member.1.Value is invalid."),
    ("put_metric_data", dict(Namespace="App", MetricData=metric_data(Value=float("-inf"))),
     "InvalidParameterValue", "The value -inf for parameter MetricData.member.1.Value is invalid."),
    ("put_metric_data", dict(Namespace="App", MetricData=metric_data(Values=[1.0] * 151)),
     "InvalidParameterValue", "The collection MetricData.member.1.Values must not have a size greater than 150."),
    ("put_metric_data", dict(Namespace="App", MetricData=metric_data(
        Value=1, Timestamp=datetime.datetime.now(UTC) - datetime.timedelta(days=15))),
     "InvalidParameterValue", "The parameter MetricData.member.1.Timestamp must specify a time no more than two "
     "weeks in the past."),
    ("put_metric_data", dict(Namespace="App", MetricData=metric_data(
        Value=1, Timestamp=datetime.datetime.now(UTC) + datetime.timedelta(hours=3))),
     "InvalidParameterValue", "The parameter MetricData.member.1.Timestamp must specify a time no more than two "
     "hours in the future."),
    ("put_metric_data", dict(Namespace="App", MetricData=metric_data(Value=1, StorageResolution=5)),
     "InvalidParameterValue", "The value 5 for parameter MetricData.member.1.StorageResolution is invalid."),
    ("get_metric_statistics", dict(Namespace="App", MetricName="m", Period=1, Statistics=["Sum"],
                                   StartTime=minute(1440), EndTime=minute(0)),
     "InvalidParameterCombination", "You have requested up to 86400 datapoints, which exceeds the limit of 1440. "
     "You may reduce the datapoints requested by increasing Period, or decreasing the time range."),
    ("get_metric_statistics", dict(Namespace="App", MetricName="m", Period=60, Statistics=["Sum"],
                                   StartTime=minute(0), EndTime=minute(5)),
     "InvalidParameterValue", "The parameter StartTime must be less than the parameter EndTime."),
    ("get_metric_statistics", dict(Namespace="App", MetricName="m", Period=60, Statistics=["Sum"],
                                   ExtendedStatistics=["p99"], StartTime=minute(5), EndTime=minute(0)),
     "InvalidParameterCombination", "The parameters Statistics and ExtendedStatistics are mutually exclusive and "
     "you have specified both."),
    ("get_metric_statistics", dict(Namespace="App", MetricName="m", Period=90, Statistics=["Sum"],
                                   StartTime=minute(5), EndTime=minute(0)),
     "InvalidParameterValue", "The parameter Period must be a multiple of 60, or 1, 5, 10, 20 or 30 for "
     "high-resolution metrics."),
    ("get_metric_data", dict(MetricDataQueries=[{"Id": "e1", "Expression": "SUM(METRICS())"}],
                             StartTime=minute(5), EndTime=minute(0)),
     "InvalidParameterValue", "Metric math is not supported by sluice: MetricDataQueries.member.1.Expression "
     "cannot be evaluated; use MetricStat."),
    ("get_metric_data", dict(MetricDataQueries=[
        {"Id": "a", "MetricStat": {"Metric": {"Namespace": "A", "MetricName": "m"}, "Period": 60, "Stat": "Sum"}},
        {"Id": "a", "MetricStat": {"Metric": {"Namespace": "A", "MetricName": "m"}, "Period": 60, "Stat": "Sum"}}],
        StartTime=minute(5), EndTime=minute(0)),
     "InvalidParameterValue", "The values for parameter Id in MetricDataQueries must be unique: a is used more "
     "than once."),
    ("get_metric_data", dict(MetricDataQueries=[
        {"Id": "A1", "MetricStat": {"Metric": {"Namespace": "A", "MetricName": "m"}, "Period": 60, "Stat": "Sum"}}],
        StartTime=minute(5), EndTime=minute(0)),
     "InvalidParameterValue", "The value A1 for parameter MetricDataQueries.member.1.Id is invalid: an Id starts "
     "with a lowercase letter and holds only letters, numbers and underscores."),
    ("get_metric_data", dict(MetricDataQueries=[
        {"Id": "a", "MetricStat": {"Metric": {"Namespace": "A", "MetricName": "m"}, "Period": 60, "Stat": "Sum"}}],
        StartTime=minute(5), EndTime=minute(0), NextToken="bogus"),
     "InvalidNextToken", "The NextToken bogus is invalid."),
    ("list_metrics", dict(RecentlyActive="PT1H"),
     "InvalidParameterValue", "The value PT1H for parameter RecentlyActive is invalid."),
]


@pytest.mark.parametrize("op,kwargs,code,message", ERRORS, ids=[f"{e[0]}-{e[2]}-{i}" for i, e in enumerate(ERRORS)])
def test_errors(cw, op, kwargs, code, message):
    with aws_error(code, 400, message):
        getattr(cw, op)(**kwargs)


def test_missing_parameters(endpoint):
    # botocore checks required members itself; a plain form reaches sluice
    for fields, message in [
        ({"MetricData.member.1.MetricName": "m", "MetricData.member.1.Value": "1"},
         "The parameter Namespace is required."),
        ({"Namespace": "App", "MetricData.member.1.Value": "1"},
         "The parameter MetricData.member.1.MetricName is required."),
        ({"Namespace": "App", "MetricData.member.1.MetricName": "m",
          "MetricData.member.1.StatisticValues.SampleCount": "1", "MetricData.member.1.StatisticValues.Sum": "1",
          "MetricData.member.1.StatisticValues.Minimum": "1"},
         "The parameter MetricData.member.1.StatisticValues.Maximum is required."),
    ]:
        r = form_post(endpoint, {"Action": "PutMetricData", "Version": "2010-08-01", **fields})
        assert r.status == 400
        assert "<Type>Sender</Type><Code>MissingParameter</Code><Message>" + message + "</Message>" in r.text


def test_dashboards_are_not_supported(cw):
    with aws_error("UnsupportedOperation", 400,
                   "sluice does not support the CloudWatch operation ListDashboards: it serves the metric operations "
                   "(PutMetricData, GetMetricData, GetMetricStatistics, ListMetrics) and the metric alarm ones "
                   "(PutMetricAlarm, DescribeAlarms, DescribeAlarmsForMetric, DeleteAlarms, DescribeAlarmHistory, "
                   "SetAlarmState, EnableAlarmActions, DisableAlarmActions)."):
        cw.list_dashboards()


def form_post(endpoint, fields, headers=None, gzip_it=False):
    body = urllib.parse.urlencode(fields).encode()
    hdrs = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    if gzip_it:
        body = gzip.compress(body)
        hdrs["Content-Encoding"] = "gzip"
    hdrs.update(headers or {})
    return http_call(endpoint, "POST", "/", body=body, headers=hdrs)


def test_unknown_action_is_invalid_action(endpoint):
    r = form_post(endpoint, {"Action": "FlyToTheMoon", "Version": "2010-08-01"})
    assert r.status == 400
    assert "<Code>InvalidAction</Code>" in r.text
    assert "<Message>The action FlyToTheMoon is not valid for this endpoint.</Message>" in r.text
    assert 'xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"' in r.text


def test_gzip_body(endpoint, cw, ns):
    t = minute(2).strftime("%Y-%m-%dT%H:%M:%SZ")
    fields = {"Action": "PutMetricData", "Version": "2010-08-01", "Namespace": ns}
    for i in range(1, 401):  # about 40 KiB of form: over botocore's 10 KiB gzip threshold
        fields[f"MetricData.member.{i}.MetricName"] = "Zipped"
        fields[f"MetricData.member.{i}.Value"] = "2"
        fields[f"MetricData.member.{i}.Timestamp"] = t
        fields[f"MetricData.member.{i}.Dimensions.member.1.Name"] = "Padding"
        fields[f"MetricData.member.{i}.Dimensions.member.1.Value"] = "x" * 40
    assert len(urllib.parse.urlencode(fields)) > 10 * 1024
    r = form_post(endpoint, fields, gzip_it=True)
    assert r.status == 200, r
    _, points = stats(cw, ns, "Zipped", [{"Name": "Padding", "Value": "x" * 40}])
    assert [(p["Sum"], p["SampleCount"]) for p in points] == [(800.0, 400.0)]


def test_gzip_limits(endpoint):
    bomb = b"Action=ListMetrics&Version=2010-08-01&Namespace=" + b"a" * (5 * 1024 * 1024)
    r = http_call(endpoint, "POST", "/", body=gzip.compress(bomb), headers={
        "Content-Type": "application/x-www-form-urlencoded", "Content-Encoding": "gzip",
        "X-Amz-Target": "GraniteServiceVersion20100801.ListMetrics"})
    assert r.status == 413
    assert r.header("x-amzn-query-error") == "RequestEntityTooLarge;Sender"
    assert r.json() == {"__type": "com.amazon.coral.service#RequestEntityTooLarge",
                        "message": "The inflated request body exceeds 4194304 bytes."}
    r = http_call(endpoint, "POST", "/", body=b"\x1f\x8b\x08\x00garbage", headers={
        "Content-Type": "application/x-amz-json-1.0", "Content-Encoding": "gzip",
        "X-Amz-Target": "GraniteServiceVersion20100801.ListMetrics"})
    assert r.status == 400
    assert r.json() == {"__type": "com.amazon.coral.service#SerializationException",
                        "message": "The request body is not valid gzip data."}


def test_sqs_metrics_read_back(endpoint, cw, sqs, unique_name):
    name = unique_name("cwsqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    for body in ("a", "bb", "cccccc"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
    for m in got:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    metric = lambda n: {"Namespace": "AWS/SQS", "MetricName": n, "Dimensions": [{"Name": "QueueName", "Value": name}]}
    resp = cw.get_metric_data(MetricDataQueries=[
        {"Id": "sent", "MetricStat": {"Metric": metric("NumberOfMessagesSent"), "Period": 60, "Stat": "Sum"}},
        {"Id": "size", "MetricStat": {"Metric": metric("SentMessageSize"), "Period": 60, "Stat": "Maximum"}},
        {"Id": "deleted", "MetricStat": {"Metric": metric("NumberOfMessagesDeleted"), "Period": 60, "Stat": "Sum"}},
        {"Id": "received", "MetricStat": {"Metric": metric("NumberOfMessagesReceived"), "Period": 60,
                                          "Stat": "Sum"}},
    ], **window(5))
    totals = {r["Id"]: r["Values"] for r in resp["MetricDataResults"]}
    assert sum(totals["sent"]) == 3.0
    assert max(totals["size"]) == 6.0
    assert sum(totals["deleted"]) == float(len(got))
    assert len(got) == 3 and sum(totals["received"]) == 3.0
    listed = cw.list_metrics(Namespace="AWS/SQS", Dimensions=[{"Name": "QueueName", "Value": name}])["Metrics"]
    assert {"NumberOfMessagesSent", "SentMessageSize", "NumberOfMessagesDeleted"} <= {m["MetricName"] for m in listed}
    _, points = stats(cw, "AWS/SQS", "NumberOfMessagesSent", [{"Name": "QueueName", "Value": name}], minutes=5)
    assert sum(p["Sum"] for p in points) == 3.0 and points[0]["Unit"] == "Count"


def test_sqs_per_request_metrics_keep_every_value(endpoint, cw, sqs, unique_name):
    """The per-request SQS metrics (sends, their sizes, receives, empty
    receives, deletes) are staged by the second before they reach their
    minute: every value still counts once, with its own size, and the
    Prometheus page reads them too."""
    name = unique_name("cwstage")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sizes = [1, 2, 6, 6, 40, 300]
    for n in sizes:
        sqs.send_message(QueueUrl=url, MessageBody="x" * n)
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
    assert len(got) == len(sizes)
    for m in got[:4]:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    sqs.send_message(QueueUrl=url, MessageBody="y" * 9)
    got2 = sqs.receive_message(QueueUrl=url, VisibilityTimeout=30, WaitTimeSeconds=1)["Messages"]
    assert len(got2) == 1
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)
    dims = [{"Name": "QueueName", "Value": name}]
    _, size_points = stats(cw, "AWS/SQS", "SentMessageSize", dims, minutes=5)
    assert sum(p["SampleCount"] for p in size_points) == 7.0
    assert sum(p["Sum"] for p in size_points) == float(sum(sizes) + 9)
    assert min(p["Minimum"] for p in size_points) == 1.0
    assert max(p["Maximum"] for p in size_points) == 300.0
    _, p100 = stats(cw, "AWS/SQS", "SentMessageSize", dims, minutes=5, ExtendedStatistics=["p100"])
    assert max(p["ExtendedStatistics"]["p100"] for p in p100) == pytest.approx(300.0, rel=0.02)
    total = lambda metric: sum(p["Sum"] for p in stats(cw, "AWS/SQS", metric, dims, minutes=5)[1])
    assert total("NumberOfMessagesSent") == 7.0
    assert total("NumberOfMessagesReceived") == float(len(sizes) + len(got2))
    assert total("NumberOfMessagesDeleted") == 4.0
    assert total("NumberOfEmptyReceives") >= 1.0
    text = http_call(endpoint, "GET", "/_sluice/metrics").body.decode()
    assert f'sluice_sqs_messages_sent_total{{queue="{name}"}} 7' in text
    assert f'sluice_sqs_messages_deleted_total{{queue="{name}"}} 4' in text


def test_metrics_answer_per_region(tmp_path):
    """CloudWatch answers per region (the SigV4 credential scope's): two
    queues named alike in us-east-1 and eu-west-1 are two QueueName series,
    and no region dimension is added; a handler's PutMetricData is its
    region's too; the split survives a restart; the Prometheus page tells
    them apart with a region label."""
    from sluice_helpers import PrivateServer, sluice_binary

    def clients(endpoint, region):
        kw = dict(region_name=region, aws_access_key_id="test", aws_secret_access_key="test",
                  endpoint_url=endpoint, config=Config(retries={"max_attempts": 1}))
        return boto3.session.Session().client("sqs", **kw), boto3.session.Session().client("cloudwatch", **kw)

    def sent(cw, name):
        _, points = stats(cw, "AWS/SQS", "NumberOfMessagesSent", [{"Name": "QueueName", "Value": name}], minutes=5)
        return sum(p["Sum"] for p in points)

    server = PrivateServer(sluice_binary(), tmp_path / "s", config="region: us-east-1\n")
    try:
        sqs_us, cw_us = clients(server.endpoint, "us-east-1")
        sqs_eu, cw_eu = clients(server.endpoint, "eu-west-1")
        _, cw_ap = clients(server.endpoint, "ap-south-1")
        url_us = sqs_us.create_queue(QueueName="twin")["QueueUrl"]
        url_eu = sqs_eu.create_queue(QueueName="twin")["QueueUrl"]
        for i in range(2):
            sqs_us.send_message(QueueUrl=url_us, MessageBody=f"us{i}")
        for i in range(5):
            sqs_eu.send_message(QueueUrl=url_eu, MessageBody=f"eu{i}")
        assert sent(cw_us, "twin") == 2.0
        assert sent(cw_eu, "twin") == 5.0
        assert sent(cw_ap, "twin") == 0.0
        twin = [{"Name": "QueueName", "Value": "twin"}]
        for cw in (cw_us, cw_eu):
            listed = cw.list_metrics(Namespace="AWS/SQS", MetricName="NumberOfMessagesSent", Dimensions=twin)
            assert [m["Dimensions"] for m in listed["Metrics"]] == [twin]
        assert cw_ap.list_metrics(Namespace="AWS/SQS", Dimensions=twin)["Metrics"] == []
        cw_eu.put_metric_data(Namespace="App", MetricData=[{"MetricName": "Orders", "Value": 4}])
        assert cw_us.list_metrics(Namespace="App")["Metrics"] == []
        assert [m["MetricName"] for m in cw_eu.list_metrics(Namespace="App")["Metrics"]] == ["Orders"]
        page = http_call(server.endpoint, "GET", "/_sluice/metrics")
        assert page.status == 200
        text = page.text
        assert 'sluice_sqs_messages_sent_total{queue="twin"} 2' in text
        assert 'sluice_sqs_messages_sent_total{queue="twin",region="eu-west-1"} 5' in text
        # The dashboard shows each region's queue with its own totals.
        import json
        state = http_call(server.endpoint, "GET", "/_sluice/dashboard/state")
        assert state.status == 200
        twins = {q["arn"]: q["totals"]["sent"] for q in json.loads(state.body)["queues"] if q["name"] == "twin"}
        assert twins == {"arn:aws:sqs:us-east-1:000000000000:twin": 2, "arn:aws:sqs:eu-west-1:000000000000:twin": 5}
    finally:
        code, graceful = server.stop()
        assert graceful and code == 0
    server = PrivateServer(sluice_binary(), tmp_path / "s", config="region: us-east-1\n")
    try:
        _, cw_us = clients(server.endpoint, "us-east-1")
        _, cw_eu = clients(server.endpoint, "eu-west-1")
        assert sent(cw_us, "twin") == 2.0
        assert sent(cw_eu, "twin") == 5.0
        assert cw_us.list_metrics(Namespace="App")["Metrics"] == []
        assert [m["MetricName"] for m in cw_eu.list_metrics(Namespace="App")["Metrics"]] == ["Orders"]
    finally:
        code, graceful = server.stop()
        assert graceful and code == 0


def test_event_source_mapping_event_count_metrics(tmp_path):
    """An SQS mapping with `metrics: [EventCount]` (MetricsConfig) publishes
    AWS/Lambda PolledEventCount, FilteredOutEventCount, InvokedEventCount,
    FailedInvokeEventCount and DeletedEventCount by EventSourceMappingUUID;
    a mapping without it publishes none; GetEventSourceMapping shows the
    MetricsConfig."""
    import json
    import shutil

    from sluice_helpers import E2E_DIR, PrivateServer, make_lambda_client, sluice_binary, wait_until

    code = tmp_path / "code"
    code.mkdir()
    shutil.copy(E2E_DIR / "handlers" / "traces_app.py", code / "traces_app.py")
    config = f"""
region: us-east-1
runtimes:
  python: /usr/bin/python3
queues:
  esm-in:
    visibility_timeout: 60
  esm-plain: {{}}
functions:
  esm-work:
    runtime: python3.12
    handler: traces_app.handler
    code: {code}
    timeout: 5
    events:
      - sqs:
          queue: esm-in
          batch_size: 10
          maximum_batching_window: 1
          report_batch_item_failures: true
          metrics: [EventCount]
          filter_patterns:
            - body:
                mode: [ok, fail]
      - sqs:
          queue: esm-plain
"""
    server = PrivateServer(sluice_binary(), tmp_path / "s", config=config)
    try:
        cw = boto3.session.Session().client(
            "cloudwatch", region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test",
            endpoint_url=server.endpoint, config=Config(retries={"max_attempts": 1}))
        lam = make_lambda_client(server.endpoint)
        mappings = lam.list_event_source_mappings(FunctionName="esm-work")["EventSourceMappings"]
        by_queue = {m["EventSourceArn"].rsplit(":", 1)[1]: m for m in mappings}
        uuid_in, uuid_plain = by_queue["esm-in"]["UUID"], by_queue["esm-plain"]["UUID"]
        # Debian's botocore predates MetricsConfig (it drops the member): read the REST answer itself.
        def mapping(uuid):
            ans = http_call(server.endpoint, "GET", f"/2015-03-31/event-source-mappings/{uuid}")
            assert ans.status == 200, ans
            return json.loads(ans.body)

        assert mapping(uuid_in)["MetricsConfig"] == {"Metrics": ["EventCount"]}
        assert "MetricsConfig" not in mapping(uuid_plain)
        url = server.sqs.get_queue_url(QueueName="esm-in")["QueueUrl"]
        for mode in ("ok", "ok", "fail", "skip"):
            server.sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"mode": mode}))
        plain = server.sqs.get_queue_url(QueueName="esm-plain")["QueueUrl"]
        server.sqs.send_message(QueueUrl=plain, MessageBody=json.dumps({"mode": "ok"}))

        def totals(uuid):
            out = {}
            for name in ("PolledEventCount", "FilteredOutEventCount", "InvokedEventCount",
                         "FailedInvokeEventCount", "DeletedEventCount"):
                _, points = stats(cw, "AWS/Lambda", name, [{"Name": "EventSourceMappingUUID", "Value": uuid}],
                                  minutes=5, Statistics=["Sum"])
                assert all(p["Unit"] == "Count" for p in points)
                out[name] = sum(p["Sum"] for p in points)
            return out

        want = {"PolledEventCount": 4, "FilteredOutEventCount": 1, "InvokedEventCount": 3,
                "FailedInvokeEventCount": 1, "DeletedEventCount": 2}
        got = wait_until(lambda: (lambda t: t if t == want else None)(totals(uuid_in)), timeout=20, interval=0.5)
        assert got == want, totals(uuid_in)
        wait_until(lambda: server.sqs.get_queue_attributes(QueueUrl=plain, AttributeNames=["All"])["Attributes"][
            "ApproximateNumberOfMessages"] == "0", timeout=10)
        listed = cw.list_metrics(Namespace="AWS/Lambda", Dimensions=[{"Name": "EventSourceMappingUUID"}])["Metrics"]
        assert {d["Value"] for m in listed for d in m["Dimensions"]} == {uuid_in}
        assert {m["MetricName"] for m in listed} == set(want)
    finally:
        code_, graceful = server.stop()
        assert graceful and code_ == 0


def test_dead_letter_errors_and_destination_delivery_failures(tmp_path):
    """AWS/Lambda DeadLetterErrors counts the failed Event invocations whose
    event the function's dead-letter queue could not take, and
    DestinationDeliveryFailures the invocation records its on_failure queue
    could not take: 0 while the queues take them, 1 each once they are gone
    (read back through boto3's CloudWatch)."""
    import json
    import shutil

    from sluice_helpers import E2E_DIR, PrivateServer, make_lambda_client, sluice_binary, wait_until

    code = tmp_path / "code"
    code.mkdir()
    shutil.copy(E2E_DIR / "handlers" / "traces_app.py", code / "traces_app.py")
    config = f"""
region: us-east-1
runtimes:
  python: /usr/bin/python3
queues:
  dl-q: {{}}
  fail-q: {{}}
functions:
  dl-fn:
    runtime: python3.12
    handler: traces_app.handler
    code: {code}
    maximum_retry_attempts: 0
    on_failure: fail-q
    dead_letter_queue: dl-q
"""
    server = PrivateServer(sluice_binary(), tmp_path / "s", config=config)
    try:
        cw = boto3.session.Session().client(
            "cloudwatch", region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test",
            endpoint_url=server.endpoint, config=Config(retries={"max_attempts": 1}))
        lam = make_lambda_client(server.endpoint)
        payload = json.dumps({"Records": [{"messageId": "m1", "body": json.dumps({"mode": "error"})}]}).encode()
        dims = [{"Name": "FunctionName", "Value": "dl-fn"}]

        def metric(name):
            _, points = stats(cw, "AWS/Lambda", name, dims, minutes=5, Statistics=["Sum", "SampleCount"])
            return sum(p["Sum"] for p in points), sum(p["SampleCount"] for p in points)

        assert lam.invoke(FunctionName="dl-fn", InvocationType="Event", Payload=payload)["StatusCode"] == 202
        assert wait_until(lambda: metric("DeadLetterErrors") == (0.0, 1.0), timeout=20), metric("DeadLetterErrors")
        assert wait_until(lambda: metric("DestinationDeliveryFailures") == (0.0, 1.0), timeout=20)
        url = server.sqs.get_queue_url(QueueName="dl-q")["QueueUrl"]
        got = server.sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
        assert got[0]["Body"] == payload.decode()
        # Both queues gone: the next failed event is neither dead-lettered nor recorded.
        server.sqs.delete_queue(QueueUrl=url)
        server.sqs.delete_queue(QueueUrl=server.sqs.get_queue_url(QueueName="fail-q")["QueueUrl"])
        assert lam.invoke(FunctionName="dl-fn", InvocationType="Event", Payload=payload)["StatusCode"] == 202
        assert wait_until(lambda: metric("DeadLetterErrors") == (1.0, 2.0), timeout=20), metric("DeadLetterErrors")
        assert wait_until(lambda: metric("DestinationDeliveryFailures") == (1.0, 2.0), timeout=20), \
            metric("DestinationDeliveryFailures")
    finally:
        code_, graceful = server.stop()
        assert graceful and code_ == 0
