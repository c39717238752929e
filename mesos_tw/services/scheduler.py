"""
The service scheduler: a Mesos framework that keeps every app's instances
running at its current version.  It launches on offers that fit
(L{mesos_tw.services.placement}), replaces instances that end (with
exponential back-off per app), scales, rolls out new versions within their
upgrade strategy (L{mesos_tw.services.deployments}), and persists what it
knows in its store so that a successor carries on without restarting
anything.
"""

from twisted.logger import Logger

from mesos_tw.interface import Scheduler
from mesos_tw.protocols import mesos_pb2
from mesos_tw.services.apps import MESOS_HEALTH_PROTOCOLS, AppDefinition
from mesos_tw.services.deployments import Deployment, plan, ready
from mesos_tw.services.health import MARATHON_PROTOCOLS, MarathonHealthChecks, probe
from mesos_tw.services.instances import AppRecord, Instance, iso_time
from mesos_tw.services.placement import OfferSpace, task_id_for

__all__ = ["AppLocked", "NoSuchApp", "ServiceScheduler"]

TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR",
            "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNREACHABLE",
            "TASK_UNKNOWN"}

#: How long declined offers stay away while nothing needs launching.
IDLE_REFUSE_SECONDS = 5.0


class NoSuchApp(KeyError):
    """
    No app has that id.
    """


class AppLocked(Exception):
    """
    A deployment of the app is under way (Marathon's 409).

    @ivar deployment: that L{Deployment}.
    """

    def __init__(self, deployment):
        Exception.__init__(self, deployment.id)
        self.deployment = deployment


