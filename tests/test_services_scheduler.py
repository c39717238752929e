"""
Tests for mesos-services' scheduler (L{mesos_tw.services.scheduler}): what
it launches on offers, how it replaces, scales and rolls out, and that a
successor carries on without restarting anything.  A recording driver and
a fake clock; no cluster.
"""

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.protocols import mesos_pb2
from mesos_tw.resources import Resources
from mesos_tw.services.apps import parse_app
from mesos_tw.services.deployments import plan
from mesos_tw.services.scheduler import AppLocked, ServiceScheduler
from mesos_tw.services.store import MemoryStore
from mesos_tw.testing.drivers import RecordingSchedulerDriver, numbered_offer


def web(**fields):
    """
    A small app definition (C{/web}) with C{fields}.
    """
    body = {"id": "web", "cmd": "serve", "cpus": 0.5, "mem": 64, "instances": 2}
    body.update(fields)
    return parse_app(body)


class SchedulerTestCase(SynchronousTestCase):
    """
    A registered scheduler with a recording driver.
    """

    def setUp(self):
        self.clock = Clock()
        self.store = MemoryStore()
        self.driver = RecordingSchedulerDriver()
        self.numbers = iter(range(1, 10 ** 6))
        self.scheduler = self.new_scheduler(None)

    def new_scheduler(self, state):
        scheduler = ServiceScheduler(self.clock, self.store, state,
                                     new_task_id=lambda app_id: f"web.{next(self.numbers)}")
        scheduler.registered(self.driver, mesos_pb2.FrameworkID(value="F"),
                             mesos_pb2.MasterInfo(id="m", ip=0, port=5050))
        self.clock.advance(0)
        return scheduler

    def offer(self, *offers):
        """
        Offer C{offers}; the tasks launched now.
        """
        before = len(self.driver.launched)
        self.scheduler.resourceOffers(self.driver, list(offers))
        self.clock.advance(0)
        return [task for _, tasks, _ in self.driver.launched[before:] for task in tasks]

    def update(self, task_id, state, healthy=None):
        status = mesos_pb2.TaskStatus(task_id=mesos_pb2.TaskID(value=task_id),
                                      state=state, healthy=healthy)
        self.scheduler.statusUpdate(self.driver, status)
        self.clock.advance(0)

    def run_all(self, healthy=None):
        """
        Every instance reports running (and C{healthy}, if given).
        """
        for app in self.scheduler.apps.values():
            for task_id, instance in list(app.instances.items()):
                if instance.state != "TASK_RUNNING" and not instance.killing:
                    self.update(task_id, mesos_pb2.TASK_RUNNING, healthy)

    def kill_acknowledged(self):
        """
        The tasks the driver was asked to kill end killed.
        """
        for task_id in self.driver.killed:
            if self.scheduler._find(task_id)[1] is not None:
                self.update(task_id, mesos_pb2.TASK_KILLED)

    def instances(self):
        return self.scheduler.apps["/web"].instances


