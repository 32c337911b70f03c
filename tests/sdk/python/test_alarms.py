"""CloudWatch metric alarms over the query protocol with Debian's boto3
(botocore 1.29): PutMetricAlarm / DescribeAlarms / DescribeAlarmsForMetric /
DeleteAlarms / SetAlarmState / DescribeAlarmHistory / Enable- and
DisableAlarmActions with AWS's shapes and errors, and one end-to-end run: a
config alarm on a queue's visible messages goes to ALARM after sends (the
emulated clock moved on), runs its command with the SNS-style JSON on stdin,
goes back to OK after the messages are deleted, and keeps all of it across
a restart."""
import json
from datetime import datetime, timezone
import re
import time
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from sluice_helpers import REGION, PrivateServer, SluiceProcess, aws_error, sluice_binary


def cw_client(endpoint):
    return boto3.session.Session().client(
        "cloudwatch", region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test",
        endpoint_url=endpoint, config=Config(retries={"max_attempts": 1}))


@pytest.fixture(scope="module")
def cw(endpoint):
    return cw_client(endpoint)


@pytest.fixture
def name():
    return f"alarm-{uuid.uuid4().hex[:12]}"


def put(cw, name, **kw):
    args = dict(AlarmName=name, Namespace="Test/Alarms", MetricName="Depth", Statistic="Maximum", Period=60,
                EvaluationPeriods=1, Threshold=10.0, ComparisonOperator="GreaterThanThreshold")
    args.update(kw)
    cw.put_metric_alarm(**args)


def admin(endpoint):
    with urllib.request.urlopen(endpoint + "/_sluice/alarms", timeout=10) as resp:
        assert resp.status == 200
        return json.loads(resp.read())


def test_put_then_describe_has_every_field(cw, name):
    put(cw, name, AlarmDescription="depth over 10", Dimensions=[{"Name": "QueueName", "Value": "q"}],
        DatapointsToAlarm=1, TreatMissingData="notBreaching", Unit="Count",
        AlarmActions=["arn:aws:sns:us-east-1:000000000000:t"])
    alarms = cw.describe_alarms(AlarmNames=[name])
    assert alarms["CompositeAlarms"] == []
    (a,) = alarms["MetricAlarms"]
    assert a["AlarmName"] == name
    assert a["AlarmArn"] == f"arn:aws:cloudwatch:{REGION}:000000000000:alarm:{name}"
    assert a["AlarmDescription"] == "depth over 10"
    assert a["StateValue"] == "INSUFFICIENT_DATA"
    assert a["StateReason"] == "Unchecked: Initial alarm creation"
    assert a["ActionsEnabled"] is True
    assert a["AlarmActions"] == ["arn:aws:sns:us-east-1:000000000000:t"]
    assert a["OKActions"] == [] and a["InsufficientDataActions"] == []
    assert (a["Namespace"], a["MetricName"], a["Statistic"], a["Period"]) == ("Test/Alarms", "Depth", "Maximum", 60)
    assert a["Dimensions"] == [{"Name": "QueueName", "Value": "q"}]
    assert (a["EvaluationPeriods"], a["DatapointsToAlarm"], a["Threshold"]) == (1, 1, 10.0)
    assert a["ComparisonOperator"] == "GreaterThanThreshold"
    assert a["TreatMissingData"] == "notBreaching"
    assert a["Unit"] == "Count"
    assert a["StateUpdatedTimestamp"].year >= 2024
    assert a["AlarmConfigurationUpdatedTimestamp"].year >= 2024


def test_describe_filters_and_pages(cw, name):
    for i in range(3):
        put(cw, f"{name}-{i}")
    got = cw.describe_alarms(AlarmNamePrefix=name, MaxRecords=2)
    assert [a["AlarmName"] for a in got["MetricAlarms"]] == [f"{name}-0", f"{name}-1"]
    rest = cw.describe_alarms(AlarmNamePrefix=name, MaxRecords=2, NextToken=got["NextToken"])
    assert [a["AlarmName"] for a in rest["MetricAlarms"]] == [f"{name}-2"]
    assert "NextToken" not in rest
    assert cw.describe_alarms(AlarmNamePrefix=name, StateValue="ALARM")["MetricAlarms"] == []
    assert len(cw.describe_alarms(AlarmNamePrefix=name, StateValue="INSUFFICIENT_DATA")["MetricAlarms"]) == 3
    assert cw.describe_alarms(AlarmNamePrefix=name, AlarmTypes=["CompositeAlarm"])["MetricAlarms"] == []


