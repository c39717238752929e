"""
Deployments: how an app's instances move to its current version within its
upgrade strategy (Marathon's rolling restart).

With C{n} instances wanted, at least C{ceil(n * minimumHealthCapacity)}
instances stay ready (running, and healthy when the app has health checks)
and at most C{n + floor(n * maximumOverCapacity)} exist at once.  An old
instance is killed only while enough others are ready without it, so a new
version that never becomes healthy never takes the old one below
C{minimumHealthCapacity}.
"""

import math
import uuid
from dataclasses import dataclass, field

__all__ = ["Deployment", "Step", "plan", "ready"]


def ready(instance, has_health_checks):
    """
    Whether an instance serves: running, and healthy if it is checked.
    """
    if instance.state != "TASK_RUNNING":
        return False
    return instance.healthy is True if has_health_checks else instance.healthy is not False


@dataclass
class Step:
    """
    What to do now for one app.

    @ivar kill: the instances to kill.
    @ivar launch: how many new instances to launch.
    @ivar done: whether the app has converged (its deployment, if any, is
        finished).
    """

    kill: list
    launch: int
    done: bool


def _kill_order(instance):
    # Instances that do not serve go first, then the newest.
    return (instance.state == "TASK_RUNNING" and instance.healthy is not False,
            -instance.staged_at)


def plan(app, version, instances):
    """
    The next step for C{app} (an L{AppDefinition}) at C{version}, given its
    live instances (those not being killed).
    """
    checked = bool(app["healthChecks"])
    wanted = app.instances
    new = [i for i in instances if i.version == version]
    old = [i for i in instances if i.version != version]
    if not old:
        if len(new) > wanted:
            extra = sorted(new, key=_kill_order)[:len(new) - wanted]
            return Step(kill=extra, launch=0, done=False)
        launch = wanted - len(new)
        done = launch == 0 and all(ready(i, checked) for i in new)
        return Step(kill=[], launch=launch, done=done)
    strategy = app["upgradeStrategy"]
    minimum = math.ceil(wanted * strategy["minimumHealthCapacity"])
    maximum = wanted + math.floor(wanted * strategy["maximumOverCapacity"])
    serving = sum(ready(i, checked) for i in new) + sum(ready(i, False) for i in old)
    kill = []
    for instance in sorted(old, key=_kill_order):
        losing = 1 if ready(instance, False) else 0
        if serving - losing < minimum:
            break
        kill.append(instance)
        serving -= losing
    remaining = len(old) - len(kill)
    launch = max(0, min(wanted - len(new), maximum - len(new) - remaining))
    if launch == 0 and len(new) < wanted and remaining and not kill:
        # Full: make room by killing one old instance that does not serve.
        idle = [i for i in old if not ready(i, False)]
        kill = idle[:1]
    return Step(kill=kill, launch=launch, done=False)


@dataclass
class Deployment:
    """
    A change of an app being carried out (Marathon's deployment plan, one
    app at a time).

    @ivar kind: C{StartApplication}, C{ScaleApplication},
        C{RestartApplication} or C{StopApplication} (Marathon's action
        names).
    @ivar previous: the app's definition and version before, as JSON, for
        a rollback (L{None} for a new app).
    """

    app_id: str
    version: str
    kind: str
    previous: object = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def to_json(self):
        """
        As Marathon's C{GET /v2/deployments} shows it.
        """
        action = {"action": self.kind, "app": self.app_id}
        return {"id": self.id, "version": self.version, "affectedApps": [self.app_id],
                "steps": [{"actions": [action]}], "currentActions": [action],
                "currentStep": 1, "totalSteps": 1}

    def to_record(self):
        """
        As the store keeps it.
        """
        return {"id": self.id, "app_id": self.app_id, "version": self.version,
                "kind": self.kind, "previous": self.previous}

    @classmethod
    def from_record(cls, record):
        """
        One read back from the store.
        """
        return cls(app_id=record["app_id"], version=record["version"], kind=record["kind"],
                   previous=record["previous"], id=record["id"])
