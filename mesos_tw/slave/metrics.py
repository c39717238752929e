"""
The slave's metrics snapshot (C{/metrics/snapshot}, the operator API's
GET_METRICS, C{/metrics/prometheus}), with Mesos's C{slave/...} names and
the machine's C{system/...}.
"""

from collections import Counter

from mesos_tw.metrics import system_metrics
from mesos_tw.protocols import mesos_pb2
from mesos_tw.slave.state import LAUNCHING, RUNNING, TERMINATING

__all__ = ["metrics_snapshot"]


def metrics_snapshot(slave):
    """
    Mesos's slave metrics, a flat C{{name: number}}.
    """
    executors = [e for f in slave.frameworks.values() for e in f.executors.values()]
    used = sum((e.resources() for e in executors), type(slave.resources)())
    states = Counter(task.state for e in executors for task in e.tasks.values())
    metrics = {
        "slave/uptime_secs": slave.reactor.seconds() - slave.start_time,
        "slave/registered": int(slave.registered),
        "slave/frameworks_active": len(slave.frameworks),
        "slave/executors_running": sum(1 for e in executors if e.state == RUNNING),
        "slave/executors_registering": sum(1 for e in executors if e.state == LAUNCHING),
        "slave/executors_terminating": sum(1 for e in executors if e.state == TERMINATING),
        "slave/tasks_running": states[mesos_pb2.TASK_RUNNING],
        "slave/tasks_starting": states[mesos_pb2.TASK_STARTING],
        "slave/tasks_staging": states[mesos_pb2.TASK_STAGING] + sum(
            len(e.queued_tasks) for e in executors),
        "slave/tasks_finished": slave.stats["finished_tasks"],
        "slave/tasks_failed": slave.stats["failed_tasks"],
        "slave/tasks_killed": slave.stats["killed_tasks"],
        "slave/tasks_lost": slave.stats["lost_tasks"],
        "slave/valid_status_updates": slave.stats["valid_status_updates"],
        "slave/invalid_status_updates": slave.stats["invalid_status_updates"],
        "slave/dropped_messages": slave.dispatcher.dropped,
    }
    metrics.update(slave.dispatcher.failure_metrics("slave"))
    for name in ("cpus", "mem", "disk", "gpus"):
        total = slave.resources.scalar(name)
        metrics[f"slave/{name}_total"] = total
        metrics[f"slave/{name}_used"] = used.scalar(name)
        metrics[f"slave/{name}_percent"] = used.scalar(name) / total if total else 0.0
        # Nothing is revocable here: Mesos's revocable metrics are all 0.
        for suffix in ("total", "used", "percent"):
            metrics[f"slave/{name}_revocable_{suffix}"] = 0.0
    metrics.update(system_metrics())
    return metrics
