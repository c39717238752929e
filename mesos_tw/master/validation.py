"""
Checks on the tasks of a launch, before anything reaches a slave (Mesos's
task validation visitors).  Each check returns an error message or L{None}.
"""

from mesos_tw.checks.validation import validate_health_check, validate_kill_policy
from mesos_tw.protocols import mesos_pb2
from mesos_tw.resources import Resources, ResourcesError

__all__ = [
    "command_error",
    "container_error",
    "launched_tasks",
    "same_executor",
    "validate_executor",
    "validate_group",
    "validate_task",
]

DEFAULT = mesos_pb2.ExecutorInfo.DEFAULT
CUSTOM = mesos_pb2.ExecutorInfo.CUSTOM
_IMAGES_UNSUPPORTED = "container images are not supported (the Mesos containerizer runs " \
    "the command in the slave's own root filesystem)"


def launched_tasks(message):
    """
    Every C{TaskInfo} a C{LaunchTasksMessage} launches: its tasks, then
    those of its task groups.
    """
    return list(message.tasks) + [
        task for group in message.groups for task in group.task_group.tasks]


def same_executor(one, other):
    """
    Whether two C{ExecutorInfo}s describe the same executor.  Their
    C{framework_id} is not compared: slaves fill it in when they report
    their executors to a new master, and schedulers usually leave it out.
    """
    mine, theirs = one.HasField("framework_id"), other.HasField("framework_id")
    if (mine and theirs and one.framework_id.value and other.framework_id.value) or (
            mine == theirs and one.framework_id == other.framework_id):
        # Compared whole: their framework ids are both given, or alike (a
        # scheduler's tasks naming one executor, every launch: no copies).
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
    # A command task runs on the command executor, which runs a command
    # without a shell too.
    error, needed = _task_itself(task, slave_id, known_task_ids,
                                 shell_optional=not task.HasField("executor"))
    if error is not None:
        return error, None
    has_executor, has_command = task.HasField("executor"), task.HasField("command")
    if has_executor == has_command:
        return "Task should have exactly one of executor or command set", None
    if has_executor:
        if task.executor.type == DEFAULT:
            return "The DEFAULT executor runs task groups only (launch them with LAUNCH_GROUP)", None
        error, executor_needs = validate_executor(task.executor, executors)
        if error is not None:
            return f"Task's executor is invalid: {error}", None
        needed = needed + executor_needs
    if not available.contains(needed):
        return (
            f"Task uses more resources ({needed}) than available in the offers ({available})",
            None,
        )
    return None, needed


