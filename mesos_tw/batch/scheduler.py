"""
The batch framework's scheduler: runs the tasks of submitted jobs as
command tasks, placing each by delay scheduling
(L{mesos_tw.batch.locality}), retrying failed ones on other hosts, and
declining what it cannot use with a filter that lasts until some waiting
task would take it.
"""

import itertools

from twisted.logger import Logger

from mesos_tw.batch import run as states
from mesos_tw.batch.locality import DelayScheduling, placement_level, rank
from mesos_tw.batch.run import Attempt, JobRun
from mesos_tw.interface import Scheduler, mesos_pb2
from mesos_tw.resources import Resources

__all__ = ["BatchScheduler", "DEFAULT_REFUSE_SECONDS", "IDLE_REFUSE_SECONDS", "MAX_ENDED_JOBS"]

#: The filter on an offer no waiting task could take however long it waits
#: (too small, or a host its tasks failed on): Mesos's default.
DEFAULT_REFUSE_SECONDS = 5.0

#: The filter on offers declined with nothing left to run; new tasks revive.
IDLE_REFUSE_SECONDS = 300.0

#: How many ended jobs a long-running instance keeps for their reports.
MAX_ENDED_JOBS = 1000

_SUCCESS = frozenset({"TASK_FINISHED"})
_NOT_RETRIED = frozenset({"TASK_ERROR"})
_FAILURES = frozenset({"TASK_FAILED", "TASK_LOST", "TASK_KILLED", "TASK_ERROR",
                       "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR"})


def _scalar(offer, name):
    return sum(r.scalar.value for r in offer.resources if r.name == name)


def _fits(task, cpus, mem):
    return task.spec.cpus <= cpus + 1e-9 and task.spec.mem <= mem + 1e-9


def rack_of(offer):
    """
    The text of the offer's slave's C{rack} attribute, or L{None}.
    """
    for attribute in offer.attributes:
        if attribute.name == "rack" and attribute.HasField("text"):
            return attribute.text.value
    return None


