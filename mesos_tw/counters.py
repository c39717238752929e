"""
The task and status-update counters that the master's and the slave's state
endpoints report (Mesos's names).
"""

from mesos_tw.protocols import mesos_pb2

__all__ = ["count_state", "new_counters"]

#: The counter each task state adds to.
_STATE_COUNTERS = {
    mesos_pb2.TASK_RUNNING: "started_tasks",
    mesos_pb2.TASK_FINISHED: "finished_tasks",
    mesos_pb2.TASK_KILLED: "killed_tasks",
    mesos_pb2.TASK_FAILED: "failed_tasks",
    mesos_pb2.TASK_LOST: "lost_tasks",
    mesos_pb2.TASK_ERROR: "error_tasks",
}


def new_counters():
    """
    Every counter, at zero.
    """
    names = ["staged_tasks", *_STATE_COUNTERS.values(),
             "valid_status_updates", "invalid_status_updates"]
    return dict.fromkeys(names, 0)


def count_state(counters, state):
    """
    Count a task reaching C{state}.
    """
    name = _STATE_COUNTERS.get(state)
    if name is not None:
        counters[name] += 1
