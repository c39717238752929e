"""
Checks on the tasks of a launch, before anything reaches a slave (Mesos's
task validation visitors).  Each check returns an error message or L{None}.
"""

from mesos_tw.resources import Resources, ResourcesError

__all__ = ["same_executor", "validate_task"]


def same_executor(one, other):
    """
    Whether two C{ExecutorInfo}s describe the same executor.  Their
    C{framework_id} is not compared: slaves fill it in when they report
    their executors to a new master, and schedulers usually leave it out.
    """
    if one.framework_id.value and other.framework_id.value:
        return one == other
    one_copy, other_copy = type(one)(), type(other)()
    one_copy.CopyFrom(one)
    other_copy.CopyFrom(other)
    one_copy.ClearField("framework_id")
    other_copy.ClearField("framework_id")
    return one_copy == other_copy


def validate_task(task, slave_id, known_task_ids, executors, available):
    """
    Check one task of a launch.

    @param slave_id: the slave of the offers the task was launched on.
    @param known_task_ids: task ids the framework has in use.
    @param executors: C{{executor_id: ExecutorInfo}} the framework already
        has on that slave (including ones earlier tasks of this launch made).
    @param available: what is left of the offers.
    @return: C{(error, resources)}: an error message, or L{None} and the
        resources the task needs (its own plus a new executor's).
    """
    if not task.task_id.value:
        return "Task has an empty task id", None
    if task.task_id.value in known_task_ids:
        return f"Task {task.task_id.value} has a duplicate task id", None
    if task.slave_id.value != slave_id:
        return (
            f"Task uses slave {task.slave_id.value} but its offer is for slave {slave_id}",
            None,
        )
    has_executor, has_command = task.HasField("executor"), task.HasField("command")
    if has_executor == has_command:
        return "Task should have exactly one of executor or command set", None
    try:
        needed = Resources.from_protobuf(task.resources)
        if has_executor:
            executor_resources = Resources.from_protobuf(task.executor.resources)
    except ResourcesError as error:
        return f"Task uses invalid resources: {error}", None
    if not needed:
        return "Task uses no resources", None
    if has_executor:
        executor_id = task.executor.executor_id.value
        if not executor_id:
            return "Task's executor has an empty executor id", None
        existing = executors.get(executor_id)
        if existing is None:
            needed = needed + executor_resources
        elif not same_executor(existing, task.executor):
            return (
                f"Task has an ExecutorInfo for executor {executor_id} that differs "
                f"from the one already running",
                None,
            )
    if not available.contains(needed):
        return (
            f"Task uses more resources ({needed}) than available in the offers ({available})",
            None,
        )
    return None, needed
