"""
A maintenance window moving a framework's task off a machine before it
goes down, on mesos-local with a second slave on another "machine" (its
own hostname): the operator schedules the machine with the C{mesos}
command line, the framework's scheduler (a real driver) gets an inverse
offer, moves its task to the other slave and accepts; the operator sees
the acceptance, takes the machine down (its slave is shut down, the moved
task runs on) and brings it up again.
"""

import json
import os
import sys

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial.unittest import TestCase

from mesos_tw.detector import StandaloneDetector
from mesos_tw.interface import Scheduler
from mesos_tw.native import MesosSchedulerDriver
from mesos_tw.protocols import mesos_pb2
from mesos_tw.resources import Resources
from mesos_tw.slave.tap import SlaveService
from mesos_tw.testing.local_cluster import start_mesos_local, until

#: The hostname of the machine the operator takes down.
MACHINE = "maintained-host"


class MovingScheduler(Scheduler):
    """
    Keeps one long task running, first on C{MACHINE}; told by an inverse
    offer that its machine is going away, it kills the task there, starts
    it elsewhere, and accepts the inverse offer once it runs there.

    @ivar running: C{{task_id: hostname}} of its running tasks.
    """

    def __init__(self):
        self.running = {}
        self.hosts = {}
        self.avoid = set()
        self.pending = ["first"]
        self.to_accept = []
        self.driver = None

    def resourceOffers(self, driver, offers):
        """
        Launch what is pending on the first suitable offer, decline the
        rest.
        """
        for offer in offers:
            suitable = offer.hostname not in self.avoid and (
                self.pending != ["first"] or offer.hostname == MACHINE)
            if not self.pending or not suitable:
                driver.declineOffer(offer.id, mesos_pb2.Filters(refuse_seconds=1))
                continue
            task_id = self.pending.pop()
            task = mesos_pb2.TaskInfo(
                name=task_id, task_id=mesos_pb2.TaskID(value=task_id), slave_id=offer.slave_id,
                resources=Resources.parse("cpus:0.1;mem:32").to_protobuf())
            task.command.value = "sleep 1000"
            self.hosts[task_id] = offer.hostname
            driver.launchTasks(offer.id, [task])

    def statusUpdate(self, driver, status):
        """
        Track what runs where; once the moved task runs, accept.
        """
        task_id = status.task_id.value
        if status.state == mesos_pb2.TASK_RUNNING:
            self.running[task_id] = self.hosts[task_id]
            if task_id == "moved" and self.to_accept:
                driver.acceptInverseOffers(self.to_accept)
        else:
            self.running.pop(task_id, None)

    def inverseOffers(self, driver, inverseOffers):
        """
        The machine of a slave is going away: move the task off it.
        """
        self.to_accept.extend(offer.id for offer in inverseOffers)
        self.avoid.add(MACHINE)
        driver.killTask(mesos_pb2.TaskID(value="first"))
        self.pending.append("moved")
        driver.reviveOffers()


class MaintenanceWindowTests(TestCase):
    """
    The whole window, as an operator and a framework live it.
    """

    timeout = 120

    def mesos(self, *argv):
        """
        Run C{mesos <argv>} against the cluster; fires with C{(stdout,
        stderr, exit code)}.
        """
        env = dict(os.environ, MESOS_MASTER=self.master)
        return getProcessOutputAndValue(sys.executable, ["-m", "mesos_tw.cli", *argv],
                                        env=env, reactor=reactor)

    @inlineCallbacks
    def test_window_moves_task(self):
        """
        The task moves before the machine goes down, and keeps running
        after; the machine's slave is gone until the machine is up.
        """
        cluster, port = yield start_mesos_local(self, reactor)
        self.master = f"127.0.0.1:{port}"
        master = cluster.master_service.master
        options = dict(cluster.options, hostname=MACHINE)
        other = SlaveService(options, reactor, detector=StandaloneDetector(master.pid),
                             work_dir=os.path.abspath(self.mktemp()), port=0)
        other.setServiceParent(cluster)
        yield until(reactor, lambda: len(master.slaves) == 2, "the second slave")

        scheduler = MovingScheduler()
        driver = MesosSchedulerDriver(scheduler, mesos_pb2.FrameworkInfo(user="", name="mover"),
                                      self.master, reactor=reactor)
        driver.start()
        self.addCleanup(driver.stop)
        yield until(reactor, lambda: scheduler.running == {"first": MACHINE},
                    "the task to run on the machine")

        window = {"windows": [{"machine_ids": [{"hostname": MACHINE}], "unavailability": {
            "start": {"nanoseconds": int((reactor.seconds() + 3600) * 1e9)}}}]}
        path = os.path.abspath(self.mktemp())
        with open(path, "w") as file:
            json.dump(window, file)
        out, err, code = yield self.mesos("maintenance", "schedule", f"--set={path}")
        self.assertEqual(code, 0, err)
        # The scheduler kills the first task and starts the moved one at
        # once: either update may come first, so wait for both.
        yield until(reactor, lambda: scheduler.running == {"moved": "127.0.0.1"},
                    "the task to move off the machine (moved running, first killed)")

        out, err, code = yield self.mesos("--json", "maintenance", "status")
        (draining,) = json.loads(out)["draining_machines"]
        self.assertEqual([s["status"] for s in draining["statuses"]], ["ACCEPT"])
        out, err, code = yield self.mesos("maintenance", "down", MACHINE)
        self.assertEqual(code, 0, err)
        yield until(reactor, lambda: len(master.slaves) == 1, "the machine's slave to go")
        out, err, code = yield self.mesos("ps")
        self.assertIn(b"moved", out)
        self.assertEqual(scheduler.running, {"moved": "127.0.0.1"})
        out, err, code = yield self.mesos("maintenance", "up", MACHINE)
        self.assertEqual(code, 0, err)
        out, err, code = yield self.mesos("maintenance", "schedule")
        self.assertEqual(out, b"(none)\n")
