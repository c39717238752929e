"""
How the slave describes the executors it launches: the built-in command
executor's C{ExecutorInfo}, an executor's environment, and its exit.
"""

import os
import shlex
import signal

from mesos_tw.constants import EXECUTOR_SHUTDOWN_GRACE_PERIOD, RECOVERY_TIMEOUT
from mesos_tw.protocols import mesos_pb2

__all__ = [
    "COMMAND_EXECUTOR_NAME",
    "command_executor_info",
    "default_executor_info",
    "describe_wait_status",
    "executor_environment",
]


#: How the name of every command executor's C{ExecutorInfo} starts (how a
#: restarted slave tells them from custom executors).
COMMAND_EXECUTOR_NAME = "Command Executor"


def command_executor_info(framework_id, task, python):
    """
    The C{ExecutorInfo} of the command executor that runs a C{command}
    task: its id and source are the task's id, and it runs
    C{<python> -m mesos_tw.executors.command}.  The task's URIs become the
    executor's, as in Mesos, so that they are fetched into the sandbox the
    command runs in.
    """
    task_id = task.task_id.value
    return mesos_pb2.ExecutorInfo(
        executor_id=mesos_pb2.ExecutorID(value=task_id),
        framework_id=mesos_pb2.FrameworkID(value=framework_id),
        command=mesos_pb2.CommandInfo(
            value=f"{shlex.quote(python)} -m mesos_tw.executors.command",
            uris=task.command.uris),
        name=f"{COMMAND_EXECUTOR_NAME} (Task: {task_id})",
        source=task_id,
    )


def default_executor_info(info, python):
    """
    The C{ExecutorInfo} a DEFAULT executor (one without a command, for task
    groups) is launched with: C{info} with the command
    C{<python> -m mesos_tw.executors.default}, the slave's built-in task
    group executor.
    """
    launched = mesos_pb2.ExecutorInfo()
    launched.CopyFrom(info)
    launched.command.value = f"{shlex.quote(python)} -m mesos_tw.executors.default"
    if not launched.name:
        launched.name = f"Default Executor ({info.executor_id.value})"
    return launched


def executor_environment(base, slave_pid, framework_id, executor_info, directory,
                         shutdown_grace_period=EXECUTOR_SHUTDOWN_GRACE_PERIOD,
                         checkpoint=False, recovery_timeout=RECOVERY_TIMEOUT):
    """
    An executor's environment: C{base} (the slave's own, for C{PATH} and
    the like), the C{MESOS_*} variables the classic executor driver reads
    and those Mesos gives executors of the v1 HTTP API (where to reach the
    slave's C{/api/v1/executor}, whether its framework checkpoints and, if
    so, how long to wait for a restarting slave, the grace period before
    a shutdown turns into a kill), then the variables its C{CommandInfo}
    asks for.
    """
    environment = dict(base)
    environment.update({
        "MESOS_SLAVE_PID": str(slave_pid),
        "MESOS_AGENT_ENDPOINT": f"{slave_pid.host}:{slave_pid.port}",
        "MESOS_FRAMEWORK_ID": framework_id,
        "MESOS_EXECUTOR_ID": executor_info.executor_id.value,
        "MESOS_DIRECTORY": directory,
        "MESOS_SANDBOX": directory,
        "MESOS_CHECKPOINT": "1" if checkpoint else "0",
        "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": f"{shutdown_grace_period:g}secs",
    })
    if checkpoint:
        environment["MESOS_RECOVERY_TIMEOUT"] = f"{recovery_timeout:g}secs"
    for variable in executor_info.command.environment.variables:
        environment[variable.name] = variable.value
    return environment


def describe_wait_status(status):
    """
    A wait status in words: C{"exited with status 3"}, C{"killed by SIGKILL"}.
    """
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return f"killed by {name}"
    if os.WIFEXITED(status):
        return f"exited with status {os.WEXITSTATUS(status)}"
    return f"ended with wait status {status}"
