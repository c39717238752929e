"""
The slave's resource monitor: every C{--resource_monitoring_interval} it
asks the isolator for the usage of each running executor and keeps the
latest sample, for C{/monitor/statistics} and the master's view of usage.
"""

from twisted.internet.defer import gatherResults
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from mesos_tw.isolation.interface import UnknownContainer

__all__ = ["ResourceMonitor", "Sample"]


class Sample:
    """
    The latest usage of one executor.

    @ivar statistics: a C{mesos.ResourceStatistics}.
    """

    def __init__(self, framework_id, executor_id, executor_info, statistics):
        self.framework_id = framework_id
        self.executor_id = executor_id
        self.executor_info = executor_info
        self.statistics = statistics


class ResourceMonitor:
    """
    Samples the usage of running executors.

    @param clock: schedules the samples (the reactor).
    @param isolator: an L{mesos_tw.isolation.interface.IIsolator}.
    @param executors: called with no arguments, returns the running
        executors as C{(framework_id, executor_id, executor_info)}.
    @param interval: seconds between samples.
    @param sampled: called with the list of latest L{Sample}s after every
        round of sampling (the slave reports them to its master), or
        L{None}.
    """

    log = Logger()

    def __init__(self, clock, isolator, executors, interval, sampled=None):
        if interval <= 0:
            raise ValueError(f"the monitoring interval must be positive, not {interval!r}")
        self.clock = clock
        self.isolator = isolator
        self.executors = executors
        self.interval = interval
        self.sampled = sampled
        self._samples = {}
        self._loop = None

    def start(self, now=True):
        """
        Sample every C{interval} seconds, starting now (or, if not C{now},
        in C{interval} seconds).
        """
        if self._loop is None:
            self._loop = LoopingCall(self.sample)
            self._loop.clock = self.clock
            self._loop.start(self.interval, now=now).addErrback(
                lambda failure: self.log.failure("Resource monitoring stopped", failure))

    def stop(self):
        """
        Stop sampling.
        """
        if self._loop is not None:
            if self._loop.running:
                self._loop.stop()
            self._loop = None

    def sample(self):
        """
        Ask for the usage of every running executor; forget executors that
        are no longer running.  Once every answer is in, C{sampled} is
        called with the latest samples.

        @return: a Deferred that fires when every answer is in.
        """
        running = {(f, e): info for f, e, info in self.executors()}
        for key in list(self._samples):
            if key not in running:
                del self._samples[key]
        asks = []
        for (framework_id, executor_id), info in running.items():
            d = self.isolator.usage(framework_id, executor_id)
            d.addCallbacks(self._store, self._unavailable,
                           callbackArgs=(framework_id, executor_id, info),
                           errbackArgs=(framework_id, executor_id))
            asks.append(d)
        return gatherResults(asks).addCallback(self._round_done)

    def _round_done(self, _):
        if self.sampled is not None:
            self.sampled(self.samples())

    def _store(self, statistics, framework_id, executor_id, info):
        self._samples[(framework_id, executor_id)] = Sample(
            framework_id, executor_id, info, statistics)

    def _unavailable(self, failure, framework_id, executor_id):
        # No usage to keep.  An executor that has not yet started (its
        # launch queued behind hundreds of others) or has just ended has
        # no container running: that is expected, and not logged (a debug
        # event per executor per round was 5% of mesos-local's time in a
        # profile of 500 command tasks launched at once).  Other errors
        # are logged, at debug level as before.  (Failure.check walks the
        # exception's classes: about 0.1 ms a call under cProfile, load 23.)
        self._samples.pop((framework_id, executor_id), None)
        if not isinstance(failure.value, UnknownContainer):
            self.log.debug("No usage for executor {executor_id}: {error}",
                           executor_id=executor_id, error=failure.getErrorMessage())

    def samples(self):
        """
        The latest L{Sample} of each running executor.
        """
        return list(self._samples.values())
