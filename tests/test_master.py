"""
Tests for L{mesos_tw.master.master.Master}, driven message by message over
an in-memory network on a fake clock.  Test names follow Mesos's own master
tests where one matches.
"""

import uuid

from mesos_tw.master.master import new_master_info
from mesos_tw.master.observer import SLOTS
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols.upid import UPID
from mesos_tw.resources import Resources
from mesos_tw.testing.master import (
    MASTER,
    MasterTestCase,
    executor_info,
    slave_info,
    task_info,
)
from mesos_tw.testing.peers import RecordingPeer


class RegistrationTests(MasterTestCase):
    """
    Slaves and frameworks registering.
    """

    def test_slave_registers(self):
        """
        A slave gets an id; a repeated registration gets the same one.
        """
        slave, slave_id = self.add_slave()
        slave.send(MASTER, internal.RegisterSlaveMessage(slave=slave_info()))
        self.turn()
        ids = [m.slave_id.value for m in slave.of(internal.SlaveRegisteredMessage)]
        self.assertEqual(ids, [slave_id, slave_id])
        self.assertTrue(slave_id.startswith(self.master.id + "-S"))

    def test_slave_with_bad_resources_refused(self):
        """
        A slave offering malformed resources is told to shut down, saying why.
        """
        slave = RecordingPeer(self.network, UPID("slave(1)", "127.0.0.1", 5051))
        info = slave_info()
        info.resources[0].scalar.value = -1
        slave.send(MASTER, internal.RegisterSlaveMessage(slave=info))
        self.turn()
        self.assertIn("invalid resources", slave.last(internal.ShutdownMessage).message)
        self.assertEqual(self.master.slaves, {})

    def test_framework_registers(self):
        """
        A framework gets an id and the master's info; a repeat gets the same.
        """
        scheduler, framework_id = self.add_framework()
        scheduler.send(MASTER, internal.RegisterFrameworkMessage(
            framework=mesos_pb2.FrameworkInfo(user="alice", name="x")))
        self.turn()
        replies = scheduler.of(internal.FrameworkRegisteredMessage)
        self.assertEqual([r.framework_id.value for r in replies], [framework_id] * 2)
        self.assertEqual(replies[0].master_info.pid, str(MASTER))
        self.assertEqual(framework_id, f"{self.master.id}-0000")

    def test_master_info(self):
        """
        The master id is a UUID, as Mesos's; the info carries the master's
        address (the IP as a number) and pid.
        """
        self.assertEqual(str(uuid.UUID(self.master.id)), self.master.id)
        self.assertEqual((self.master.info.ip, self.master.info.port, self.master.info.pid),
                         (2130706433, 5050, str(MASTER)))

    def test_restarted_master_names_slaves_anew(self):
        """
        Another process of the master, at the same address, with the same
        pid and in the same minute (a container's first process restarted),
        has another id, so the slaves it names do not share ids with those
        its predecessor named.  (Simulator seed 20113: a restarted master
        named a registering slave as its predecessor had named another
        that had just re-registered with it, and offered the slave's
        resources twice.)
        """
        first = new_master_info(MASTER, None)
        second = new_master_info(MASTER, None)
        self.assertNotEqual(first.id, second.id)
        _, slave_id = self.add_slave()
        self.assertTrue(slave_id.startswith(f"{self.master.id}-S"), slave_id)