def _task_itself(task, slave_id, known_task_ids, shell_optional=False):
    """
    Check what any task must be, alone or in a group: its id, its slave,
    its own resources, its command (which may be without a shell when
    C{shell_optional}: see L{command_error}).

    @return: C{(error, resources)}, as L{validate_task}.
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
    try:
        needed = Resources.from_protobuf(task.resources)
    except ResourcesError as error:
        return f"Task uses invalid resources: {error}", None
    if not needed:
        return "Task uses no resources", None
    error = command_error(task.command, shell_optional) or _container_error_of(task)
    if error is not None:
        return f"Task {task.task_id.value} is invalid: {error}", None
    if task.HasField("kill_policy"):
        error = validate_kill_policy(task.kill_policy)
        if error is not None:
            return error, None
    if task.HasField("health_check"):
        error = validate_health_check(task.health_check)
        if error is not None:
            return f"Task uses invalid health check: {error}", None
    return None, needed


def container_error(container):
    """
    Why a C{ContainerInfo} cannot be run here, or L{None}: one of type
    MESOS without an image runs as if it were absent; an image (Docker's or
    the Mesos containerizer's, for the container or a volume) cannot.
    """
    if container.type == mesos_pb2.ContainerInfo.DOCKER or container.HasField("docker"):
        return f"it asks for the Docker image {container.docker.image!r}: {_IMAGES_UNSUPPORTED}"
    if container.mesos.HasField("image"):
        return f"it asks for a Mesos image: {_IMAGES_UNSUPPORTED}"
    if any(volume.HasField("image") for volume in container.volumes):
        return f"a volume asks for an image: {_IMAGES_UNSUPPORTED}"
    return None


def _container_error_of(info):
    # An unset ContainerInfo reads as type DOCKER (its enum's first value).
    return container_error(info.container) if info.HasField("container") else None


def command_error(command, shell_optional=False):
    """
    What is wrong with a C{CommandInfo}'s environment, as Mesos's
    C{validateEnvironment} words it, or L{None}.  Secrets are not
    supported, nor is C{shell=false} (the value and its arguments run
    without a shell) unless C{shell_optional}: only the command executor
    runs a command that way; executors and the default executor's tasks
    run as C{sh -c value}.
    """
    if not command.shell and not shell_optional:
        return ("CommandInfo.shell=false (a program run with arguments, without a shell) is "
                "not supported")
    for variable in command.environment.variables:
        if variable.type == mesos_pb2.Environment.Variable.SECRET:
            return (f"Environment variable '{variable.name}' of type 'SECRET' is not supported "
                    "(there is no secret resolver)")
        if not variable.HasField("value"):
            return (f"Environment variable '{variable.name}' of type 'VALUE' must have a "
                    "value set")
    return None


def validate_executor(executor, executors):
    """
    Check the executor of a launch.

    @param executors: C{{executor_id: ExecutorInfo}} the framework already
        has on the slave.
    @return: C{(error, resources)}: an error message, or L{None} and what
        the executor needs from the offers (nothing if it already runs).
    """
    executor_id = executor.executor_id.value
    if not executor_id:
        return "the executor id is empty", None
    if executor.type == DEFAULT and executor.HasField("command"):
        return "a DEFAULT executor must not have a command", None
    if executor.type != DEFAULT and not executor.command.value:
        return f"executor {executor_id} has no command", None
    error = command_error(executor.command) or _container_error_of(executor)
    if error is not None:
        return f"executor {executor_id} is invalid: {error}", None
    existing = executors.get(executor_id)
    if existing is not None:
        if not same_executor(existing, executor):
            return (f"the ExecutorInfo for executor {executor_id} differs from the one "
                    "already running"), None
        return None, Resources()
    try:
        return None, Resources.from_protobuf(executor.resources)
    except ResourcesError as error:
        return f"executor {executor_id} uses invalid resources: {error}", None


def validate_group(executor, group, slave_id, known_task_ids, executors, available):
    """
    Check one task group of a launch (Mesos's LAUNCH_GROUP): its executor
    (of an explicit type: DEFAULT, the slave's, or CUSTOM) and every task,
    which must name that executor or none.  A group is launched whole or
    not at all, so one error refuses it.

    The arguments are as for L{validate_task}.
    @return: C{(error, resources)}: an error message, or L{None} and the
        resources the group needs (its tasks' plus a new executor's).
    """
    if executor.type not in (DEFAULT, CUSTOM):
        return "A task group's ExecutorInfo.type must be DEFAULT or CUSTOM", None
    if not group.tasks:
        return "The task group has no tasks", None
    error, needed = validate_executor(executor, executors)
    if error is not None:
        return f"Task group's executor is invalid: {error}", None
    seen = set(known_task_ids)
    for task in group.tasks:
        if task.HasField("executor") and not same_executor(task.executor, executor):
            return (f"Task {task.task_id.value} names an executor other than its group's "
                    f"({executor.executor_id.value})"), None
        if executor.type == DEFAULT and not task.command.value:
            return f"Task {task.task_id.value} has no command for the DEFAULT executor", None
        error, task_needs = _task_itself(task, slave_id, seen)
        if error is not None:
            return error, None
        seen.add(task.task_id.value)
        needed = needed + task_needs
    if not available.contains(needed):
        return (f"Task group uses more resources ({needed}) than available in the offers "
                f"({available})"), None
    return None, needed