class LaunchTests(SchedulerTestCase):
    """
    Placing instances on offers.
    """

    def test_launch_with_ports_and_environment(self):
        """
        An instance takes its ports from the offer; its command sees HOST,
        PORT0..., PORTS, PORT and the app's id and version.
        """
        self.scheduler.create(web(instances=1, ports=[0, 0], env={"MODE": "prod"}))
        [task] = self.offer(numbered_offer(1, "host-a"))
        env = {v.name: v.value for v in task.command.environment.variables}
        self.assertEqual((env["HOST"], env["PORT0"], env["PORT1"], env["PORTS"], env["PORT"],
                          env["MODE"], env["MARATHON_APP_ID"]),
                         ("host-a", "31000", "31001", "31000,31001", "31000", "prod", "/web"))
        resources = Resources.from_protobuf(task.resources)
        self.assertEqual(resources, Resources.parse("cpus:0.5;mem:64;ports:[31000-31001]"))
        self.assertEqual(task.command.value, "serve")

    def test_hostname_unique(self):
        """
        hostname UNIQUE: one instance per host, however big the offer.
        """
        self.scheduler.create(web(instances=3, constraints=[["hostname", "UNIQUE"]]))
        launched = self.offer(numbered_offer(1, "a"), numbered_offer(2, "b"))
        self.assertEqual(sorted(t.slave_id.value for t in launched), ["S1", "S2"])
        self.assertEqual(len(self.offer(numbered_offer(3, "a"))), 0)
        self.assertEqual(len(self.offer(numbered_offer(4, "c"))), 1)

    def test_does_not_fit(self):
        """
        An offer too small is declined.
        """
        self.scheduler.create(web(instances=1, cpus=8))
        self.assertEqual(self.offer(numbered_offer(1, "a")), [])
        self.assertEqual(self.driver.declined[-1][0], "O1-a")

    def test_health_check_becomes_mesos_check(self):
        """
        A MESOS_HTTP health check becomes the task's Mesos HTTP check on
        its port; a Marathon HTTP check beside it stays off the task (the
        scheduler runs it, tests.test_services_health).
        """
        self.scheduler.create(web(instances=1, healthChecks=[
            {"protocol": "HTTP", "path": "/other"},
            {"protocol": "MESOS_HTTP", "path": "/health", "portIndex": 0, "gracePeriodSeconds": 5,
             "intervalSeconds": 2, "maxConsecutiveFailures": 2}]))
        [task] = self.offer(numbered_offer(1, "a"))
        check = task.health_check
        self.assertEqual((check.type, check.http.port, check.http.path, check.interval_seconds,
                          check.consecutive_failures, check.grace_period_seconds),
                         (mesos_pb2.HealthCheck.HTTP, 31000, "/health", 2, 2, 5))

    def test_https_health_check(self):
        """
        A MESOS_HTTPS health check becomes a Mesos HTTP check with
        C{scheme: https}; Marathon's own HTTPS check is not put in the task.
        """
        for protocol in ("HTTPS", "MESOS_HTTPS"):
            app_id = "/" + protocol.lower().replace("_", "-")
            self.scheduler.create(web(id=app_id, instances=1, healthChecks=[
                {"protocol": protocol, "path": "/health", "portIndex": 0}]))
        tasks = self.offer(numbered_offer(1, "a"))
        self.assertEqual(sorted((t.name, t.HasField("health_check"), t.health_check.http.scheme)
                                for t in tasks),
                         [("https", False, ""), ("mesos-https", True, "https")])


class RestartTests(SchedulerTestCase):
    """
    Instances that end are replaced, with exponential back-off.
    """

    def test_failed_instance_replaced_after_back_off(self):
        """
        A failed instance is replaced once its app's back-off has passed;
        each failure in a row multiplies the back-off by backoffFactor.
        """
        self.scheduler.create(web(instances=1, backoffSeconds=2, backoffFactor=2))
        [task] = self.offer(numbered_offer(1, "a"))
        self.update(task.task_id.value, mesos_pb2.TASK_RUNNING)
        self.update(task.task_id.value, mesos_pb2.TASK_FAILED)
        self.assertEqual(self.offer(numbered_offer(2, "a")), [])
        self.clock.advance(2)
        [second] = self.offer(numbered_offer(3, "a"))
        self.update(second.task_id.value, mesos_pb2.TASK_FAILED)
        self.clock.advance(3.9)
        self.assertEqual(self.offer(numbered_offer(4, "a")), [])
        self.clock.advance(0.1)
        self.assertEqual(len(self.offer(numbered_offer(5, "a"))), 1)

    def test_back_off_capped(self):
        """
        The back-off never exceeds maxLaunchDelaySeconds.
        """
        self.scheduler.create(web(instances=1, backoffSeconds=10, backoffFactor=10,
                                  maxLaunchDelaySeconds=15))
        for number in range(3):
            [task] = self.offer(numbered_offer(number, "a"))
            self.update(task.task_id.value, mesos_pb2.TASK_FAILED)
            self.clock.advance(15)
        self.assertEqual(self.scheduler.apps["/web"].delay, 15)

    def test_unknown_running_task_killed(self):
        """
        A running task the scheduler does not know is killed.
        """
        self.update("stray.1", mesos_pb2.TASK_RUNNING)
        self.assertEqual(self.driver.killed, ["stray.1"])


