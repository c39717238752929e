"""
The master's metrics snapshot (C{/metrics/snapshot}, the operator API's
GET_METRICS, C{/metrics/prometheus}) with Mesos's names (docs/monitoring
of Mesos 1.x): those the master's records answer (slaves, frameworks,
tasks, resources, offers), the counts it keeps as things happen
(L{MasterCounters}: registrations, removals, terminal tasks by source and
reason, messages, offers per framework, allocation timings), and the
machine's (C{system/...}).
"""

from collections import Counter, defaultdict
from urllib.parse import quote

from mesos_tw.master.sorter import dominant_share
from mesos_tw.metrics import Timer, system_metrics
from mesos_tw.master.state import TERMINAL_STATES, state_name
from mesos_tw.protocols import mesos_pb2
from mesos_tw.resources import Resources

__all__ = ["MESSAGE_METRICS", "MasterCounters", "held_by_framework", "metrics_snapshot"]

#: The resources whose totals, use and share the metrics report.
METRIC_RESOURCES = ("cpus", "mem", "disk", "gpus")

#: The master's message types and the C{master/messages_*} metric each
#: counts in (Mesos's names).
MESSAGE_METRICS = {
    "RegisterFrameworkMessage": "register_framework",
    "ReregisterFrameworkMessage": "reregister_framework",
    "UnregisterFrameworkMessage": "unregister_framework",
    "DeactivateFrameworkMessage": "deactivate_framework",
    "KillTaskMessage": "kill_task",
    "ResourceRequestMessage": "resource_request",
    "LaunchTasksMessage": "launch_tasks",
    "ReviveOffersMessage": "revive_offers",
    "SuppressOffersMessage": "suppress_offers",
    "ReconcileTasksMessage": "reconcile_tasks",
    "FrameworkToExecutorMessage": "framework_to_executor",
    "ExecutorToFrameworkMessage": "executor_to_framework",
    "RegisterSlaveMessage": "register_slave",
    "ReregisterSlaveMessage": "reregister_slave",
    "UnregisterSlaveMessage": "unregister_slave",
    "StatusUpdateMessage": "status_update",
    "ExitedExecutorMessage": "exited_executor",
}

#: The task states a task can be in before it ends, by their metric name
#: (C{master/tasks_<name>}): those our C{TaskState} has.
_ACTIVE_STATES = [name for name in ("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING",
                                    "TASK_KILLING", "TASK_UNREACHABLE")
                  if name in mesos_pb2.TaskState.keys()]

#: The counts every snapshot shows, at 0 until they happen.
_COUNTS = ("slave_registrations", "slave_reregistrations", "slave_removals",
           "slave_removals/reason_unhealthy", "slave_removals/reason_unregistered",
           "recovery_slave_removals",
           "slave_unreachable_scheduled", "slave_unreachable_completed",
           "valid_framework_to_executor_messages", "invalid_framework_to_executor_messages",
           "valid_executor_to_framework_messages", "invalid_executor_to_framework_messages",
           "messages_decline_offers")

class MasterCounters:
    """
    What the master counts as it happens, for its metrics.

    @ivar counts: C{{metric name under master/: count}}.
    @ivar frameworks: C{{framework id: Counter}} of its per-framework
        counts (C{offers/sent}, C{tasks/terminal/TASK_FINISHED}...).
    @ivar allocation_run: how long allocation runs take.
    @ivar allocation_latency: how long an allocation waits to run once
        asked for.
    """

    def __init__(self):
        self.counts = Counter()
        self.frameworks = defaultdict(Counter)
        self.allocation_run = Timer()
        self.allocation_latency = Timer()

    def count(self, name, amount=1):
        """
        Count C{name} (a metric under C{master/}).
        """
        self.counts[name] += amount

    def count_framework(self, framework_id, name, amount=1):
        """
        Count C{name} for one framework.
        """
        self.frameworks[framework_id][name] += amount

    def task_ended(self, framework_id, status):
        """
        A task reached a terminal state: counted by state, source and reason
        (C{task_lost/source_master/reason_slave_removed}), and for its
        framework.
        """
        state = state_name(status.state)
        if status.state not in TERMINAL_STATES:
            return
        self.count_framework(framework_id, f"tasks/terminal/{state}")
        if status.HasField("reason"):
            source = mesos_pb2.TaskStatus.Source.Name(status.source).lower()
            reason = mesos_pb2.TaskStatus.Reason.Name(status.reason).lower()
            self.count(f"task_{state[len('TASK_'):].lower()}/{source}/{reason}")

    def forget_framework(self, framework_id):
        """
        A framework was removed: its own metrics go with it.
        """
        self.frameworks.pop(framework_id, None)


def held_by_framework(slaves):
    """
    What the tasks and executors on C{slaves} hold, by framework id, in one
    pass over all the tasks.
    """
    bags = {}
    for slave in slaves:
        for (framework_id, _), task in slave.tasks.items():
            bags.setdefault(framework_id, []).append(task.resources)
        for framework_id, infos in slave.executors.items():
            bags.setdefault(framework_id, []).extend(
                Resources.from_protobuf(info.resources) for info in infos.values())
    return {framework_id: Resources.sum(held) for framework_id, held in bags.items()}


