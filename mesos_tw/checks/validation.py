"""
Mesos's validation of a task's C{HealthCheck} and C{KillPolicy}
(C{common/validation.cpp}, C{master/validation.cpp}), with its messages.
"""

from mesos_tw.protocols import mesos_pb2

__all__ = ["kill_grace_period", "validate_health_check", "validate_kill_policy",
           "DEFAULT_KILL_GRACE_PERIOD"]

HealthCheck = mesos_pb2.HealthCheck

#: Time between SIGTERM and SIGKILL when neither the task nor the kill says
#: (Mesos's built-in executors: 3 s).
DEFAULT_KILL_GRACE_PERIOD = 3.0


def validate_health_check(check):
    """
    Check a C{HealthCheck} as Mesos does.

    @return: an error message, or L{None}.
    """
    if not check.HasField("type"):
        return "HealthCheck must specify 'type'"
    if check.type == HealthCheck.COMMAND:
        if not check.HasField("command"):
            return "Expecting 'command' to be set for COMMAND health check"
        if not check.command.value:
            return "Command health check must contain 'shell command'"
    elif check.type == HealthCheck.HTTP:
        if not check.HasField("http"):
            return "Expecting 'http' to be set for HTTP health check"
        http = check.http
        if http.HasField("scheme") and http.scheme not in ("http", "https"):
            return f"Unsupported HTTP health check scheme: '{http.scheme}'"
        if http.HasField("path") and not http.path.startswith("/"):
            return f"The path '{http.path}' of HTTP health check must start with '/'"
    elif check.type == HealthCheck.TCP:
        if not check.HasField("tcp"):
            return "Expecting 'tcp' to be set for TCP health check"
    else:
        return f"'{HealthCheck.Type.Name(check.type)}' is not a valid health check type"
    for name in ("delay_seconds", "grace_period_seconds", "interval_seconds", "timeout_seconds"):
        if check.HasField(name) and getattr(check, name) < 0.0:
            return f"Expecting '{name}' to be non-negative"
    return None


def validate_kill_policy(policy):
    """
    Check a C{KillPolicy} (a task's, or a kill call's) as Mesos does.

    @return: an error message, or L{None}.
    """
    if policy.HasField("grace_period") and policy.grace_period.nanoseconds < 0:
        return "Task's 'kill_policy.grace_period' must be non-negative"
    return None


def kill_grace_period(override=None, task_policy=None, default=DEFAULT_KILL_GRACE_PERIOD):
    """
    Seconds between SIGTERM and SIGKILL: a kill call's policy wins over the
    task's, which wins over the default (Mesos's command executor).

    @param override: the C{KillPolicy} of the kill, or L{None}.
    @param task_policy: the C{KillPolicy} the task was launched with, or
        L{None}.
    """
    for policy in (override, task_policy):
        if policy is not None and policy.HasField("grace_period"):
            return max(policy.grace_period.nanoseconds, 0) / 1e9
    return default