class ScaleAndDeployTests(SchedulerTestCase):
    """
    Scaling and rolling out new versions.
    """

    def test_scale_up_and_down(self):
        """
        More instances are launched; fewer means the extra ones are killed,
        without a new version.
        """
        self.scheduler.create(web(instances=2))
        self.offer(numbered_offer(1, "a"))
        self.run_all()
        version = self.scheduler.apps["/web"].version
        self.scheduler.update(web(instances=4), force=True)
        self.assertEqual(len(self.offer(numbered_offer(2, "a"))), 2)
        self.run_all()
        self.scheduler.update(web(instances=1))
        self.assertEqual(len(self.driver.killed), 3)
        self.kill_acknowledged()
        self.assertEqual(len(self.instances()), 1)
        self.assertEqual(self.scheduler.apps["/web"].version, version)
        self.assertEqual(self.scheduler.deployments, {})

    def checked(self, **fields):
        return web(healthChecks=[{"protocol": "COMMAND", "command": {"value": "true"}}],
                   **fields)

    def test_rolling_upgrade_waits_for_health(self):
        """
        With minimumHealthCapacity 1, an old instance is killed only when a
        new one is healthy; the deployment ends when all are new and
        healthy.
        """
        self.scheduler.create(self.checked(instances=2))
        self.offer(numbered_offer(1, "a"))
        self.run_all(healthy=True)
        old = set(self.instances())
        deployment = self.scheduler.update(self.checked(instances=2, cmd="serve --v2"),
                                           force=True)
        new_tasks = self.offer(numbered_offer(2, "a"))
        self.assertEqual(len(new_tasks), 2)
        self.assertEqual(self.driver.killed, [])
        self.update(new_tasks[0].task_id.value, mesos_pb2.TASK_RUNNING)
        self.assertEqual(self.driver.killed, [])
        self.update(new_tasks[0].task_id.value, mesos_pb2.TASK_RUNNING, healthy=True)
        self.assertEqual(len(self.driver.killed), 1)
        self.assertIn(self.driver.killed[0], old)
        self.update(new_tasks[1].task_id.value, mesos_pb2.TASK_RUNNING, healthy=True)
        self.kill_acknowledged()
        self.assertEqual(set(self.instances()), {t.task_id.value for t in new_tasks})
        self.assertNotIn(deployment.id, self.scheduler.deployments)

    def test_bad_version_keeps_old_and_cancel_rolls_back(self):
        """
        A new version that never becomes healthy never takes the old one
        below minimumHealthCapacity; cancelling its deployment rolls back:
        the new instances are killed, the old ones stay.
        """
        self.scheduler.create(self.checked(instances=2))
        self.offer(numbered_offer(1, "a"))
        self.run_all(healthy=True)
        old = set(self.instances())
        deployment = self.scheduler.update(self.checked(instances=2, cmd="broken"))
        with self.assertRaises(AppLocked):
            self.scheduler.update(self.checked(instances=3, cmd="broken"))
        new_tasks = self.offer(numbered_offer(2, "a"))
        for task in new_tasks:
            self.update(task.task_id.value, mesos_pb2.TASK_RUNNING, healthy=False)
        self.assertEqual(self.driver.killed, [])
        rollback = self.scheduler.cancel(deployment.id)
        self.assertEqual(sorted(self.driver.killed), sorted(t.task_id.value for t in new_tasks))
        self.kill_acknowledged()
        self.assertEqual(set(self.instances()), old)
        self.assertEqual(self.scheduler.apps["/web"].definition["cmd"], "serve")
        self.assertNotIn(rollback.id, self.scheduler.deployments)

    def test_minimum_health_capacity_zero_replaces_at_once(self):
        """
        minimumHealthCapacity 0 (and no over-capacity): the old instances
        are killed and the new ones launched at once.
        """
        app = web(instances=2, upgradeStrategy={"minimumHealthCapacity": 0,
                                                 "maximumOverCapacity": 0})
        old = [type("I", (), dict(version="v1", state="TASK_RUNNING", healthy=None,
                                  staged_at=n))() for n in range(2)]
        step = plan(app, "v2", old)
        self.assertEqual((len(step.kill), step.launch), (2, 2))

    def test_delete(self):
        """
        Deleting an app kills its instances; it goes once they are gone.
        """
        self.scheduler.create(web(instances=2))
        self.offer(numbered_offer(1, "a"))
        self.run_all()
        self.scheduler.delete("/web", force=True)
        self.assertEqual(len(self.driver.killed), 2)
        self.kill_acknowledged()
        self.assertEqual(self.scheduler.apps, {})


class FailoverTests(SchedulerTestCase):
    """
    A successor built from the saved state.
    """

    def test_successor_restarts_nothing(self):
        """
        A new scheduler from the store reconciles the running instances and
        keeps them: nothing killed, nothing launched; one lost meanwhile is
        replaced.
        """
        self.scheduler.create(web(instances=2))
        self.offer(numbered_offer(1, "a"))
        self.run_all()
        saved = self.store.state
        self.assertEqual(saved["framework_id"], "F")
        self.driver = RecordingSchedulerDriver()
        successor = self.new_scheduler(saved)
        self.scheduler = successor
        running, lost = sorted(self.instances())
        self.update(running, mesos_pb2.TASK_RUNNING)
        self.assertEqual((self.driver.killed, self.offer(numbered_offer(2, "b"))), ([], []))
        self.update(lost, mesos_pb2.TASK_LOST)
        self.clock.advance(10)
        self.assertEqual(len(self.offer(numbered_offer(3, "b"))), 1)
        self.assertEqual(self.driver.killed, [])
