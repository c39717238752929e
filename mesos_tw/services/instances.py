"""
The records the service scheduler keeps: an app with its versions and back-off,
and each instance (a Mesos task) of it.
"""

import time
from dataclasses import dataclass, field

from mesos_tw.services.apps import AppDefinition

__all__ = ["AppRecord", "Instance", "iso_time"]


def iso_time(seconds):
    """
    A time as Marathon writes it (C{2026-12-06T01:02:03.456Z}).
    """
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{whole}.{int(seconds * 1000) % 1000:03d}Z"


@dataclass
class Instance:
    """
    One instance of an app: a task, where it runs, and what we know of it.

    @ivar healthy: what its health checks say, all together: C{True} if
        every one passed last time, C{False} if one failed, L{None} if one
        has not said yet (or it has none).
    @ivar mesos_healthy: the health its executor last reported (its app's
        Mesos health check), or L{None}.
    @ivar check_results: the latest result of each of its Marathon health
        checks that has one (Marathon's C{healthCheckResults} entries).
    @ivar killing: whether we asked for it to be killed.
    """

    task_id: str
    app_id: str
    version: str
    slave_id: str
    host: str
    ports: list
    attributes: dict
    staged_at: float
    state: str = "TASK_STAGING"
    healthy: object = None
    started_at: object = None
    killing: bool = False
    mesos_healthy: object = None
    check_results: list = field(default_factory=list)

    def to_json(self, has_health_checks=False):
        """
        As Marathon shows a task.
        """
        json = {"id": self.task_id, "appId": self.app_id, "host": self.host,
                "ports": list(self.ports), "slaveId": self.slave_id, "version": self.version,
                "stagedAt": iso_time(self.staged_at), "state": self.state,
                "startedAt": iso_time(self.started_at) if self.started_at else None}
        if has_health_checks:
            json["healthCheckResults"] = ([] if self.mesos_healthy is None else [
                {"alive": self.mesos_healthy, "taskId": self.task_id}]) + \
                [dict(result) for result in self.check_results]
        return json

    def to_record(self):
        """
        As the store keeps it.
        """
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_record(cls, record):
        """
        One read back from the store.
        """
        return cls(**record)


@dataclass
class AppRecord:
    """
    An app: its current definition and version, its instances, and its
    launch back-off.

    @ivar delay: the back-off before the next launch after a failure.
    @ivar not_before: no launch before this time (the back-off).
    """

    definition: AppDefinition
    version: str
    instances: dict = field(default_factory=dict)
    delay: float = 0.0
    not_before: float = 0.0
    deleting: bool = False

    @property
    def id(self):
        return self.definition.id

    def live(self):
        """
        Its instances not being killed.
        """
        return [i for i in self.instances.values() if not i.killing]

    def counts(self):
        """
        Marathon's C{tasksRunning}, C{tasksStaged}, C{tasksHealthy},
        C{tasksUnhealthy}.
        """
        instances = list(self.instances.values())
        return {"tasksRunning": sum(i.state == "TASK_RUNNING" for i in instances),
                "tasksStaged": sum(i.state in ("TASK_STAGING", "TASK_STARTING")
                                   for i in instances),
                "tasksHealthy": sum(i.healthy is True for i in instances),
                "tasksUnhealthy": sum(i.healthy is False for i in instances)}

    def to_record(self):
        """
        As the store keeps it.
        """
        return {"definition": self.definition.to_json(), "version": self.version,
                "deleting": self.deleting,
                "instances": [i.to_record() for i in self.instances.values()]}

    @classmethod
    def from_record(cls, record):
        """
        One read back from the store.
        """
        app = cls(AppDefinition.from_json(record["definition"]), record["version"],
                  deleting=record.get("deleting", False))
        for item in record["instances"]:
            instance = Instance.from_record(item)
            app.instances[instance.task_id] = instance
        return app
