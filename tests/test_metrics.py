"""
Tests for the metrics (L{mesos_tw.master.metrics}, L{mesos_tw.slave.metrics},
L{mesos_tw.web.prometheus}): Mesos's documented names that apply are all
there, the counts follow what happens, and C{/metrics/prometheus} is read
by the C{prometheus_client} package's own parser.
"""

from treq.testing import StubTreq
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from mesos_tw.master.election import SoleMaster
from mesos_tw.master.http import MasterHTTP
from mesos_tw.master.metrics import metrics_snapshot
from mesos_tw.metrics import Timer
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.slave.http import SlaveHTTP
from mesos_tw.slave.metrics import metrics_snapshot as slave_metrics
from mesos_tw.testing.master import MASTER, MasterTestCase
from mesos_tw.testing.slave import SlaveTestCase
from mesos_tw.web.prometheus import prometheus_name, prometheus_text

#: Mesos 1.x's documented master metrics (docs/monitoring.md) that
#: mesos_tw serves; docs/operations.md lists the others and why not.
MASTER_NAMES = """
uptime_secs elected slaves_connected slaves_disconnected slaves_active slaves_inactive
frameworks_connected frameworks_disconnected frameworks_active frameworks_inactive
outstanding_offers tasks_error tasks_failed tasks_finished tasks_killed tasks_lost
tasks_running tasks_staging tasks_starting dropped_messages
messages_deactivate_framework messages_decline_offers messages_executor_to_framework
messages_exited_executor messages_framework_to_executor messages_kill_task
messages_launch_tasks messages_reconcile_tasks messages_register_framework
messages_register_slave messages_reregister_framework messages_reregister_slave
messages_resource_request messages_revive_offers messages_status_update
messages_unregister_framework messages_unregister_slave
valid_framework_to_executor_messages invalid_framework_to_executor_messages
valid_executor_to_framework_messages invalid_executor_to_framework_messages
valid_status_updates invalid_status_updates slave_registrations slave_reregistrations
slave_removals slave_removals/reason_unhealthy slave_removals/reason_unregistered
slave_unreachable_scheduled slave_unreachable_completed slaves_unreachable
operator_event_stream_subscribers
cpus_percent cpus_used cpus_total cpus_revocable_percent cpus_revocable_total
cpus_revocable_used mem_percent mem_used mem_total mem_revocable_percent mem_revocable_total
mem_revocable_used disk_percent disk_used disk_total disk_revocable_percent
disk_revocable_total disk_revocable_used gpus_percent gpus_used gpus_total
gpus_revocable_percent gpus_revocable_total gpus_revocable_used
""".split()

#: Mesos's documented slave metrics that mesos_tw serves.
SLAVE_NAMES = """
uptime_secs registered frameworks_active executors_registering executors_running
executors_terminating tasks_failed tasks_finished tasks_killed tasks_lost tasks_running
tasks_staging tasks_starting valid_status_updates invalid_status_updates
cpus_percent cpus_used cpus_total cpus_revocable_percent cpus_revocable_total
cpus_revocable_used mem_percent mem_used mem_total mem_revocable_percent mem_revocable_total
mem_revocable_used disk_percent disk_used disk_total disk_revocable_percent
disk_revocable_total disk_revocable_used gpus_percent gpus_used gpus_total
gpus_revocable_percent gpus_revocable_total gpus_revocable_used
""".split()

SYSTEM_NAMES = ["system/cpus_total", "system/load_1min", "system/load_5min",
                "system/load_15min", "system/mem_total_bytes", "system/mem_free_bytes"]

ALLOCATOR_NAMES = ["allocator/mesos/allocation_runs", "allocator/mesos/allocation_run_ms",
                   "allocator/mesos/allocation_run_ms/p99",
                   "allocator/mesos/allocation_run_latency_ms/count",
                   "allocator/mesos/resources/cpus/total",
                   "allocator/mesos/resources/mem/offered_or_allocated"]


def parse(text):
    """
    C{{name: value}} of the samples in a Prometheus text exposition, read
    with C{prometheus_client}'s parser.
    """
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        raise SkipTest("prometheus_client is not installed (pip install '.[test]')") from None
    return {sample.name: sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples}


