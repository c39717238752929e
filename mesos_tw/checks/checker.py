"""
A task's health checker (Mesos's C{HealthChecker} and C{CheckerProcess}):
the first attempt after C{delay_seconds}, each attempt limited to
C{timeout_seconds} (0: no limit), the next C{interval_seconds} after the
last ended; the results go through a L{HealthPolicy}, and what it finds
to report (Mesos's C{TaskHealthStatus}) is reported.
"""

from mesos_tw.checks.policy import HealthPolicy
from mesos_tw.checks.probes import probe_for
from mesos_tw.protocols import mesos_pb2

__all__ = ["HealthChecker"]


class HealthChecker:
    """
    Checks one task's health on C{loop} until stopped.

    @param loop: the executor's loop (L{mesos_tw.checks.loops}).
    @param check: the task's (valid) C{HealthCheck}.
    @param report: called with a L{HealthChange} and the last attempt's
        message for the first success, the first success after failures,
        and every failure outside the grace period (L{HealthPolicy}).
    @param environ: the task's environment (for COMMAND checks).
    @param cwd: the task's sandbox (for COMMAND checks).
    @param warn: called with a line of text for each failed attempt.
    @param make_probe: makes a probe for one attempt (L{probe_for}).
    """

    def __init__(self, loop, check, report, environ=None, cwd=None, warn=lambda text: None,
                 make_probe=probe_for):
        self.loop = loop
        self.check = check
        self.report = report
        self.environ = dict(environ or {})
        self.cwd = cwd
        self.warn = warn
        self.make_probe = make_probe
        self.name = f"{mesos_pb2.HealthCheck.Type.Name(check.type)} health check"
        self.policy = HealthPolicy(check.consecutive_failures, check.grace_period_seconds,
                                   loop.seconds())
        self.attempts = 0
        self._call = None
        self._timeout_call = None
        self._probe = None
        self.stopped = False

    def start(self):
        """
        Make the first attempt after the check's delay.
        """
        self._call = self.loop.call_later(self.check.delay_seconds, self._attempt)

    def stop(self):
        """
        Check no more (the task is being killed, or has ended); an attempt
        under way is abandoned.
        """
        self.stopped = True
        for call in (self._call, self._timeout_call):
            if call is not None and call.active():
                call.cancel()
        if self._probe is not None:
            self._probe.cancel()
            self._probe = None

    def _attempt(self):
        self._call = None
        self.attempts += 1
        probe = self._probe = self.make_probe(self.check, self.environ, self.cwd)
        if self.check.timeout_seconds > 0:
            self._timeout_call = self.loop.call_later(
                self.check.timeout_seconds, self._timed_out, probe)
        probe.start(self.loop, lambda ok, message: self._ended(probe, ok, message))

    def _timed_out(self, probe):
        self._timeout_call = None
        if probe is self._probe:
            probe.cancel()
            self._ended(probe, False, f"{self.name} timed out after "
                                      f"{self.check.timeout_seconds:g} seconds")

    def _ended(self, probe, ok, message):
        if self.stopped or probe is not self._probe:
            return
        self._probe = None
        if self._timeout_call is not None and self._timeout_call.active():
            self._timeout_call.cancel()
        self._timeout_call = None
        now = self.loop.seconds()
        if ok:
            change = self.policy.success(now)
        else:
            self.warn(f"{self.name} failed: {message}")
            change = self.policy.failure(now)
        self._call = self.loop.call_later(self.check.interval_seconds, self._attempt)
        if change is not None:
            self.report(change, message)