def _allocator_metrics(master, total, held, offered):
    """
    Mesos's C{allocator/mesos/...} metrics that the master's records
    answer: allocation runs and their timings, each resource's total and
    what is offered or allocated of it, and each role's dominant share of
    what its registered frameworks hold and are offered.
    """
    counters = master.counters
    metrics = {"allocator/mesos/allocation_runs": master.allocation_runs}
    metrics.update(counters.allocation_run.snapshot("allocator/mesos/allocation_run_ms"))
    metrics.update(counters.allocation_latency.snapshot(
        "allocator/mesos/allocation_run_latency_ms"))
    allocated = Resources.sum(held.values()) + offered
    for name in METRIC_RESOURCES:
        metrics[f"allocator/mesos/resources/{name}/total"] = total.scalar(name)
        metrics[f"allocator/mesos/resources/{name}/offered_or_allocated"] = allocated.scalar(
            name)
    roles = {}
    for framework in master.frameworks.values():
        bags = roles.setdefault(framework.info.role or "*", [])
        bags.append(held.get(framework.id, Resources()))
        bags.extend(offer.resources for offer in framework.offers.values())
    for role, bags in roles.items():
        metrics[f"allocator/mesos/roles/{role}/shares/dominant"] = dominant_share(
            Resources.sum(bags).scalars(), total.scalars())
    return metrics


def _framework_metrics(master):
    """
    Mesos's C{master/frameworks/<name>/<id>/...} of each registered
    framework: subscribed, offers sent, accepted, declined and rescinded,
    tasks by active and terminal state.
    """
    metrics = {}
    for framework in master.frameworks.values():
        prefix = f"master/frameworks/{quote(framework.info.name, safe='')}/{framework.id}"
        metrics[f"{prefix}/subscribed"] = int(framework.active)
        counts = master.counters.frameworks.get(framework.id, {})
        for name in ("offers/sent", "offers/accepted", "offers/declined", "offers/rescinded"):
            metrics[f"{prefix}/{name}"] = counts.get(name, 0)
        active = Counter(state_name(record.state) for record in framework.tasks.values())
        for state in _ACTIVE_STATES:
            metrics[f"{prefix}/tasks/active/{state}"] = active[state]
        for name, count in counts.items():
            if name.startswith("tasks/terminal/"):
                metrics[f"{prefix}/{name}"] = count
    return metrics


def _slave_metrics(master):
    slaves = master.slaves.values()
    connected = sum(1 for slave in slaves if slave.connected)
    active = sum(1 for slave in slaves if slave.connected and not slave.deactivated)
    return {
        "master/slaves_connected": connected,
        "master/slaves_disconnected": len(master.slaves) - connected,
        "master/slaves_active": active,
        "master/slaves_inactive": len(master.slaves) - active,
        "master/slaves_unreachable": len(master.unreachable_slaves),
    }


def metrics_snapshot(master, held=None):
    """
    C{/metrics/snapshot}: a flat dict of Mesos's master, allocator and
    system metric names.  The resources held are summed in one pass over
    the tasks, so that the dashboard's polling stays cheap for a large
    cluster.

    @param held: L{held_by_framework} of the master's slaves, when the
        caller has it already.
    """
    now = master.reactor.seconds()
    slaves = master.slaves.values()
    total = Resources.sum(slave.total for slave in slaves)
    held = held_by_framework(slaves) if held is None else held
    used = Resources.sum(held.values())
    offered = Resources.sum(offer.resources for offer in master.offers.values())
    counts = Counter(r.task.state for f in master.frameworks.values() for r in f.tasks.values())
    states = Counter({state_name(state): count for state, count in counts.items()})
    stats = master.stats
    active = sum(1 for f in master.frameworks.values() if f.active)
    inactive = len(master.frameworks) - active
    metrics = {
        "master/uptime_secs": now - (master.start_time or now),
        "master/elected": 1,
        "master/frameworks_active": active,
        "master/frameworks_inactive": inactive,
        "master/frameworks_connected": active,
        "master/frameworks_disconnected": inactive,
        "master/tasks_finished": stats["finished_tasks"],
        "master/tasks_failed": stats["failed_tasks"],
        "master/tasks_killed": stats["killed_tasks"],
        "master/tasks_lost": stats["lost_tasks"],
        "master/tasks_error": stats["error_tasks"],
        "master/valid_status_updates": stats["valid_status_updates"],
        "master/invalid_status_updates": stats["invalid_status_updates"],
        "master/outstanding_offers": len(master.offers),
        "master/dropped_messages": master.dispatcher.dropped,
        "master/operator_event_stream_subscribers": len(master.events.listeners),
    }
    metrics.update(_slave_metrics(master))
    for state in _ACTIVE_STATES:
        metrics[f"master/tasks_{state[len('TASK_'):].lower()}"] = states[state]
    for message_type, name in MESSAGE_METRICS.items():
        metrics[f"master/messages_{name}"] = master.dispatcher.received[message_type]
    metrics.update(master.dispatcher.failure_metrics("master"))
    for name in _COUNTS:
        metrics[f"master/{name}"] = master.counters.counts[name]
    for name, count in master.counters.counts.items():
        metrics[f"master/{name}"] = count
    for name in METRIC_RESOURCES:
        amount = total.scalar(name)
        metrics[f"master/{name}_total"] = amount
        metrics[f"master/{name}_used"] = used.scalar(name)
        metrics[f"master/{name}_offered"] = offered.scalar(name)
        metrics[f"master/{name}_percent"] = used.scalar(name) / amount if amount else 0.0
        # Nothing is revocable here: Mesos's revocable metrics are all 0.
        for suffix in ("total", "used", "percent"):
            metrics[f"master/{name}_revocable_{suffix}"] = 0.0
    metrics.update(_allocator_metrics(master, total, held, offered))
    metrics.update(_framework_metrics(master))
    metrics.update(system_metrics())
    return metrics
