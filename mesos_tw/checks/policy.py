"""
What a health check's results mean (Mesos's C{HealthChecker}): the task
becomes healthy on its first success; failures during the grace period,
before that first success, are ignored; every other failure is reported
as unhealthy; after C{consecutive_failures} failures in a row the task is
to be killed.
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
    The results of one task's health check, in order, as Mesos's
    C{HealthChecker::success} and C{failure} read them.

    Reported: the first success, and the first success after failures
    (not the successes between); every failure outside the grace period,
    each with the count of failures in a row, the one that reaches
    C{consecutive_failures} asking for the task to be killed.

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

    def success(self, now):
        """
        A check passed at C{now}.

        @return: the L{HealthChange} to report, or L{None}.
        """
        change = None
        if self.initializing or self.failures > 0:
            change = HealthChange(healthy=True)
            self.initializing = False
        self.failures = 0
        return change

    def failure(self, now):
        """
        A check failed (or timed out) at C{now}.

        @return: the L{HealthChange} to report, or L{None} (ignored, in the
            grace period).
        """
        if self.initializing and self.grace_period > 0 and \
                now - self.started <= self.grace_period:
            return None
        self.failures += 1
        kill = self.failures >= self.consecutive_failures
        return HealthChange(healthy=False, consecutive_failures=self.failures, kill_task=kill)