def test_extended_statistic_and_for_metric(cw, name):
    cw.put_metric_alarm(AlarmName=name, Namespace="Test/ForMetric", MetricName=name, ExtendedStatistic="p99",
                        Period=60, EvaluationPeriods=2, Threshold=500, ComparisonOperator="GreaterThanThreshold",
                        Dimensions=[{"Name": "Route", "Value": "POST /orders"}])
    got = cw.describe_alarms_for_metric(Namespace="Test/ForMetric", MetricName=name,
                                        Dimensions=[{"Name": "Route", "Value": "POST /orders"}])
    (a,) = got["MetricAlarms"]
    assert a["ExtendedStatistic"] == "p99" and "Statistic" not in a
    assert cw.describe_alarms_for_metric(Namespace="Test/ForMetric", MetricName=name,
                                         Dimensions=[])["MetricAlarms"] == []
    assert cw.describe_alarms_for_metric(Namespace="Test/ForMetric", MetricName=name, Statistic="Sum",
                                         Dimensions=[{"Name": "Route", "Value": "POST /orders"}])["MetricAlarms"] == []


def test_put_again_replaces_and_keeps_state(cw, name):
    put(cw, name)
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="testing")
    put(cw, name, Threshold=99.0)
    (a,) = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert a["Threshold"] == 99.0
    assert a["StateValue"] == "ALARM"
    assert a["StateReason"] == "testing"


def test_set_alarm_state_history_and_admin(cw, endpoint, name):
    put(cw, name)
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="manual",
                       StateReasonData='{"why": "test"}')
    cw.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="back")
    items = cw.describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate")["AlarmHistoryItems"]
    assert [i["HistorySummary"] for i in items] == ["Alarm updated from ALARM to OK",
                                                    "Alarm updated from INSUFFICIENT_DATA to ALARM"]
    assert all(i["AlarmName"] == name and i["AlarmType"] == "MetricAlarm" for i in items)
    data = json.loads(items[1]["HistoryData"])
    assert data["version"] == "1.0"
    assert data["oldState"] == {"stateValue": "INSUFFICIENT_DATA",
                                "stateReason": "Unchecked: Initial alarm creation"}
    assert data["newState"] == {"stateValue": "ALARM", "stateReason": "manual", "stateReasonData": {"why": "test"}}
    everything = cw.describe_alarm_history(AlarmName=name)["AlarmHistoryItems"]
    assert [i["HistoryItemType"] for i in everything] == ["StateUpdate", "StateUpdate", "ConfigurationUpdate"]
    created = everything[-1]
    assert created["HistorySummary"] == f'Alarm "{name}" created'
    cdata = json.loads(created["HistoryData"])
    assert cdata["type"] == "Create" and cdata["createdAlarm"]["alarmName"] == name
    assert cdata["createdAlarm"]["metricName"] == "Depth"
    oldest_first = cw.describe_alarm_history(AlarmName=name, ScanBy="TimestampAscending")["AlarmHistoryItems"]
    assert [i["HistoryItemType"] for i in oldest_first] == ["ConfigurationUpdate", "StateUpdate", "StateUpdate"]
    assert cw.describe_alarm_history(AlarmName=name, AlarmTypes=["CompositeAlarm"])["AlarmHistoryItems"] == []
    assert len(cw.describe_alarm_history(AlarmName=name, AlarmTypes=["MetricAlarm"])["AlarmHistoryItems"]) == 3
    page = cw.describe_alarm_history(AlarmName=name, MaxRecords=1)
    assert len(page["AlarmHistoryItems"]) == 1 and page["NextToken"]
    doc = admin(endpoint)
    (mine,) = [a for a in doc["alarms"] if a["name"] == name]
    assert mine == {"name": name, "state": "OK", "reason": "back", "namespace": "Test/Alarms", "metric": "Depth",
                    "dimensions": [], "statistic": "Maximum", "period": 60, "threshold": 10,
                    "comparison": "GreaterThanThreshold", "updated": mine["updated"]}
    changes = [h for h in doc["history"] if h["name"] == name]
    assert [(h["old"], h["new"], h["reason"]) for h in changes] == [("ALARM", "OK", "back"),
                                                                   ("INSUFFICIENT_DATA", "ALARM", "manual")]
    iso = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    assert re.fullmatch(iso, mine["updated"]) and all(re.fullmatch(iso, h["time"]) for h in changes)
    assert changes[0]["time"] >= changes[1]["time"]