class ServiceScheduler(Scheduler):
    """
    Keeps apps running.

    @param reactor: for time and timers.
    @param store: where the state is saved (an L{mesos_tw.services.store}
        store); C{save(state)} is called after each change.
    @param state: the state read from the store at start, or L{None}.
    @param health_probe: how one attempt at a Marathon health check is made
        (L{mesos_tw.services.health.probe}; tests give their own).
    @ivar apps: C{{app_id: AppRecord}}.
    @ivar deployments: C{{deployment_id: Deployment}}.
    @ivar driver: the scheduler driver, once registered.
    """

    log = Logger()

    def __init__(self, reactor, store, state=None, new_task_id=task_id_for,
                 health_probe=probe):
        self.reactor = reactor
        self.store = store
        self.new_task_id = new_task_id
        self.health = MarathonHealthChecks(reactor, self._health_changed, self._health_failed,
                                           health_probe)
        self.apps = {}
        self.deployments = {}
        self.framework_id = None
        self.driver = None
        self._save_call = None
        self._wake_calls = {}
        self._version_time = float("-inf")
        if state:
            self.framework_id = state.get("framework_id")
            for record in state.get("apps", []):
                app = AppRecord.from_record(record)
                self.apps[app.id] = app
            for record in state.get("deployments", []):
                deployment = Deployment.from_record(record)
                self.deployments[deployment.id] = deployment

    # Persistence.

    def state(self):
        """
        Everything a successor needs, as JSON.
        """
        return {"framework_id": self.framework_id,
                "apps": [app.to_record() for app in self.apps.values()],
                "deployments": [d.to_record() for d in self.deployments.values()]}

    def _changed(self):
        if self._save_call is None or not self._save_call.active():
            self._save_call = self.reactor.callLater(0, self._save)

    def _save(self):
        self._save_call = None
        d = self.store.save(self.state())
        d.addErrback(lambda failure: self.log.failure("Could not save the state", failure))

    # The apps, for the API.

    def now_version(self):
        """
        A new version stamp: the time now, as Marathon writes it (a
        millisecond later than the last one, if the clock has not moved).
        """
        self._version_time = max(self.reactor.seconds(), self._version_time + 0.001)
        return iso_time(self._version_time)

    def deployment_of(self, app_id):
        """
        The deployment under way for C{app_id}, or L{None}.
        """
        return next((d for d in self.deployments.values() if d.app_id == app_id), None)

    def _locked(self, app_id, force):
        deployment = self.deployment_of(app_id)
        if deployment is not None:
            if not force:
                raise AppLocked(deployment)
            del self.deployments[deployment.id]

    def create(self, definition):
        """
        Add a new app; its deployment starts its instances.
        """
        version = self.now_version()
        app = self.apps[definition.id] = AppRecord(definition, version)
        app.delay = definition["backoffSeconds"]
        return self._deploy(app, "StartApplication", previous=None)

    def update(self, definition, force=False):
        """
        Change an app: a new instance count alone scales it; any other
        change rolls out a new version.

        @raise AppLocked: a deployment of it is under way (unless C{force}).
        """
        app = self._app(definition.id)
        self._locked(app.id, force)
        previous = {"definition": app.definition.to_json(), "version": app.version}
        scale_only = app.definition.differs_only_in_scale(definition)
        app.definition = definition
        app.delay, app.not_before = definition["backoffSeconds"], 0.0
        if not scale_only:
            app.version = self.now_version()
        return self._deploy(app, "ScaleApplication" if scale_only else "RestartApplication",
                            previous)

    def restart(self, app_id, force=False):
        """
        Replace every instance (a new version of the same definition).
        """
        app = self._app(app_id)
        self._locked(app_id, force)
        previous = {"definition": app.definition.to_json(), "version": app.version}
        app.version = self.now_version()
        return self._deploy(app, "RestartApplication", previous)

    def delete(self, app_id, force=False):
        """
        Kill every instance; the app goes once none is left.
        """
        app = self._app(app_id)
        self._locked(app_id, force)
        app.deleting = True
        app.definition = app.definition.with_changes(instances=0)
        return self._deploy(app, "StopApplication", previous=None)

    def cancel(self, deployment_id, force=False):
        """
        Cancel a deployment: roll its app back to the version before
        (Marathon), or, with C{force}, just stop following it.

        @return: the rollback L{Deployment}, or L{None}.
        """
        deployment = self.deployments.pop(deployment_id)
        app = self.apps.get(deployment.app_id)
        if force or app is None:
            self._changed()
            return None
        if deployment.previous is None:
            return self.delete(app.id, force=True)
        app.definition = AppDefinition.from_json(deployment.previous["definition"])
        app.version = deployment.previous["version"]
        app.delay, app.not_before = app.definition["backoffSeconds"], 0.0
        return self._deploy(app, "RestartApplication", previous=None)

    def kill_instance(self, app_id, task_id, scale=False):
        """
        Kill one instance; with C{scale}, the app wants one fewer.

        @return: the L{Instance}, and the scale's L{Deployment} or L{None}.
        """
        app = self._app(app_id)
        instance = app.instances.get(task_id)
        if instance is None:
            raise NoSuchApp(task_id)
        deployment = None
        if scale:
            app.definition = app.definition.with_changes(
                instances=max(0, app.definition.instances - 1))
            deployment = self._deploy(app, "ScaleApplication", previous=None, converge=False)
        self._kill(instance)
        self.converge(app)
        return instance, deployment

    def _app(self, app_id):
        app = self.apps.get(app_id)
        if app is None or app.deleting:
            raise NoSuchApp(app_id)
        return app

    def _deploy(self, app, kind, previous, converge=True):
        deployment = Deployment(app.id, app.version, kind, previous)
        self.deployments[deployment.id] = deployment
        self.log.info("Deployment {id}: {kind} of {app_id} at {version}", id=deployment.id,
                      kind=kind, app_id=app.id, version=app.version)
        if converge:
            self.converge(app)
        self._changed()
        return deployment

    # Converging.

    def converge(self, app):
        """
        Take the next step of C{app}'s deployment (or keep it steady): kill
        what the plan says, and ask for offers if instances are wanted.
        """
        step = plan(app.definition, app.version, app.live())
        for instance in step.kill:
            self._kill(instance)
        deployment = self.deployment_of(app.id)
        if step.done and not step.kill and deployment is not None:
            self.log.info("Deployment {id} of {app_id} finished", id=deployment.id,
                          app_id=app.id)
            del self.deployments[deployment.id]
            self._changed()
        if app.deleting and not app.instances:
            del self.apps[app.id]
            if deployment is not None:
                self.deployments.pop(deployment.id, None)
            self._changed()
            return
        if step.launch and self.driver is not None:
            self._wake_at(app)
            if self.reactor.seconds() >= app.not_before:
                self.driver.reviveOffers()

    def wanted(self, app):
        """
        How many instances C{app} needs launched now (0 while backing off).
        """
        if self.reactor.seconds() < app.not_before:
            return 0
        return plan(app.definition, app.version, app.live()).launch

    def _wake_at(self, app):
        """
        Converge again when the back-off ends.
        """
        delay = app.not_before - self.reactor.seconds()
        call = self._wake_calls.get(app.id)
        if delay <= 0 or (call is not None and call.active()):
            return
        self._wake_calls[app.id] = self.reactor.callLater(delay, self._woken, app.id)

    def _woken(self, app_id):
        app = self.apps.get(app_id)
        if app is not None:
            self.converge(app)

    def stop(self):
        """
        This scheduler no longer leads: its timers (back-off wake-ups,
        Marathon health checks) stop.
        """
        self.health.stop()
        for call in self._wake_calls.values():
            if call.active():
                call.cancel()
        self._wake_calls.clear()

    def _kill(self, instance):
        if instance.killing:
            return
        instance.killing = True
        self.health.forget(instance.task_id)
        self.log.info("Killing instance {task_id} of {app_id}", task_id=instance.task_id,
                      app_id=instance.app_id)
        if self.driver is not None:
            self.driver.killTask(mesos_pb2.TaskID(value=instance.task_id))
        self._changed()

    # The Mesos scheduler.

    def registered(self, driver, frameworkId, masterInfo):
        """
        Keep the framework id (a successor registers with it) and reconcile.
        """
        self.driver = driver
        self.framework_id = frameworkId.value
        self.log.info("Registered as framework {framework_id}", framework_id=self.framework_id)
        self._changed()
        self._reconcile()

    def reregistered(self, driver, masterInfo):
        """
        A new master: reconcile.
        """
        self.driver = driver
        self._reconcile()

    def _reconcile(self):
        statuses = [mesos_pb2.TaskStatus(task_id=mesos_pb2.TaskID(value=i.task_id),
                                         slave_id=mesos_pb2.SlaveID(value=i.slave_id),
                                         state=mesos_pb2.TASK_RUNNING)
                    for app in self.apps.values() for i in app.instances.values()]
        if statuses:
            self.driver.reconcileTasks(statuses)
        for app in list(self.apps.values()):
            for instance in app.instances.values():
                if instance.killing:
                    self.driver.killTask(mesos_pb2.TaskID(value=instance.task_id))
            self.converge(app)

    def resourceOffers(self, driver, offers):
        """
        Place wanted instances on the offers; decline the rest.
        """
        self.driver = driver
        for offer in offers:
            space = OfferSpace(offer)
            for app in sorted(self.apps.values(), key=lambda a: a.id):
                if app.deleting:
                    continue
                wanted = self.wanted(app)
                while wanted > 0:
                    placed = [(i.host, i.attributes) for i in app.live()]
                    if not space.fits(app.definition, placed):
                        break
                    task_id = self.new_task_id(app.id)
                    task, ports = space.place(app.definition, app.version, task_id)
                    app.instances[task_id] = Instance(
                        task_id=task_id, app_id=app.id, version=app.version,
                        slave_id=offer.slave_id.value, host=offer.hostname, ports=ports,
                        attributes=space.attributes, staged_at=self.reactor.seconds())
                    wanted -= 1
            if space.tasks:
                self.log.info("Launching {count} instance(s) on {host}", count=len(space.tasks),
                              host=offer.hostname)
                driver.launchTasks(offer.id, space.tasks, mesos_pb2.Filters(refuse_seconds=1))
                self._changed()
            else:
                driver.declineOffer(offer.id, mesos_pb2.Filters(
                    refuse_seconds=IDLE_REFUSE_SECONDS))

    def statusUpdate(self, driver, status):
        """
        Follow an instance's state and health; replace one that ended.
        """
        self.driver = driver
        task_id = status.task_id.value
        state = mesos_pb2.TaskState.Name(status.state)
        app, instance = self._find(task_id)
        if instance is None:
            if state not in TERMINAL:
                self.log.warn("Killing unknown task {task_id} ({state})", task_id=task_id,
                              state=state)
                driver.killTask(status.task_id)
            return
        if status.HasField("healthy"):
            instance.mesos_healthy = status.healthy
        if state in TERMINAL:
            del app.instances[task_id]
            self.health.forget(task_id)
            if not instance.killing:
                self._failed(app, instance, state, status.message)
        else:
            instance.state = state
            if state == "TASK_RUNNING" and instance.started_at is None:
                instance.started_at = self.reactor.seconds()
            if state == "TASK_RUNNING" and not instance.killing:
                self.health.track(instance, [
                    (index, check) for index, check in enumerate(app.definition["healthChecks"])
                    if check["protocol"] in MARATHON_PROTOCOLS])
            instance.healthy = _health(app.definition, instance, self.health)
            if ready(instance, bool(app.definition["healthChecks"])):
                app.delay = app.definition["backoffSeconds"]
        self._changed()
        self.converge(app)

    def _health_changed(self, instance):
        """
        A Marathon health check of C{instance} has a new result.
        """
        app = self.apps.get(instance.app_id)
        if app is None or app.instances.get(instance.task_id) is not instance:
            return
        instance.check_results = self.health.results(instance.task_id)
        instance.healthy = _health(app.definition, instance, self.health)
        self._changed()
        self.converge(app)

    def _health_failed(self, instance, why):
        """
        A Marathon health check of C{instance} failed too often: it is
        killed, and replaced.
        """
        self.log.warn("Killing instance {task_id} of {app_id}: {why}",
                      task_id=instance.task_id, app_id=instance.app_id, why=why)
        app = self.apps.get(instance.app_id)
        self._kill(instance)
        if app is not None:
            self.converge(app)

    def _find(self, task_id):
        for app in self.apps.values():
            instance = app.instances.get(task_id)
            if instance is not None:
                return app, instance
        return None, None

    def _failed(self, app, instance, state, message):
        """
        An instance ended without being asked to: the next launch of its
        app waits (exponential back-off).
        """
        definition = app.definition
        now = self.reactor.seconds()
        app.not_before = now + app.delay
        self.log.warn("Instance {task_id} of {app_id} ended {state} ({message}); next launch "
                      "in {delay:.1f}s", task_id=instance.task_id, app_id=app.id, state=state,
                      message=message, delay=app.delay)
        app.delay = min(max(app.delay, definition["backoffSeconds"]) * definition["backoffFactor"],
                        definition["maxLaunchDelaySeconds"])

    def slaveLost(self, driver, slaveId):
        """
        Logged; the tasks' own updates say what became of them.
        """
        self.log.warn("Slave {slave_id} lost", slave_id=slaveId.value)

    def error(self, driver, message):
        """
        The driver was aborted (another instance took over, say).
        """
        self.log.error("Framework error: {message}", message=message)


def _health(definition, instance, checks):
    """
    What all of C{instance}'s health checks say (L{Instance.healthy}): its
    Mesos check's last report and its Marathon checks' last results.
    """
    protocols = {check["protocol"] for check in definition["healthChecks"]}
    parts = []
    if protocols & set(MESOS_HEALTH_PROTOCOLS):
        parts.append(instance.mesos_healthy)
    if protocols & set(MARATHON_PROTOCOLS):
        parts.append(checks.alive(instance.task_id))
    if not parts:
        return None
    if any(part is False for part in parts):
        return False
    if any(part is None for part in parts):
        return None
    return True
