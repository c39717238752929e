"""
The MPI framework's scheduler: it gang-schedules the job's ranks
(L{mesos_tw.mpi.gang}), starts mpiexec with hydra's manual launcher on the
hosts it got (L{mesos_tw.mpi.hydra}), launches each host's proxy as a
Mesos command task on that host's held offers, and ends the job when
mpiexec has exited and every proxy task has ended.  A proxy task that
fails (a rank died, a task was killed, a slave was lost) fails the job:
the other proxies are killed and mpiexec stopped.
"""

import shlex

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from mesos_tw.interface import Scheduler, mesos_pb2
from mesos_tw.mpi.gang import Gang
from mesos_tw.mpi.hydra import Hydra, HydraError, host_labels
from mesos_tw.resources import Resources

__all__ = ["GANG_FAILED", "MPIScheduler"]

#: The exit status of a job whose ranks could not all be placed or started.
GANG_FAILED = 3

#: The filter on offers declined once the gang is complete.
IDLE_REFUSE_SECONDS = 300.0

_TERMINAL = frozenset({"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR",
                       "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR"})

GATHERING, STARTING, RUNNING, ENDED = "gathering", "starting", "running", "ended"


class MPIScheduler(Scheduler):
    """
    Runs one MPI job of C{ranks} ranks of C{argv}.

    @param reactor: for the gang timeout and for spawning mpiexec.
    @param cpus: cpus per rank; C{mem}: megabytes per rank.
    @param gang_timeout: seconds to gather every rank's resources.
    @param hydra_factory: makes the L{Hydra} (tests pass a fake).
    @ivar result: fires with C{(exit status, message)} when the job ends.
    @ivar proxies: C{{task id: ProxyTask}} once launched.
    """

    log = Logger()

    def __init__(self, reactor, ranks, argv, on_output, on_error, cpus=1.0, mem=128.0,
                 gang_timeout=30.0, hydra_factory=Hydra, mpiexec="mpiexec", extra_args=()):
        self.reactor = reactor
        self.argv = list(argv)
        self.on_output = on_output
        self.on_error = on_error
        self.gang = Gang(ranks, cpus, mem)
        self.gang_timeout = gang_timeout
        self.hydra_factory = hydra_factory
        self.mpiexec = mpiexec
        self.extra_args = list(extra_args)
        self.state = GATHERING
        self.driver = None
        self.hydra = None
        self.placement = None
        self.proxies = {}
        self.mpiexec_status = None
        self.failure = None
        self.result = Deferred()
        self._timer = None

    # Gathering the gang.

    def registered(self, driver, frameworkId, masterInfo):
        """
        Start the gang timeout.
        """
        self.driver = driver
        if self._timer is None and self.state == GATHERING:
            self._timer = self.reactor.callLater(self.gang_timeout, self._give_up)

    def reregistered(self, driver, masterInfo):
        """
        Keep the driver after a master failover.
        """
        self.driver = driver

    def resourceOffers(self, driver, offers):
        """
        Hold offers until every rank fits, then start the job on them.
        """
        self.driver = driver
        for offer in offers:
            if self.state != GATHERING:
                driver.declineOffer(offer.id, mesos_pb2.Filters(refuse_seconds=IDLE_REFUSE_SECONDS))
            elif not self.gang.hold(offer):
                driver.declineOffer(offer.id, mesos_pb2.Filters())
        if self.state == GATHERING:
            placement = self.gang.placement()
            if placement is not None:
                self._start(placement)

    def offerRescinded(self, driver, offerId):
        """
        A held offer is gone: stop counting it.
        """
        if self.state == GATHERING:
            self.gang.forget(offerId)

    def _give_up(self):
        self._timer = None
        if self.state != GATHERING:
            return
        held = self.gang.held_ranks()
        self._give_back()
        self._end(GANG_FAILED, f"only {held} of {self.gang.ranks} ranks could be placed "
                               f"within {self.gang_timeout:g} s; every held offer was given back")

    def _give_back(self):
        for offer in self.gang.release():
            self.driver.declineOffer(offer.id, mesos_pb2.Filters())

    # Starting the job.

    def _start(self, placement):
        self.state = STARTING
        self.placement = placement
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        idle = mesos_pb2.Filters(refuse_seconds=IDLE_REFUSE_SECONDS)
        for offer in placement.unused:
            self.driver.declineOffer(offer.id, idle)
        labels = host_labels([offers[0].hostname for offers, _ in placement.hosts])
        self.hydra = self.hydra_factory(
            self.reactor, list(zip(labels, [count for _, count in placement.hosts])), self.argv,
            self.on_output, self.on_error, mpiexec=self.mpiexec, extra_args=self.extra_args)
        try:
            self.hydra.start()
        except HydraError as error:
            self._not_started(error)
            return
        self._timer = self.reactor.callLater(self.gang_timeout, self._launch_timed_out)
        self.hydra.launches.addCallbacks(self._launch, lambda f: self._not_started(f.value))
        self.hydra.launches.addErrback(self._crashed)
        self.hydra.exited.addCallback(self._mpiexec_exited).addErrback(self._crashed)

    def _launch_timed_out(self):
        self._timer = None
        if self.state == STARTING:
            self.hydra.kill()
            self._not_started(HydraError(
                f"mpiexec printed no proxy commands within {self.gang_timeout:g} s"))

    def _crashed(self, failure):
        self.log.failure("MPI scheduler failed", failure)
        self._fail(f"internal error: {failure.getErrorMessage()}")
        if self.state != ENDED:
            self._end(1, self.failure)

    def _not_started(self, error):
        if self.state != STARTING:
            return
        for offers, _ in self.placement.hosts:
            for offer in offers:
                self.driver.declineOffer(offer.id, mesos_pb2.Filters())
        self.gang.release()
        self._end(GANG_FAILED, str(error))

    def _launch(self, proxies):
        if self.state != STARTING:
            return
        self.state = RUNNING
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        self.gang.release()
        first_rank = 0
        for proxy_id, (offers, count) in enumerate(self.placement.hosts):
            task_id = f"proxy-{proxy_id}"
            ranks = (first_rank, first_rank + count - 1)
            first_rank += count
            self.proxies[task_id] = ProxyTask(task_id, offers[0].hostname, ranks)
            task = mesos_pb2.TaskInfo(
                name=f"MPI ranks {ranks[0]}-{ranks[1]} on {offers[0].hostname}",
                task_id=mesos_pb2.TaskID(value=task_id), slave_id=offers[0].slave_id,
                command=mesos_pb2.CommandInfo(value=shlex.join(proxies[proxy_id])),
                resources=Resources({"cpus": float(self.gang.cpus * count),
                                     "mem": float(self.gang.mem * count)}).to_protobuf())
            self.driver.launchTasks([offer.id for offer in offers], [task],
                                    mesos_pb2.Filters(refuse_seconds=IDLE_REFUSE_SECONDS))

    # Following it.

    def statusUpdate(self, driver, status):
        """
        A proxy task changed state; one that did not finish fails the job.
        """
        proxy = self.proxies.get(status.task_id.value)
        name = mesos_pb2.TaskState.Name(status.state)
        if proxy is None or proxy.state in _TERMINAL:
            return
        proxy.state = name
        if name not in _TERMINAL:
            return
        if name != "TASK_FINISHED":
            self._fail(f"{proxy.describe()} ended {name}"
                       + (f": {status.message}" if status.message else ""))
        self._end_if_done()

    def _mpiexec_exited(self, status):
        self.mpiexec_status = status
        if status != 0:
            self._fail(f"mpiexec exited with status {status}")
        self._end_if_done()

    def _fail(self, message):
        """
        The job has failed: kill every proxy still going and mpiexec.
        """
        if self.failure is not None:
            return
        self.failure = message
        self.log.warn("MPI job failed: {message}", message=message)
        for proxy in self.proxies.values():
            if proxy.state not in _TERMINAL:
                self.driver.killTask(mesos_pb2.TaskID(value=proxy.task_id))
        if self.hydra is not None:
            self.hydra.kill()

    def _end_if_done(self):
        if self.state != RUNNING or self.mpiexec_status is None:
            return
        if any(proxy.state not in _TERMINAL for proxy in self.proxies.values()):
            return
        if self.failure is None:
            self._end(0, f"{self.gang.ranks} ranks finished")
        else:
            self._end(self.mpiexec_status or 1, self.failure)

    def _end(self, status, message):
        self.state = ENDED
        self.result.callback((status, message))

    def error(self, driver, message):
        """
        The driver was aborted: the job fails.
        """
        self._fail(f"framework error: {message}")
        if self.state != ENDED:
            self._end(GANG_FAILED if self.state == GATHERING else 1, f"framework error: {message}")


class ProxyTask:
    """
    One host's proxy task: where it runs, which ranks, its latest state.
    """

    def __init__(self, task_id, host, ranks):
        self.task_id = task_id
        self.host = host
        self.ranks = ranks
        self.state = "TASK_STAGING"

    def describe(self):
        """
        C{proxy-1 (ranks 2-3 on h2)}.
        """
        return f"{self.task_id} (ranks {self.ranks[0]}-{self.ranks[1]} on {self.host})"