def test_delete_keeps_history(cw, name):
    put(cw, name)
    cw.delete_alarms(AlarmNames=[name, f"{name}-never-made"])
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"] == []
    items = cw.describe_alarm_history(AlarmName=name)["AlarmHistoryItems"]
    assert [i["HistorySummary"] for i in items] == [f'Alarm "{name}" deleted', f'Alarm "{name}" created']


def test_enable_disable_actions(cw, name):
    put(cw, name)
    cw.disable_alarm_actions(AlarmNames=[name])
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["ActionsEnabled"] is False
    cw.enable_alarm_actions(AlarmNames=[name])
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["ActionsEnabled"] is True


def test_errors(cw, name):
    with aws_error("ResourceNotFound", 404):  # AWS's message is empty
        cw.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="x")
    put(cw, name)
    with aws_error("InvalidFormat", 400, message="Invalid JSON in the parameter StateReasonData."):
        cw.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="x", StateReasonData="{not json")
    with aws_error("ValidationError", 400, message_contains="Value 'SOON' at 'stateValue' failed to satisfy "
                                                            "constraint: Member must satisfy enum value set"):
        cw.set_alarm_state(AlarmName=name, StateValue="SOON", StateReason="x")
    with aws_error("ValidationError", 400,
                   message="Metrics cannot be checked across more than a day (EvaluationPeriods * Period must be "
                           "<= 86400)."):
        put(cw, name, Period=60, EvaluationPeriods=1441)
    with aws_error("ValidationError", 400, message="DatapointsToAlarm must be less than or equal to "
                                                   "EvaluationPeriods."):
        put(cw, name, EvaluationPeriods=2, DatapointsToAlarm=3)
    with aws_error("InvalidParameterValue", 400, message="The parameter Period must be 10, 20, 30 or a multiple "
                                                         "of 60."):
        put(cw, name, Period=45)
    with aws_error("InvalidParameterCombination", 400):
        put(cw, name, ExtendedStatistic="p99")
    with aws_error("ValidationError", 400, message_contains="at 'comparisonOperator' failed to satisfy constraint"):
        put(cw, name, ComparisonOperator="Bigger")
    with aws_error("ValidationError", 400, message_contains="at 'treatMissingData'"):
        put(cw, name, TreatMissingData="sometimes")
    with aws_error("ValidationError", 400,
                   message=f"1 validation error detected: Value '{'a' * 256}' at 'alarmName' failed to satisfy "
                           "constraint: Member must have length less than or equal to 255"):
        put(cw, "a" * 256)
    with aws_error("InvalidParameterValue", 400, message_contains="Metric math alarms are not supported"):
        cw.put_metric_alarm(AlarmName=name, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
                            Metrics=[{"Id": "m1", "Expression": "SUM(METRICS())"}])
    with aws_error("InvalidNextToken", 400):
        cw.describe_alarms(NextToken="nope")
    with aws_error("ValidationError", 400, message_contains="at 'maxRecords'"):
        cw.describe_alarms(MaxRecords=101)


# ---- end to end -------------------------------------------------------

def sampled(server, cw, queue, visible, timeout=20):
    """Waits until the queue's gauges have been sampled in the current
    (emulated) minute, and the latest sample saw `visible` messages. A fixed
    sleep was not enough on a loaded machine: a period with no sample is
    missing data, which notBreaching reads as OK."""
    deadline = time.time() + timeout
    while True:
        start = server.clock.now_ms() // 60000 * 60
        pts = cw.get_metric_statistics(
            Namespace="AWS/SQS", MetricName="ApproximateNumberOfMessagesVisible",
            Dimensions=[{"Name": "QueueName", "Value": queue}],
            StartTime=datetime.fromtimestamp(start, timezone.utc),
            EndTime=datetime.fromtimestamp(start + 60, timezone.utc),
            Period=60, Statistics=["SampleCount"])["Datapoints"]
        line = f'sluice_sqs_messages_visible{{queue="{queue}"}} '
        page = urllib.request.urlopen(server.endpoint + "/_sluice/metrics", timeout=10).read().decode()
        now = [float(x[len(line):]) for x in page.splitlines() if x.startswith(line)]
        if pts and pts[0]["SampleCount"] > 0 and now == [visible]:
            return
        if time.time() > deadline:
            pytest.fail(f"no sample of {queue} at {visible} in this minute: {pts} {now}")
        time.sleep(0.2)


