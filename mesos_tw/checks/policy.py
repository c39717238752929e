"""
What a health check's results mean (Mesos's C{HealthChecker}): the task
becomes healthy on its first success; failures during the grace period,
before that first success, are ignored; after C{consecutive_failures}
failures in a row the task is to be killed.
"""

from dataclasses import dataclass

__all__ = ["HealthChange", "HealthPolicy"]


@dataclass(frozen=True)
class HealthChange:
    """
    What the executor should report (Mesos's C{TaskHealthStatus}).

    @ivar healthy: the task's health now.
    @ivar consecutive_failures: failures in a row, this one included.
    @ivar kill_task: whether the task is to be killed.
    """

    healthy: bool
    consecutive_failures: int = 0
    kill_task: bool = False


class HealthPolicy:
    """
    The results of one task's health check, in order.

    Only changes are reported: the first success, the first failure after
    a success (or after the grace period, before any success), the first
    success after failures, and the failure that kills the task.  (Mesos
    1.x reports every failure; Mesos 1.0 reported as here.)

    @param consecutive_failures: failures in a row that kill the task.
    @param grace_period: seconds after C{started} during which failures
        before the first success are ignored.
    @param started: when the task started, on the clock the results'
        times come from.
    """

    def __init__(self, consecutive_failures, grace_period, started):
        self.consecutive_failures = consecutive_failures
        self.grace_period = grace_period
        self.started = started
        self.failures = 0
        self.initializing = True
        self.healthy = None

    def success(self, now):
        """
        A check passed at C{now}.

        @return: the L{HealthChange} to report, or L{None}.
        """
        self.initializing = False
        self.failures = 0
        if self.healthy is True:
            return None
        self.healthy = True
        return HealthChange(healthy=True)

    def failure(self, now):
        """
        A check failed (or timed out) at C{now}.

        @return: the L{HealthChange} to report, or L{None}.
        """
        if self.initializing and self.grace_period > 0 and \
                now - self.started <= self.grace_period:
            return None
        self.failures += 1
        kill = self.failures >= self.consecutive_failures
        if self.healthy is False and not kill:
            return None
        self.healthy = False
        return HealthChange(healthy=False, consecutive_failures=self.failures, kill_task=kill)