class TaskTests(MasterTestCase):
    """
    Kills, framework messages and reconciliation.
    """

    def running_task(self):
        slave, slave_id = self.add_slave()
        scheduler, framework_id = self.add_framework()
        offer = scheduler.last(internal.ResourceOffersMessage).offers[0]
        self.launch(scheduler, framework_id, offer, [task_info("t1", slave_id)])
        return slave, slave_id, scheduler, framework_id

    def test_kill_task(self):
        """
        A kill for a known task goes to its slave.
        """
        slave, _, scheduler, framework_id = self.running_task()
        scheduler.send(MASTER, internal.KillTaskMessage(
            framework_id=mesos_pb2.FrameworkID(value=framework_id),
            task_id=mesos_pb2.TaskID(value="t1")))
        self.turn()
        self.assertEqual(slave.last(internal.KillTaskMessage).task_id.value, "t1")

    def test_completed_task_kept_packed(self):
        """
        A task that ended is kept serialized among its framework's completed
        tasks (a message costs over 1 KB; its bytes about 150), and reads,
        and shows, as it did.
        """
        slave, slave_id, scheduler, framework_id = self.running_task()
        self.report(slave, slave_id, framework_id, "t1", mesos_pb2.TASK_RUNNING)
        record = self.master.frameworks[framework_id].tasks["t1"]
        shown = record.to_json()
        self.report(slave, slave_id, framework_id, "t1", mesos_pb2.TASK_FINISHED)
        self.assertEqual(list(self.master.frameworks[framework_id].completed_tasks), [record])
        self.assertIsNone(record._task)
        self.assertEqual((record.task.task_id.value, record.state, record.key),
                         ("t1", mesos_pb2.TASK_FINISHED, (framework_id, "t1")))
        shown["state"] = "TASK_FINISHED"
        self.assertEqual(record.to_json()["statuses"][:2], shown["statuses"])
        del shown["statuses"]
        self.assertEqual({k: v for k, v in record.to_json().items() if k != "statuses"}, shown)

    def test_kill_unknown_task(self):
        """
        A kill for an unknown task answers TASK_LOST saying so.
        """
        scheduler, framework_id = self.add_framework()
        scheduler.send(MASTER, internal.KillTaskMessage(
            framework_id=mesos_pb2.FrameworkID(value=framework_id),
            task_id=mesos_pb2.TaskID(value="ghost")))
        self.turn()
        update = scheduler.last(internal.StatusUpdateMessage).update.status
        self.assertEqual((update.state, update.reason),
                         (mesos_pb2.TASK_LOST, mesos_pb2.TaskStatus.REASON_TASK_UNKNOWN))
        self.assertIn("unknown", update.message)

    def test_framework_message(self):
        """
        Messages go scheduler -> master -> slave and executor's slave ->
        master -> scheduler, bytes intact.
        """
        slave, slave_id, scheduler, framework_id = self.running_task()
        data = b"binary\0data"
        scheduler.send(MASTER, internal.FrameworkToExecutorMessage(
            slave_id=mesos_pb2.SlaveID(value=slave_id),
            framework_id=mesos_pb2.FrameworkID(value=framework_id),
            executor_id=mesos_pb2.ExecutorID(value="e"), data=data))
        slave.send(MASTER, internal.ExecutorToFrameworkMessage(
            slave_id=mesos_pb2.SlaveID(value=slave_id),
            framework_id=mesos_pb2.FrameworkID(value=framework_id),
            executor_id=mesos_pb2.ExecutorID(value="e"), data=data))
        self.turn()
        self.assertEqual(slave.last(internal.FrameworkToExecutorMessage).data, data)
        self.assertEqual(scheduler.last(internal.ExecutorToFrameworkMessage).data, data)

    def test_reconcile(self):
        """
        Reconciliation answers each task's latest state, unknown ones LOST.
        """
        slave, slave_id, scheduler, framework_id = self.running_task()
        scheduler.send(MASTER, internal.ReconcileTasksMessage(
            framework_id=mesos_pb2.FrameworkID(value=framework_id)))
        scheduler.send(MASTER, internal.ReconcileTasksMessage(
            framework_id=mesos_pb2.FrameworkID(value=framework_id),
            statuses=[mesos_pb2.TaskStatus(task_id=mesos_pb2.TaskID(value="ghost"),
                                           state=mesos_pb2.TASK_RUNNING)]))
        self.turn()
        self.assertEqual(self.updates(scheduler),
                         [("t1", mesos_pb2.TASK_STAGING), ("ghost", mesos_pb2.TASK_LOST)])

    def test_executor_exit_forwarded(self):
        """
        An executor's exit reaches the scheduler.
        """
        slave, slave_id, scheduler, framework_id = self.running_task()
        slave.send(MASTER, internal.ExitedExecutorMessage(
            slave_id=mesos_pb2.SlaveID(value=slave_id),
            framework_id=mesos_pb2.FrameworkID(value=framework_id),
            executor_id=mesos_pb2.ExecutorID(value="t1"), status=256))
        self.turn()
        self.assertEqual(scheduler.last(internal.ExitedExecutorMessage).status, 256)