def wait_state(server, cw, alarm, want, visible, tries=6):
    """Moves the clock a period at a time (once the queue's gauges have been
    sampled in the period, at `visible` messages) until alarm is in state want."""
    for _ in range(tries):
        sampled(server, cw, "jobs", visible)
        server.clock.advance(60)
        (a,) = cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"]
        if a["StateValue"] == want:
            return a
    pytest.fail(f"{alarm} never reached {want}: {a['StateValue']} ({a['StateReason']})")


@pytest.mark.timeout(120)
def test_queue_alarm_end_to_end(tmp_path):
    out = tmp_path / "srv" / "out"  # the command runs in the config file's folder: a relative path
    out.mkdir(parents=True)
    config = f"""
queues:
  jobs: {{}}
alarms:
  jobs-backlog:
    namespace: AWS/SQS
    metric_name: ApproximateNumberOfMessagesVisible
    dimensions: {{QueueName: jobs}}
    statistic: Maximum
    period: 60
    evaluation_periods: 1
    threshold: 3
    comparison_operator: GreaterThanThreshold
    treat_missing_data: notBreaching
    description: more than 3 jobs waiting
    command: cat > out/$SLUICE_ALARM_STATE.json
"""
    # sluice also evaluates the alarm when its clock crosses a minute on its
    # own. The test moves the clock a whole minute at a time, so such a
    # crossing is a real minute boundary: one during the test re-evaluates
    # the alarm out of step (before the first check: OK, not
    # INSUFFICIENT_DATA; after the restart, whose clock is minutes behind the
    # first run's: a fourth state change from an old period). The test takes
    # a few seconds; it starts in the first half of a minute.
    into_minute = time.time() % 60
    if into_minute > 30:
        time.sleep(60.5 - into_minute)
    server = PrivateServer(sluice_binary(), tmp_path / "srv", config=config)
    try:
        cw = cw_client(server.endpoint)
        sqs = server.sqs
        url = sqs.get_queue_url(QueueName="jobs")["QueueUrl"]
        (a,) = cw.describe_alarms(AlarmNames=["jobs-backlog"])["MetricAlarms"]
        assert a["StateValue"] == "INSUFFICIENT_DATA"
        wait_state(server, cw, "jobs-backlog", "OK", 0)
        for i in range(5):
            sqs.send_message(QueueUrl=url, MessageBody=f"job {i}")
        a = wait_state(server, cw, "jobs-backlog", "ALARM", 5)
        assert a["StateReason"].startswith("Threshold Crossed: 1 datapoint [5.0 (")
        assert a["StateReason"].endswith(")] was greater than the threshold (3.0).")
        reason_data = json.loads(a["StateReasonData"])
        assert reason_data["statistic"] == "Maximum" and reason_data["period"] == 60
        assert reason_data["recentDatapoints"] == [5.0] and reason_data["threshold"] == 3.0

        note = out / "ALARM.json"
        deadline = time.time() + 10
        while time.time() < deadline and not (note.exists() and note.stat().st_size):
            time.sleep(0.1)
        msg = json.loads(note.read_text())
        assert msg["AlarmName"] == "jobs-backlog"
        assert msg["AlarmDescription"] == "more than 3 jobs waiting"
        assert msg["NewStateValue"] == "ALARM" and msg["OldStateValue"] == "OK"
        assert msg["NewStateReason"] == a["StateReason"]
        assert msg["Region"] == "US East (N. Virginia)"
        assert msg["AlarmArn"] == "arn:aws:cloudwatch:us-east-1:000000000000:alarm:jobs-backlog"
        assert msg["Trigger"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert msg["Trigger"]["Namespace"] == "AWS/SQS"
        assert msg["Trigger"]["Statistic"] == "MAXIMUM" and msg["Trigger"]["StatisticType"] == "Statistic"
        assert msg["Trigger"]["Dimensions"] == [{"value": "jobs", "name": "QueueName"}]
        assert msg["Trigger"]["Threshold"] == 3 and msg["Trigger"]["ComparisonOperator"] == "GreaterThanThreshold"
        assert msg["StateChangeTime"].endswith("+0000")

        while True:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                break
            for m in got:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        a = wait_state(server, cw, "jobs-backlog", "OK", 0)
        assert a["StateReason"].startswith("Threshold Crossed: 1 datapoint [0.0 (")
        assert a["StateReason"].endswith(")] was not greater than the threshold (3.0).")

        items = cw.describe_alarm_history(AlarmName="jobs-backlog", HistoryItemType="StateUpdate")
        summaries = [i["HistorySummary"] for i in items["AlarmHistoryItems"]]
        assert summaries == ["Alarm updated from ALARM to OK", "Alarm updated from OK to ALARM",
                             "Alarm updated from INSUFFICIENT_DATA to OK"]
        doc = admin(server.endpoint)
        assert [(h["old"], h["new"]) for h in doc["history"]] == [("ALARM", "OK"), ("OK", "ALARM"),
                                                                   ("INSUFFICIENT_DATA", "OK")]
        log = Path(server.process.log_path).read_text()
        assert 'msg="alarm state changed" alarm="jobs-backlog" old=OK new=ALARM namespace="AWS/SQS" ' \
               'metric="ApproximateNumberOfMessagesVisible" value=5.0 threshold=3.0 reason="Threshold Crossed' in log
    finally:
        server.stop()

    # a restart keeps the alarm, its state and its history
    again = SluiceProcess(sluice_binary(), tmp_path / "srv" / "data", tmp_path / "srv" / "sluice2.log",
                          config_path=tmp_path / "srv" / "sluice.yaml")
    try:
        cw = cw_client(again.endpoint)
        (a,) = cw.describe_alarms(AlarmNames=["jobs-backlog"])["MetricAlarms"]
        assert a["StateValue"] == "OK"
        items = cw.describe_alarm_history(AlarmName="jobs-backlog", HistoryItemType="StateUpdate")
        assert len(items["AlarmHistoryItems"]) == 3
        assert [h["new"] for h in admin(again.endpoint)["history"]] == ["OK", "ALARM", "OK"]
        configs = cw.describe_alarm_history(AlarmName="jobs-backlog", HistoryItemType="ConfigurationUpdate")
        assert len(configs["AlarmHistoryItems"]) == 1  # the same config again is no update
    finally:
        again.stop()


@pytest.mark.timeout(60)
def test_failing_command_is_logged_once(tmp_path):
    config = """
alarms:
  broken:
    namespace: Test/Broken
    metric_name: Nothing
    statistic: Sum
    threshold: 1
    comparison_operator: ">="
    treat_missing_data: breaching
    command: exit 3
"""
    server = PrivateServer(sluice_binary(), tmp_path / "srv", config=config)
    try:
        cw = cw_client(server.endpoint)
        server.clock.advance(60)
        (a,) = cw.describe_alarms(AlarmNames=["broken"])["MetricAlarms"]
        assert a["StateValue"] == "ALARM"
        assert a["StateReason"] == ("Threshold Crossed: no datapoints were received for 1 period and 1 missing "
                                    "datapoint was treated as [Breaching].")
        deadline = time.time() + 10
        log = ""
        while time.time() < deadline and "alarm command failed" not in log:
            time.sleep(0.1)
            log = Path(server.process.log_path).read_text()
        assert log.count("alarm command failed") == 1
        assert 'alarm="broken"' in log and "exit_code=3" in log
    finally:
        server.stop()


def validate(path):
    import subprocess
    r = subprocess.run([str(sluice_binary()), "validate", "--config", str(path)], capture_output=True, text=True,
                       timeout=20)
    assert r.returncode != 0
    return r.stderr.strip().splitlines()


def test_config_alarm_errors_name_file_line_column(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("""alarms:
  bad-op:
    namespace: AWS/SQS
    metric_name: X
    statistic: Median
    threshold: ten
    comparison_operator: bigger
  incomplete:
    namespace: AWS/SQS
""")
    lines = validate(cfg)
    assert f"{cfg}:5:16: statistic must be SampleCount, Average, Sum, Minimum, Maximum or a percentile p0-p100 " \
           "(p99, p99.9), got 'Median'" in lines
    assert any(line.startswith(f"{cfg}:6:16: threshold: expected a number") for line in lines)
    assert any(line.startswith(f"{cfg}:7:26: comparison_operator must be") for line in lines)
    assert f"{cfg}:8:3: an alarm requires metric_name" in lines


def test_config_alarm_aws_rules_name_file_line_column(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("""alarms:
  too-long:
    namespace: AWS/SQS
    metric_name: ApproximateAgeOfOldestMessage
    statistic: Maximum
    period: 60
    evaluation_periods: 1441
    threshold: 60
    comparison_operator: GreaterThanThreshold
""")
    assert validate(cfg) == [f"{cfg}:2:3: alarm 'too-long': Metrics cannot be checked across more than a day "
                             "(EvaluationPeriods * Period must be <= 86400)."]
