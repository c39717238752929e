"""
Tests that a removed framework's tasks are never shown running: as in
Mesos, the master ends each unfinished task TASK_KILLED (a task that had
already ended keeps its own terminal state) and moves it to the
framework's completed tasks, and every view (the state, the task list, the
frameworks, the summary, the metrics, the UI) and every counter agree.
"""

import json

from treq.testing import StubTreq

from mesos_tw.master.election import SoleMaster
from mesos_tw.master.http import MasterHTTP
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.testing.master import MASTER, MasterTestCase, task_info


class RemovedFrameworkTests(MasterTestCase):
    """
    A framework with two running tasks and a finished one, removed.
    """

    def setUp(self):
        super().setUp()
        self.slave, self.slave_id = self.add_slave(resources="cpus:4;mem:1024")
        self.scheduler, self.framework_id = self.add_framework(failover_timeout=60)
        offer = self.scheduler.last(internal.ResourceOffersMessage).offers[0]
        self.launch(self.scheduler, self.framework_id, offer, [
            task_info(task_id, self.slave_id, "cpus:1;mem:64") for task_id in ("t1", "t2", "t3")])
        for task_id, state in (("t1", mesos_pb2.TASK_RUNNING), ("t2", mesos_pb2.TASK_RUNNING),
                               ("t3", mesos_pb2.TASK_RUNNING), ("t3", mesos_pb2.TASK_FINISHED)):
            self.slave_update(task_id, state)
        self.client = StubTreq(MasterHTTP(SoleMaster(self.master)).resource())

    def slave_update(self, task_id, state):
        """
        The slave reports C{state} for C{task_id}.
        """
        update = internal.StatusUpdate(
            framework_id=mesos_pb2.FrameworkID(value=self.framework_id),
            slave_id=mesos_pb2.SlaveID(value=self.slave_id), timestamp=self.clock.seconds(),
            uuid=f"{task_id}-{state}".encode(),
            status=mesos_pb2.TaskStatus(task_id=mesos_pb2.TaskID(value=task_id), state=state))
        self.slave.send(MASTER, internal.StatusUpdateMessage(update=update,
                                                             pid=str(self.slave.upid)))
        self.turn()

    def get(self, path):
        """
        GET C{path}: the body, parsed as JSON when it is JSON.
        """
        response = self.successResultOf(self.client.get("http://master" + path))
        self.assertEqual(response.code, 200, path)
        body = self.successResultOf(response.content())
        if path.startswith("/ui/"):
            return body.decode()
        return json.loads(body)

    def assert_views_agree(self):
        """
        Every view shows t1 and t2 TASK_KILLED and t3 TASK_FINISHED, all
        among the removed framework's completed tasks, none running
        anywhere, and the counters say the same.
        """
        expected = {"t1": "TASK_KILLED", "t2": "TASK_KILLED", "t3": "TASK_FINISHED"}
        state = self.get("/master/state")
        self.assertEqual(state["frameworks"], [])
        [framework] = state["completed_frameworks"]
        self.assertEqual(framework["tasks"], [])
        self.assertEqual({t["id"]: t["state"] for t in framework["completed_tasks"]}, expected)
        for task in framework["completed_tasks"]:
            self.assertEqual(task["statuses"][-1]["state"], expected[task["id"]])
        [frameworks] = [self.get("/master/frameworks")["completed_frameworks"]]
        self.assertEqual({t["id"]: t["state"] for t in frameworks[0]["completed_tasks"]},
                         expected)
        tasks = self.get("/master/tasks?limit=-1")["tasks"]
        self.assertEqual({t["id"]: t["state"] for t in tasks}, expected)
        self.assertEqual(self.get("/master/state-summary")["frameworks"], [])
        [slave] = self.get("/master/slaves")["slaves"]
        self.assertEqual(slave["used_resources"].get("cpus", 0), 0)
        metrics = self.get("/metrics/snapshot")
        self.assertEqual(
            {name: metrics[f"master/tasks_{name}"]
             for name in ("staging", "running", "finished", "killed")},
            {"staging": 0, "running": 0, "finished": 1, "killed": 2})
        self.assertEqual(metrics["master/cpus_used"], 0)
        page = self.get(f"/ui/frameworks/{self.framework_id}")
        self.assertNotIn("TASK_RUNNING", page)
        self.assertEqual(page.count("TASK_KILLED"), 2)
        self.assertEqual(self.master.slaves[self.slave_id].tasks, {})

    def test_unregistered(self):
        """
        A framework that unregisters (C{stop()}) ends with its unfinished
        tasks killed in every view.
        """
        self.scheduler.send(MASTER, internal.UnregisterFrameworkMessage(
            framework_id=mesos_pb2.FrameworkID(value=self.framework_id)))
        self.turn()
        self.assert_views_agree()

    def test_failover_timeout(self):
        """
        So does a framework whose scheduler never came back within its
        failover timeout.
        """
        self.network.crash(self.scheduler.upid)
        self.turn()
        self.clock.advance(61)
        self.turn()
        self.assertEqual(self.master.frameworks, {})
        self.assert_views_agree()

    def test_only_unfinished_tasks_killed(self):
        """
        The tasks killed are the two that had not ended, each counted once
        in the master's counters.
        """
        self.scheduler.send(MASTER, internal.UnregisterFrameworkMessage(
            framework_id=mesos_pb2.FrameworkID(value=self.framework_id)))
        self.turn()
        [framework] = self.master.completed_frameworks
        killed = [r for r in framework.completed_tasks if r.state == mesos_pb2.TASK_KILLED]
        self.assertEqual(sorted(r.task.task_id.value for r in killed), ["t1", "t2"])
        self.assertEqual(self.master.stats["killed_tasks"], 2)

    def test_late_slave_update_changes_nothing(self):
        """
        An update the slave sends after the removal (its executor's own
        TASK_FINISHED, say) does not bring a task back or change its state.
        """
        self.scheduler.send(MASTER, internal.UnregisterFrameworkMessage(
            framework_id=mesos_pb2.FrameworkID(value=self.framework_id)))
        self.turn()
        self.slave_update("t1", mesos_pb2.TASK_RUNNING)
        self.slave_update("t2", mesos_pb2.TASK_FINISHED)
        self.assert_views_agree()
