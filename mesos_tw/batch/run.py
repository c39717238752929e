"""
A job while it runs: each task's attempts (where, at which locality, how
long), the job's counts, and its final report.

A task is C{pending} (waiting for an offer), C{staging} (launched, not yet
running), C{running}, then C{finished}, C{failed} (its last attempt failed
and it has no retries left, or it was invalid) or C{cancelled}.
"""

from dataclasses import dataclass, field

from twisted.internet.defer import Deferred

from mesos_tw.batch.locality import LEVELS

__all__ = ["Attempt", "JobRun", "TaskRun", "TERMINAL"]

PENDING, STAGING, RUNNING = "pending", "staging", "running"
FINISHED, FAILED, CANCELLED = "finished", "failed", "cancelled"

#: The states a task does not leave.
TERMINAL = frozenset({FINISHED, FAILED, CANCELLED})


@dataclass
class Attempt:
    """
    One launch of a task on one host.
    """

    task_id: str
    host: str
    rack: object
    level: str
    launched_at: float
    started_at: float = None
    ended_at: float = None
    state: str = None
    message: str = ""


@dataclass
class TaskRun:
    """
    A task of a running job.

    @ivar waiting_since: when it last became pending (its wait, in the
        report, counts from here).
    @ivar excluded_hosts: hosts where an attempt failed; retries go
        elsewhere.
    """

    spec: object
    job: object
    waiting_since: float
    state: str = PENDING
    attempts: list = field(default_factory=list)
    excluded_hosts: set = field(default_factory=set)
    message: str = ""

    @property
    def retries(self):
        """
        How many times the task was launched again after a failure.
        """
        return max(0, len(self.attempts) - 1)

    def to_json(self, now):
        """
        The task's line of the report.
        """
        last = self.attempts[-1] if self.attempts else None
        ran = None
        if last is not None and last.started_at is not None:
            ran = (last.ended_at if last.ended_at is not None else now) - last.started_at
        return {
            "id": self.spec.id,
            "state": self.state,
            "host": last.host if last else None,
            "rack": last.rack if last else None,
            "locality": last.level if last else None,
            "attempts": len(self.attempts),
            "hosts_tried": [attempt.host for attempt in self.attempts],
            "wait_seconds": (round(last.launched_at - self.waiting_since, 3)
                             if last else round(now - self.waiting_since, 3)),
            "run_seconds": round(ran, 3) if ran is not None else None,
            "message": self.message,
        }


class JobRun:
    """
    A submitted job and its tasks.

    @ivar ended: a Deferred firing with this job once every task is in a
        terminal state.
    @ivar locality_step: its delay-scheduling step after its last launch
        (L{mesos_tw.batch.locality.DelayScheduling}).
    @ivar skipped_since: since when it has been skipped (offered room it
        could use but launching nothing there), or L{None}.
    """

    def __init__(self, job_id, spec, now):
        self.id = job_id
        self.spec = spec
        self.submitted_at = now
        self.ended_at = None
        self.cancelled = False
        self.locality_step = 0
        self.skipped_since = None
        self.tasks = [TaskRun(spec=task, job=self, waiting_since=now) for task in spec.tasks]
        self.ended = Deferred()

    @property
    def done(self):
        """
        Whether every task is finished, failed or cancelled.
        """
        return all(task.state in TERMINAL for task in self.tasks)

    def counts(self):
        """
        How many tasks are in each state.
        """
        counts = dict.fromkeys((PENDING, STAGING, RUNNING, FINISHED, FAILED, CANCELLED), 0)
        for task in self.tasks:
            counts[task.state] += 1
        return counts

    @property
    def state(self):
        """
        C{running}, or how the job ended: C{finished} (every task did),
        C{cancelled} or C{failed}.
        """
        if not self.done:
            return RUNNING
        if self.cancelled:
            return CANCELLED
        return FINISHED if all(task.state == FINISHED for task in self.tasks) else FAILED

    def end_if_done(self, now):
        """
        Record the end and fire L{ended} when the last task got there.
        """
        if self.done and self.ended_at is None:
            self.ended_at = now
            self.ended.callback(self)

    def locality(self):
        """
        The fractions of launched tasks whose last attempt ran at node,
        rack and any locality.
        """
        levels = [task.attempts[-1].level for task in self.tasks if task.attempts]
        return {level: (levels.count(level) / len(levels) if levels else 0.0)
                for level in LEVELS}

    def report(self, now):
        """
        The job's report as a JSON-ready dict (final once L{done}).
        """
        counts = self.counts()
        end = self.ended_at if self.ended_at is not None else now
        return {
            "id": self.id,
            "name": self.spec.name,
            "state": self.state,
            "tasks": [task.to_json(now) for task in self.tasks],
            "finished": counts[FINISHED],
            "failed": counts[FAILED],
            "cancelled": counts[CANCELLED],
            "pending": counts[PENDING],
            "staging": counts[STAGING],
            "running": counts[RUNNING],
            "retries": sum(task.retries for task in self.tasks),
            "makespan_seconds": round(end - self.submitted_at, 3),
            "locality": self.locality(),
        }