class BatchScheduler(Scheduler):
    """
    Runs jobs' tasks on the offers it gets.

    @param clock: gives the time (C{seconds()}); waits are measured on it.
    @param locality_wait: seconds a task waits at each locality level.
    @param on_change: called with a L{JobRun} each time one of its tasks
        changes state.
    @ivar jobs: C{{job id: JobRun}} in submission order (the
        L{MAX_ENDED_JOBS} latest ended ones, and every running one).
    @ivar driver: the driver, once a callback has given it.
    """

    log = Logger()

    def __init__(self, clock, locality_wait=5.0, on_change=None):
        self.clock = clock
        self.delay = DelayScheduling(locality_wait)
        self.on_change = on_change or (lambda job: None)
        self.jobs = {}
        self.driver = None
        self.errors = []
        self._pending = []
        self._attempts = {}
        self._racks = {}
        self._hosts = set()
        self._job_numbers = itertools.count(1)
        self._ended_jobs = []

    # Jobs.

    def submit(self, spec, job_id=None):
        """
        Queue the tasks of C{spec} (a L{JobSpec}) and revive offers.

        @return: the L{JobRun}.
        """
        job_id = job_id or f"job-{next(self._job_numbers)}"
        if job_id in self.jobs:
            raise ValueError(f"job id {job_id!r} is already used")
        job = JobRun(job_id, spec, self.clock.seconds())
        self.jobs[job_id] = job
        job.ended.addCallback(self._forget_old)
        self._pending.extend(job.tasks)
        self._revive()
        self.on_change(job)
        return job

    def cancel(self, job_id):
        """
        Cancel a job: its waiting tasks are dropped, its launched ones
        killed (they end C{cancelled} when their kill is reported).

        @raise KeyError: no such job.
        """
        job = self.jobs[job_id]
        if job.done:
            return job
        job.cancelled = True
        now = self.clock.seconds()
        for task in job.tasks:
            if task.state == states.PENDING:
                self._pending.remove(task)
                task.state = states.CANCELLED
                task.message = "cancelled before it was launched"
            elif task.state in (states.STAGING, states.RUNNING) and self.driver is not None:
                self.driver.killTask(mesos_pb2.TaskID(value=task.attempts[-1].task_id))
        job.end_if_done(now)
        self.on_change(job)
        return job

    def _forget_old(self, job):
        self._ended_jobs.append(job.id)
        while len(self._ended_jobs) > MAX_ENDED_JOBS:
            old = self.jobs.pop(self._ended_jobs.pop(0))
            for task in old.tasks:
                for attempt in task.attempts:
                    self._attempts.pop(attempt.task_id, None)
        return job

    def _revive(self):
        if self.driver is not None:
            self.driver.reviveOffers()

    # Placement; subclasses may refine these.

    def accepts_host(self, hostname):
        """
        Whether tasks may run on C{hostname} at all (every host, here; a
        statically partitioned framework says no to the others).
        """
        return True

    def task_info(self, task, offer, attempt):
        """
        The C{TaskInfo} launching C{attempt} of C{task} on C{offer}.
        """
        spec = task.spec
        return mesos_pb2.TaskInfo(
            name=f"{task.job.spec.name} {spec.id}",
            task_id=mesos_pb2.TaskID(value=attempt.task_id),
            slave_id=offer.slave_id,
            command=mesos_pb2.CommandInfo(value=spec.command),
            resources=Resources({"cpus": float(spec.cpus), "mem": float(spec.mem)}).to_protobuf(),
        )

    def _racks_of(self, task):
        racks = set(task.spec.racks)
        racks.update(self._racks[host] for host in task.spec.hosts if host in self._racks)
        return racks

    def _skipped_for(self, job, now):
        return None if job.skipped_since is None else now - job.skipped_since

    def _step(self, job, now):
        return self.delay.step(job.locality_step, self._skipped_for(job, now))

    def _choose(self, hostname, rack, cpus, mem, now):
        """
        The waiting tasks to launch on a slave with C{cpus} and C{mem}
        free: the best placed first, each only if its job's step allows
        it.  Jobs that could have used the room left but launch nothing
        here start being skipped.
        """
        candidates, usable = [], []
        for order, task in enumerate(self._pending):
            if hostname in task.excluded_hosts and not task.excluded_hosts >= self._hosts:
                continue
            usable.append(task)
            racks = self._racks_of(task)
            level = placement_level(task.spec.hosts, racks, hostname, rack)
            if self.delay.accepts(task.spec.hosts, racks, self._step(task.job, now), level):
                candidates.append((rank(level), order, task, level))
        chosen = []
        for _, _, task, level in sorted(candidates, key=lambda c: c[:2]):
            if _fits(task, cpus, mem):
                cpus -= task.spec.cpus
                mem -= task.spec.mem
                chosen.append((task, level))
        launching = {task.job.id for task, _ in chosen}
        for task in usable:
            job = task.job
            if job.id not in launching and job.skipped_since is None and _fits(task, cpus, mem):
                job.skipped_since = now
        return chosen

    def _refuse_seconds(self, now):
        """
        How long to filter what is left of an offer: until the first
        waiting job reaches its next step, at most
        L{DEFAULT_REFUSE_SECONDS}; L{IDLE_REFUSE_SECONDS} with nothing
        waiting.
        """
        if not self._pending:
            return IDLE_REFUSE_SECONDS
        changes = [self.delay.next_change(self._step(job, now), self._skipped_for(job, now))
                   for job in {task.job.id: task.job for task in self._pending}.values()]
        changes = [change for change in changes if change is not None]
        return min([DEFAULT_REFUSE_SECONDS, *changes])

    # Scheduler callbacks.

    def registered(self, driver, frameworkId, masterInfo):
        """
        Keep the driver; offers follow.
        """
        self.driver = driver
        self.log.info("Registered as framework {framework_id}", framework_id=frameworkId.value)

    def reregistered(self, driver, masterInfo):
        """
        Keep the driver after a master failover.
        """
        self.driver = driver

    def resourceOffers(self, driver, offers):
        """
        Launch what delay scheduling allows on each offer; decline the
        rest with a filter.  A retry avoids the hosts its task failed on
        unless it failed on every host seen so far.
        """
        self.driver = driver
        now = self.clock.seconds()
        for offer in offers:
            self._hosts.add(offer.hostname)
            rack = rack_of(offer)
            if rack is not None:
                self._racks[offer.hostname] = rack
        for offer in offers:
            chosen = []
            if self.accepts_host(offer.hostname):
                chosen = self._choose(offer.hostname, rack_of(offer), _scalar(offer, "cpus"),
                                      _scalar(offer, "mem"), now)
            infos = [self._launch(task, level, offer, now) for task, level in chosen]
            filters = mesos_pb2.Filters(refuse_seconds=self._refuse_seconds(now))
            if infos:
                driver.launchTasks([offer.id], infos, filters)
            else:
                driver.declineOffer(offer.id, filters)

    def _launch(self, task, level, offer, now):
        self._pending.remove(task)
        attempt = Attempt(
            task_id=f"{task.job.id}.{task.spec.id}.{len(task.attempts)}",
            host=offer.hostname, rack=rack_of(offer), level=level, launched_at=now)
        task.attempts.append(attempt)
        task.state = states.STAGING
        task.job.locality_step = self.delay.step_of(task.spec.hosts, self._racks_of(task), level)
        task.job.skipped_since = None
        self._attempts[attempt.task_id] = (task, attempt)
        self.on_change(task.job)
        return self.task_info(task, offer, attempt)

    def statusUpdate(self, driver, status):
        """
        Follow a task: running, finished, or failed (tried again on another
        host while it has retries left).
        """
        self.driver = driver
        found = self._attempts.get(status.task_id.value)
        if found is None:
            self.log.warn("Status update for unknown task {task_id}",
                          task_id=status.task_id.value)
            return
        task, attempt = found
        name = mesos_pb2.TaskState.Name(status.state)
        if attempt.state is not None:
            return
        now = self.clock.seconds()
        if name == "TASK_RUNNING":
            if attempt.started_at is None:
                attempt.started_at = now
                task.state = states.RUNNING
        elif name in _SUCCESS or name in _FAILURES:
            attempt.state, attempt.ended_at, attempt.message = name, now, status.message
            if attempt.started_at is None:
                attempt.started_at = now
            self._ended(task, attempt, name, status.message, now)
        else:
            return
        self.on_change(task.job)
        task.job.end_if_done(now)

    def _ended(self, task, attempt, name, message, now):
        if name in _SUCCESS:
            task.state, task.message = states.FINISHED, ""
        elif task.job.cancelled:
            task.state, task.message = states.CANCELLED, f"cancelled ({name})"
        elif name in _NOT_RETRIED or task.retries >= task.spec.max_retries:
            task.state = states.FAILED
            task.message = f"{name} on {attempt.host}: {message}".rstrip(": ")
        else:
            self.log.info("Task {task_id} {state} on {host}; trying it elsewhere",
                          task_id=attempt.task_id, state=name, host=attempt.host)
            task.excluded_hosts.add(attempt.host)
            task.state, task.waiting_since = states.PENDING, now
            task.message = f"{name} on {attempt.host}: {message}".rstrip(": ")
            self._pending.append(task)
            self._revive()

    def error(self, driver, message):
        """
        The driver was aborted: every unfinished job fails, saying why.
        """
        self.errors.append(message)
        now = self.clock.seconds()
        for job in self.jobs.values():
            for task in job.tasks:
                if task.state not in states.TERMINAL:
                    task.state, task.message = states.FAILED, f"framework error: {message}"
            self._pending.clear()
            job.end_if_done(now)
            self.on_change(job)

    @property
    def pending(self):
        """
        The tasks waiting for an offer, in the order they are considered.
        """
        return list(self._pending)