class MasterMetricsTests(MasterTestCase):
    """
    The master's snapshot.
    """

    def test_documented_names(self):
        """
        Every documented master, allocator and system name that applies is
        in the snapshot, a number.
        """
        self.running_task(state=None)
        metrics = metrics_snapshot(self.master)
        wanted = [f"master/{name}" for name in MASTER_NAMES] + ALLOCATOR_NAMES + SYSTEM_NAMES
        self.assertEqual([name for name in wanted if name not in metrics], [])
        self.assertTrue(all(isinstance(metrics[name], (int, float)) for name in wanted))

    def test_slaves_connected_and_active(self):
        """
        A slave whose connection closed is disconnected and inactive; one
        deactivated is connected and inactive.
        """
        first, first_id = self.add_slave()
        self.add_slave(name="slave(2)", port=5052)
        self.network.crash(first.upid)
        self.turn()
        metrics = metrics_snapshot(self.master)
        self.assertEqual([metrics[f"master/slaves_{kind}"] for kind in
                          ("connected", "disconnected", "active", "inactive")], [1, 1, 1, 1])

    def test_counts(self):
        """
        Registrations, removals by reason, offers per framework, tasks lost
        by source and reason, and framework messages are counted.
        """
        slave, slave_id, scheduler, framework_id = self.running_task(state=None)
        scheduler.send(MASTER, internal.FrameworkToExecutorMessage(
            slave_id=mesos_pb2.SlaveID(value=slave_id),
            framework_id=mesos_pb2.FrameworkID(value=framework_id),
            executor_id=mesos_pb2.ExecutorID(value="t1"), data=b"x"))
        slave.send(MASTER, internal.UnregisterSlaveMessage(
            slave_id=mesos_pb2.SlaveID(value=slave_id)))
        self.turn()
        metrics = metrics_snapshot(self.master)
        prefix = f"master/frameworks/scheduler-1/{framework_id}"
        self.assertEqual(
            [metrics[name] for name in (
                "master/slave_registrations", "master/slave_removals",
                "master/slave_removals/reason_unregistered",
                "master/task_lost/source_master/reason_slave_removed",
                "master/valid_framework_to_executor_messages", f"{prefix}/offers/sent",
                f"{prefix}/offers/accepted", f"{prefix}/tasks/terminal/TASK_LOST",
                f"{prefix}/subscribed")],
            [1, 1, 1, 1, 1, 1, 1, 1, 1])

    def test_prometheus(self):
        """
        C{/metrics/prometheus} parses with prometheus_client: the names
        mapped as the Mesos exporter maps them, the values the snapshot's.
        """
        self.running_task(state=None)
        http = StubTreq(MasterHTTP(SoleMaster(self.master)).resource())
        response = self.successResultOf(http.get("http://master/metrics/prometheus"))
        self.assertEqual(response.headers.getRawHeaders("content-type"),
                         ["text/plain; version=0.0.4; charset=utf-8"])
        samples = parse(self.successResultOf(response.content()).decode())
        self.assertEqual((samples["mesos_master_elected"], samples["mesos_master_tasks_staging"],
                          samples["mesos_allocator_mesos_resources_cpus_total"]),
                         (1.0, 1.0, 2.0))
        self.assertIn("mesos_allocator_mesos_roles___shares_dominant", samples)


class SlaveMetricsTests(SlaveTestCase):
    """
    The slave's snapshot.
    """

    def test_documented_names(self):
        """
        Every documented slave name that applies is there; a task sent to
        an executor that has not registered is staging, the executor
        registering.
        """
        self.register()
        self.run_task("t1")
        metrics = slave_metrics(self.slave)
        wanted = [f"slave/{name}" for name in SLAVE_NAMES] + SYSTEM_NAMES
        self.assertEqual([name for name in wanted if name not in metrics], [])
        self.assertEqual((metrics["slave/tasks_staging"], metrics["slave/executors_registering"],
                          metrics["slave/executors_running"]), (1, 1, 0))

    def test_prometheus(self):
        """
        The slave's C{/metrics/prometheus} parses too.
        """
        http = StubTreq(SlaveHTTP(self.slave).resource())
        response = self.successResultOf(http.get("http://slave/metrics/prometheus"))
        samples = parse(self.successResultOf(response.content()).decode())
        self.assertEqual(samples["mesos_slave_cpus_total"], 2.0)


class FormatTests(SynchronousTestCase):
    """
    Names, values and timers.
    """

    def test_names(self):
        """
        C{/} becomes C{_} under C{mesos_}; characters Prometheus does not
        allow become C{_} too.
        """
        self.assertEqual(prometheus_name("master/tasks_running"), "mesos_master_tasks_running")
        self.assertEqual(prometheus_name("master/frameworks/my%20fw/F-1/subscribed"),
                         "mesos_master_frameworks_my_20fw_F_1_subscribed")

    def test_values(self):
        """
        Infinities and NaN are written as the format spells them, and a
        name seen twice after mapping is written once.
        """
        text = prometheus_text({"a/b": float("inf"), "a_b": 1, "c": float("nan")}).decode()
        samples = parse(text)
        self.assertEqual(samples["mesos_a_b"], float("inf"))
        self.assertEqual([line for line in text.splitlines() if line.startswith("mesos_a_b ")],
                         ["mesos_a_b +Inf"])

    def test_timer(self):
        """
        A timer reports the latest duration, the count, extremes and
        percentiles of its window.
        """
        timer = Timer(size=100)
        for value in range(1, 201):
            timer.record(float(value))
        metrics = timer.snapshot("t")
        self.assertEqual((metrics["t"], metrics["t/count"], metrics["t/min"], metrics["t/max"],
                          metrics["t/p50"], metrics["t/p99"]),
                         (200.0, 100, 101.0, 200.0, 151.0, 200.0))
        self.assertEqual(Timer().snapshot("t"), {})