class FailureTests(MasterTestCase):
    """
    Slaves and schedulers that go away.
    """

    def test_slave_disconnected_keeps_tasks(self):
        """
        A slave whose connection closes is kept, disconnected: its task is
        not lost, nobody hears slaveLost, its offer is rescinded and it is
        offered no more, and C{/master/state} says it is not active.
        """
        slave, slave_id = self.add_slave()
        scheduler, framework_id = self.add_framework()
        offer = scheduler.last(internal.ResourceOffersMessage).offers[0]
        self.launch(scheduler, framework_id, offer, [task_info("t1", slave_id)], 0)
        self.clock.advance(1)
        self.turn()
        offered = scheduler.last(internal.ResourceOffersMessage).offers[0]
        self.assertEqual(offered.slave_id.value, slave_id)
        self.network.crash(slave.upid)
        self.turn()
        self.assertEqual(self.updates(scheduler), [])
        self.assertEqual(scheduler.of(internal.LostSlaveMessage), [])
        self.assertEqual(scheduler.last(internal.RescindResourceOfferMessage).offer_id,
                         offered.id)
        self.assertEqual(self.master.task_state_name(framework_id, "t1"), "TASK_STAGING")
        state = self.master.state()
        self.assertEqual([(s["id"], s["active"], s["connected"]) for s in state["slaves"]],
                         [(slave_id, False, False)])
        self.assertEqual((state["activated_slaves"], state["deactivated_slaves"]), (0, 1))
        offers = len(scheduler.of(internal.ResourceOffersMessage))
        self.clock.advance(10)
        self.turn()
        self.assertEqual(len(scheduler.of(internal.ResourceOffersMessage)), offers)

    def test_slave_lost_after_missed_pings(self):
        """
        A slave that never answers pings is dropped as unreachable when the
        fifth ping in a row goes unanswered (75 s after its first ping,
        which comes within a timeout of its registration: here, the first
        slave, after one slot of the wheel), not before; it is not told to
        shut down (it may come back, tests.test_master_partitions); one
        that answers stays.
        """
        slave, slave_id = self.add_slave()
        healthy, healthy_id = self.add_slave("slave(2)", 5052)
        scheduler, _ = self.add_framework()
        self.assertEqual(slave.of(internal.PingSlaveMessage), [])
        first_ping = 15 / SLOTS
        self.clock.advance(first_ping)
        self.turn()
        self.assertEqual(len(slave.of(internal.PingSlaveMessage)), 1)
        for _ in range(4):
            self.clock.advance(15)
            self.turn()
            healthy.send(MASTER, internal.PongSlaveMessage())
            self.turn()
            self.assertIn(slave_id, self.master.slaves)
        # Five pings sent, four counted unanswered: the next counts the fifth.
        self.assertEqual(len(slave.of(internal.PingSlaveMessage)), 5)
        self.clock.advance(15)
        self.turn()
        self.assertNotIn(slave_id, self.master.slaves)
        self.assertIn(healthy_id, self.master.slaves)
        self.assertGreaterEqual(len(slave.of(internal.PingSlaveMessage)), 5)
        self.assertEqual(scheduler.last(internal.LostSlaveMessage).slave_id.value, slave_id)
        self.assertEqual(slave.of(internal.ShutdownMessage), [])
        self.assertEqual(healthy.of(internal.ShutdownMessage), [])
        self.assertIn(slave_id, self.master.unreachable_slaves)
        self.assertEqual(
            slave.last(internal.SlaveRegisteredMessage).connection.total_ping_timeout_seconds, 75)

    def test_removed_slave_reregistering_is_shut_down(self):
        """
        A slave removed earlier that re-registers is told to shut down.
        """
        slave, slave_id = self.add_slave()
        self.network.crash(slave.upid)
        self.master.remove_slave(self.master.slaves[slave_id], "test")
        self.turn()
        again = RecordingPeer(self.network, slave.upid)
        again.send(MASTER, internal.ReregisterSlaveMessage(
            slave_id=mesos_pb2.SlaveID(value=slave_id), slave=slave_info()))
        self.turn()
        self.assertEqual(len(again.of(internal.ShutdownMessage)), 1)

    def test_reregister_unknown_slave_with_tasks(self):
        """
        A slave the master never knew (it failed over) is adopted with its
        tasks, whose resources are in use.
        """
        slave = RecordingPeer(self.network, UPID("slave(1)", "127.0.0.1", 5051))
        task = internal.Task(
            name="t", task_id=mesos_pb2.TaskID(value="t1"),
            framework_id=mesos_pb2.FrameworkID(value="old-framework"),
            slave_id=mesos_pb2.SlaveID(value="old-slave"), state=mesos_pb2.TASK_RUNNING,
            resources=Resources.parse("cpus:1;mem:128").to_protobuf())
        slave.send(MASTER, internal.ReregisterSlaveMessage(
            slave_id=mesos_pb2.SlaveID(value="old-slave"), slave=slave_info(), tasks=[task]))
        self.turn()
        self.assertEqual(slave.last(internal.SlaveReregisteredMessage).slave_id.value, "old-slave")
        state = self.master.state()["slaves"][0]
        self.assertEqual(state["used_resources"], {"cpus": 1.0, "mem": 128.0})

    def test_reregister_unknown_slave_with_ended_task(self):
        """
        A task a re-registering slave reports ended (its terminal update
        not yet acknowledged) holds nothing at a master that never knew it,
        as in Mesos: its resources may already run another task (the
        simulator found a slave given five tasks of 0.25 cpus when such a
        task was counted).  Its update, when it comes, reaches its
        framework.
        """
        slave = RecordingPeer(self.network, UPID("slave(1)", "127.0.0.1", 5051))
        tasks = [internal.Task(
            name=task_id, task_id=mesos_pb2.TaskID(value=task_id),
            framework_id=mesos_pb2.FrameworkID(value="old-framework"),
            slave_id=mesos_pb2.SlaveID(value="old-slave"), state=state,
            resources=Resources.parse("cpus:1;mem:128").to_protobuf())
            for task_id, state in (("t1", mesos_pb2.TASK_RUNNING),
                                   ("t2", mesos_pb2.TASK_FINISHED))]
        tasks[1].status_update_state = mesos_pb2.TASK_FINISHED
        slave.send(MASTER, internal.ReregisterSlaveMessage(
            slave_id=mesos_pb2.SlaveID(value="old-slave"), slave=slave_info(), tasks=tasks))
        self.turn()
        state = self.master.state()["slaves"][0]
        self.assertEqual(state["used_resources"], {"cpus": 1.0, "mem": 128.0})
        self.assertEqual(list(self.master.slaves["old-slave"].tasks),
                         [("old-framework", "t1")])

    def test_launch_on_reregistered_executor(self):
        """
        After a failover, a task for an executor a re-registered slave
        reported (with its framework id filled in) is launched on it when
        the scheduler's ExecutorInfo is otherwise the same.
        """
        scheduler, framework_id = self.add_framework()
        executor = executor_info(resources="cpus:0.1;mem:32")
        reported = mesos_pb2.ExecutorInfo()
        reported.CopyFrom(executor)
        reported.framework_id.value = framework_id
        slave = RecordingPeer(self.network, UPID("slave(1)", "127.0.0.1", 5051))
        slave.send(MASTER, internal.ReregisterSlaveMessage(
            slave_id=mesos_pb2.SlaveID(value="old-slave"), slave=slave_info(),
            executor_infos=[reported]))
        self.turn()
        offer = scheduler.last(internal.ResourceOffersMessage).offers[0]
        self.launch(scheduler, framework_id, offer,
                    [task_info("t1", "old-slave", executor=executor)])
        self.assertEqual(self.updates(scheduler), [])
        self.assertEqual(slave.last(internal.RunTaskMessage).task.task_id.value, "t1")

    def test_shutdown_framework_while_task_running(self):
        """
        Unregistering a framework shuts it down on the slaves and returns
        its resources.
        """
        slave, slave_id = self.add_slave()
        scheduler, framework_id = self.add_framework()
        offer = scheduler.last(internal.ResourceOffersMessage).offers[0]
        self.launch(scheduler, framework_id, offer, [task_info("t1", slave_id)])
        scheduler.send(MASTER, internal.UnregisterFrameworkMessage(
            framework_id=mesos_pb2.FrameworkID(value=framework_id)))
        self.turn()
        self.assertEqual(slave.last(internal.ShutdownFrameworkMessage).framework_id.value,
                         framework_id)
        self.assertEqual(self.master.frameworks, {})
        self.assertEqual(self.master.state()["completed_frameworks"][0]["id"], framework_id)
        other, _ = self.add_framework("scheduler-2")
        offered = Resources.from_protobuf(other.last(internal.ResourceOffersMessage).offers[0].resources)
        self.assertEqual(offered, Resources.parse("cpus:2;mem:1024"))

    def test_removal_visits_the_frameworks_slaves(self):
        """
        The master notes the slaves where a framework has tasks: removing
        it visits those (every slave is still told, as in Mesos), and a
        removed slave leaves the note.
        """
        used, used_id = self.add_slave()
        idle, _ = self.add_slave("slave(2)", 5052)
        scheduler, framework_id = self.add_framework()
        offers = {o.slave_id.value: o for o in scheduler.last(internal.ResourceOffersMessage).offers}
        self.launch(scheduler, framework_id, offers[used_id], [task_info("t1", used_id)])
        self.assertEqual([slave.id for slave in self.master._slaves_of(framework_id)], [used_id])
        scheduler.send(MASTER, internal.UnregisterFrameworkMessage(
            framework_id=mesos_pb2.FrameworkID(value=framework_id)))
        self.turn()
        self.assertEqual(self.master.slaves[used_id].tasks, {})
        self.assertEqual(self.master._slaves_of(framework_id), [])
        self.assertEqual([len(s.of(internal.ShutdownFrameworkMessage)) for s in (used, idle)],
                         [1, 1])
        other, other_id = self.add_framework("scheduler-2")
        offer = other.last(internal.ResourceOffersMessage).offers[0]
        self.launch(other, other_id, offer, [task_info("t2", offer.slave_id.value)])
        self.master.remove_slave(self.master.slaves[offer.slave_id.value], "test")
        self.assertEqual(self.master._slaves_of(other_id), [])
        self.assertEqual(self.master._framework_slaves[other_id], set())

    def test_scheduler_disconnect_then_failover_timeout(self):
        """
        A disconnected scheduler's framework keeps its tasks for its failover
        timeout, then is torn down.
        """
        slave, _ = self.add_slave()
        scheduler, framework_id = self.add_framework(failover_timeout=60)
        self.network.crash(scheduler.upid)
        self.turn()
        self.assertFalse(self.master.frameworks[framework_id].active)
        self.clock.advance(59)
        self.assertIn(framework_id, self.master.frameworks)
        self.clock.advance(1)
        self.turn()
        self.assertNotIn(framework_id, self.master.frameworks)
        self.assertEqual(len(slave.of(internal.ShutdownFrameworkMessage)), 1)

    def test_scheduler_failover(self):
        """
        A new scheduler re-registering with failover takes the framework
        over: the old one hears it failed over, slaves learn the new pid,
        and the failover timer no longer fires.
        """
        slave, _ = self.add_slave()
        old, framework_id = self.add_framework(failover_timeout=60)
        self.network.crash(old.upid)
        self.turn()
        new = RecordingPeer(self.network, UPID("scheduler-2", "127.0.0.1", 0))
        info = mesos_pb2.FrameworkInfo(user="alice", name="x", failover_timeout=60)
        info.id.value = framework_id
        new.send(MASTER, internal.ReregisterFrameworkMessage(framework=info, failover=True))
        self.turn()
        self.assertEqual(new.last(internal.FrameworkRegisteredMessage).framework_id.value,
                         framework_id)
        self.assertEqual(slave.last(internal.UpdateFrameworkMessage).pid, str(new.upid))
        self.clock.advance(120)
        self.turn()
        self.assertIn(framework_id, self.master.frameworks)
        self.assertTrue(self.master.frameworks[framework_id].active)

    def test_failover_notifies_old_scheduler(self):
        """
        When a second scheduler takes over a connected framework, the first
        gets FrameworkErrorMessage("Framework failed over").
        """
        old, framework_id = self.add_framework(failover_timeout=60)
        new = RecordingPeer(self.network, UPID("scheduler-2", "127.0.0.1", 0))
        info = mesos_pb2.FrameworkInfo(user="alice", name="x")
        info.id.value = framework_id
        new.send(MASTER, internal.ReregisterFrameworkMessage(framework=info, failover=True))
        self.turn()
        self.assertEqual(old.last(internal.FrameworkErrorMessage).message, "Framework failed over")

    def test_framework_reregister_after_master_change(self):
        """
        failover=false re-registration of an unknown framework (a new master)
        answers FrameworkReregisteredMessage with the same id.
        """
        scheduler = RecordingPeer(self.network, UPID("scheduler-1", "127.0.0.1", 0))
        info = mesos_pb2.FrameworkInfo(user="alice", name="x")
        info.id.value = "framework-from-before"
        scheduler.send(MASTER, internal.ReregisterFrameworkMessage(framework=info, failover=False))
        self.turn()
        self.assertEqual(scheduler.last(internal.FrameworkReregisteredMessage).framework_id.value,
                         "framework-from-before")

    def test_messages_from_strangers_ignored(self):
        """
        A launch from a scheduler that is not the framework's: its tasks are
        answered TASK_LOST, nothing reaches a slave.
        """
        slave, slave_id = self.add_slave()
        scheduler, framework_id = self.add_framework()
        offer = scheduler.last(internal.ResourceOffersMessage).offers[0]
        stranger = RecordingPeer(self.network, UPID("scheduler-x", "127.0.0.1", 0))
        self.launch(stranger, framework_id, offer, [task_info("t1", slave_id)])
        self.assertEqual(self.updates(stranger), [("t1", mesos_pb2.TASK_LOST)])
        self.assertEqual(slave.of(internal.RunTaskMessage), [])


class StateTests(MasterTestCase):
    """
    The state endpoint's JSON.
    """

    def test_state(self):
        """
        The state names slaves, frameworks, tasks and offers with Mesos's
        field names.
        """
        slave, slave_id = self.add_slave()
        scheduler, framework_id = self.add_framework()
        state = self.master.state()
        self.assertEqual(state["pid"], str(MASTER))
        self.assertEqual(state["activated_slaves"], 1)
        self.assertEqual(state["slaves"][0]["resources"], {"cpus": 2.0, "mem": 1024.0})
        framework = state["frameworks"][0]
        self.assertEqual((framework["id"], framework["user"]), (framework_id, "alice"))
        self.assertEqual(framework["offers"][0]["slave_id"], slave_id)
        offer = scheduler.last(internal.ResourceOffersMessage).offers[0]
        self.launch(scheduler, framework_id, offer, [task_info("t1", slave_id)])
        task = self.master.state()["frameworks"][0]["tasks"][0]
        self.assertEqual((task["id"], task["state"]), ("t1", "TASK_STAGING"))
