"""
The slave's metrics snapshot (C{/metrics/snapshot}, the operator API's
GET_METRICS), with Mesos's C{slave/...} names.
"""

__all__ = ["metrics_snapshot"]


def metrics_snapshot(slave):
    """
    Mesos's slave metrics, a flat C{{name: number}}.
    """
    executors = [e for f in slave.frameworks.values() for e in f.executors.values()]
    used = sum((e.resources() for e in executors), type(slave.resources)())
    metrics = {
        "slave/uptime_secs": slave.reactor.seconds() - slave.start_time,
        "slave/registered": int(slave.registered),
        "slave/frameworks_active": len(slave.frameworks),
        "slave/executors_running": len(executors),
        "slave/tasks_running": sum(len(e.tasks) for e in executors),
        "slave/tasks_staging": sum(len(e.queued_tasks) for e in executors),
        "slave/tasks_finished": slave.stats["finished_tasks"],
        "slave/tasks_failed": slave.stats["failed_tasks"],
        "slave/tasks_killed": slave.stats["killed_tasks"],
        "slave/tasks_lost": slave.stats["lost_tasks"],
        "slave/valid_status_updates": slave.stats["valid_status_updates"],
        "slave/invalid_status_updates": slave.stats["invalid_status_updates"],
    }
    for name in ("cpus", "mem", "disk", "gpus"):
        total = slave.resources.scalar(name)
        metrics[f"slave/{name}_total"] = total
        metrics[f"slave/{name}_used"] = used.scalar(name)
        metrics[f"slave/{name}_percent"] = used.scalar(name) / total if total else 0.0
    return metrics
