"""
Tests for slave recovery, after Mesos's C{SlaveRecoveryTest}s: a slave runs
tasks of a checkpointing framework, is killed (its node and every timer it
had vanish, as with C{kill -9}), and a new slave starts on the same work
directory.  Everything runs on a fake clock, an in-memory network and a
fake isolator whose executors "run" across the restart unless a test says
their process is gone.
"""

import os

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.detector import StandaloneDetector
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.upid import UPID
from mesos_tw.resources import Resources
from mesos_tw.slave import paths
from mesos_tw.slave.checkpoint import CheckpointError
from mesos_tw.slave.slave import Slave
from mesos_tw.slave.state import TERMINATING
from mesos_tw.testing.isolation import FakeIsolator
from mesos_tw.testing.master import MASTER
from mesos_tw.testing.network import MemoryNetwork
from mesos_tw.testing.peers import RecordingPeer
from mesos_tw.testing.recovery import (
    FRAMEWORK,
    HeldRecoveryIsolator,
    SlaveRecoveryTestCase,
)
from mesos_tw.testing.slave import SCHEDULER, SLAVE

Status = mesos_pb2.TaskStatus


class SlaveRecoveryTests(SlaveRecoveryTestCase):
    """
    Mesos's SlaveRecoveryTest cases.
    """

    def test_recover_slave_state(self):
        """
        Everything a restarted slave needs is checkpointed for a
        checkpointing framework (RecoverSlaveState).
        """
        self.running_task()
        executor = self.slave.frameworks["F1"].executors["e1"]
        run = paths.run_meta_directory(self.work_dir, "S1", "F1", "e1", executor.run_id)
        for path in (paths.slave_info_path(self.work_dir, "S1"),
                     os.path.join(paths.framework_meta_directory(self.work_dir, "S1", "F1"),
                                  "framework.info"),
                     os.path.join(run, "pids", "forked.pid"),
                     os.path.join(run, "pids", "libprocess.pid"),
                     os.path.join(run, "tasks", "t1", "task.info"),
                     os.path.join(run, "tasks", "t1", "task.updates")):
            self.assertTrue(os.path.exists(path), path)
        self.assertEqual(os.readlink(os.path.join(paths.slaves_meta_directory(self.work_dir),
                                                  "latest")), "S1")

    def test_reconnect_executor(self):
        """
        A restarted slave keeps its id, resumes the executor's container,
        re-registers with the task, and the executor subscribes again and
        goes on (ReconnectExecutor).
        """
        executor = self.running_task()
        self.restart()
        self.assertEqual(self.isolator.recovered, [("F1", "e1")])
        self.reregister_executor(executor)
        self.assertIsInstance(executor.received[-1][1], internal.ExecutorRegisteredMessage)
        self.register()
        message = self.master.last(internal.ReregisterSlaveMessage)
        self.assertEqual(message.slave_id.value, "S1")
        self.assertEqual([(t.task_id.value, t.state) for t in message.tasks],
                         [("t1", mesos_pb2.TASK_RUNNING)])
        self.send_update(executor, "t1", mesos_pb2.TASK_FINISHED, b"f" * 16)
        self.assertEqual(self.forwarded()[-1], ("t1", mesos_pb2.TASK_FINISHED))

    def test_executor_subscribing_while_recovering_is_asked_again(self):
        """
        An executor that subscribes before recovery is over is held, then
        asked to subscribe again with ReconnectExecutorMessage
        (ReconnectExecutorRetry).
        """
        executor = self.running_task()
        held = HeldRecoveryIsolator(self.clock)
        self.restart(isolator=held)
        self.reregister_executor(executor)
        self.assertEqual(len(executor.of(internal.ExecutorRegisteredMessage)), 1)
        held.held.callback(None)
        self.turn()
        self.assertEqual(executor.last(internal.ReconnectExecutorMessage).slave_id.value, "S1")
        self.reregister_executor(executor)
        self.assertEqual(len(executor.of(internal.ExecutorRegisteredMessage)), 2)

    def test_recover_status_update_manager(self):
        """
        An update not acknowledged before the restart is sent again once
        the slave has re-registered, exactly once (RecoverStatusUpdateManager).
        """
        self.register()
        self.run_task()
        executor = self.executor_registers()
        self.send_update(executor, "t1", mesos_pb2.TASK_RUNNING, b"r" * 16)
        self.assertEqual(self.forwarded(), [("t1", mesos_pb2.TASK_RUNNING)])
        self.restart()
        self.reregister_executor(executor)
        self.assertEqual(self.forwarded(), [("t1", mesos_pb2.TASK_RUNNING)])
        self.register()
        self.assertEqual(self.forwarded(), [("t1", mesos_pb2.TASK_RUNNING)] * 2)
        self.acknowledge("t1", b"r" * 16)
        self.clock.advance(60)
        self.assertEqual(len(self.forwarded()), 2)

    def test_update_sent_while_slave_was_down(self):
        """
        An update the executor sent while the slave was down comes with
        its re-registration, and reaches the master once.
        """
        executor = self.running_task()
        self.restart()
        finished = self.update("t1", mesos_pb2.TASK_FINISHED, b"f" * 16)
        self.reregister_executor(executor, updates=[finished])
        self.assertEqual(executor.last(internal.StatusUpdateAcknowledgementMessage).uuid,
                         b"f" * 16)
        self.register()
        # The master last knew t1 running: so it is reported, not unknown.
        message = self.master.last(internal.ReregisterSlaveMessage)
        self.assertEqual([(t.task_id.value, t.state) for t in message.tasks],
                         [("t1", mesos_pb2.TASK_RUNNING)])
        self.assertEqual(self.forwarded()[1:], [("t1", mesos_pb2.TASK_FINISHED)])
        # Sent again by the executor (it missed the acknowledgement): a duplicate.
        self.reregister_executor(executor, updates=[finished])
        self.assertEqual(self.forwarded()[1:], [("t1", mesos_pb2.TASK_FINISHED)])

    def test_recover_unregistered_executor(self):
        """
        An executor that had not registered when the slave died is killed,
        and the tasks queued for it are reported lost, once each, with
        Mesos's reason (RecoverUnregisteredExecutor).
        """
        self.register()
        self.run_task()
        self.run_task("t2")
        self.restart()
        self.assertIn(("F1", "e1"), self.isolator.killed)
        self.register()
        updates = [m.update.status for m in self.master.of(internal.StatusUpdateMessage)]
        self.assertEqual(sorted((s.task_id.value, s.state, s.reason) for s in updates),
                         [(t, mesos_pb2.TASK_LOST, Status.REASON_EXECUTOR_REREGISTRATION_TIMEOUT)
                          for t in ("t1", "t2")])

    def test_recover_terminated_executor(self):
        """
        An executor whose process died while the slave was down cannot be
        resumed: its task is reported lost (RecoverTerminatedExecutor).
        """
        self.running_task()
        isolator = FakeIsolator(self.clock)
        isolator.dead_pids.add(self.isolator.containers[("F1", "e1")].pid or 1001)
        self.restart(isolator=isolator)
        self.register()
        update = self.master.last(internal.StatusUpdateMessage).update
        self.assertEqual((update.status.task_id.value, update.status.state),
                         ("t1", mesos_pb2.TASK_LOST))
        # It ended before the slave re-registered: it is not reported, so
        # the master forgets it (its exit status is unknown: Mesos's -1).
        self.assertEqual(list(self.master.last(internal.ReregisterSlaveMessage).executor_infos),
                         [])

    def test_recover_completed_executor(self):
        """
        An executor that ended before the restart is not recovered; its
        sandbox is scheduled for removal (RecoverCompletedExecutor).
        """
        executor = self.running_task()
        self.send_update(executor, "t1", mesos_pb2.TASK_FINISHED, b"f" * 16)
        self.acknowledge("t1", b"f" * 16)
        directory = self.slave.frameworks["F1"].executors["e1"].directory
        self.isolator.exit("F1", "e1", 0)
        executor.node.disconnect(SLAVE)
        self.turn()
        self.restart()
        self.assertEqual(self.isolator.recovered, [])
        self.assertEqual(self.slave.frameworks, {})
        self.assertIn(directory, self.slave.gc.scheduled())

    def test_cleanup_executor(self):
        """
        With --recover=cleanup the executor is killed and its task lost;
        once that is acknowledged the slave leaves its old id and registers
        as a new slave (CleanupExecutor).
        """
        self.running_task()
        self.restart(recover="cleanup")
        self.assertIn(("F1", "e1"), self.isolator.killed)
        self.register()
        update = self.master.last(internal.StatusUpdateMessage).update
        self.assertEqual(update.status.state, mesos_pb2.TASK_LOST)
        self.assertEqual(len(self.master.of(internal.RegisterSlaveMessage)), 1)
        self.acknowledge("t1", update.uuid)
        self.assertEqual(self.master.last(internal.UnregisterSlaveMessage).slave_id.value, "S1")
        self.assertEqual(len(self.master.of(internal.RegisterSlaveMessage)), 2)

    def test_reboot(self):
        """
        After a reboot (another boot id) the executors are gone: nothing is
        resumed, the task is lost once the slave re-registers, and then it
        registers afresh (Reboot).
        """
        self.running_task()
        self.restart(boot_id="boot-2")
        self.assertEqual(self.isolator.recovered, [])
        self.register()
        update = self.master.last(internal.StatusUpdateMessage).update
        self.assertEqual((update.status.state, update.status.reason),
                         (mesos_pb2.TASK_LOST, Status.REASON_SLAVE_RESTARTED))
        self.acknowledge("t1", update.uuid)
        self.assertEqual(len(self.master.of(internal.RegisterSlaveMessage)), 2)

    def test_kill_task(self):
        """
        A kill that comes before the recovered executor has subscribed
        again is passed on once it has (KillTask).
        """
        executor = self.running_task()
        self.restart()
        self.register()
        self.master.send(SLAVE, internal.KillTaskMessage(
            framework_id=FRAMEWORK, task_id=mesos_pb2.TaskID(value="t1")))
        self.turn()
        self.assertEqual(executor.of(internal.KillTaskMessage), [])
        self.reregister_executor(executor)
        self.assertEqual(executor.last(internal.KillTaskMessage).task_id.value, "t1")

    def test_executor_not_reconnecting_is_destroyed(self):
        """
        A recovered executor that does not subscribe again within the
        re-registration timeout is destroyed and its task lost.
        """
        self.running_task()
        self.restart()
        self.register()
        self.clock.advance(self.slave.executor_reregistration_timeout)
        self.turn()
        self.assertIn(("F1", "e1"), self.isolator.killed)
        update = self.master.last(internal.StatusUpdateMessage).update
        self.assertEqual((update.status.state, update.status.reason),
                         (mesos_pb2.TASK_LOST, Status.REASON_EXECUTOR_REREGISTRATION_TIMEOUT))

    def test_staging_task_unknown_to_executor_is_lost(self):
        """
        A task still staging that the re-registering executor does not
        list never reached it: it is lost.
        """
        self.restart_before_executor_sees_t2()
        self.assertIn(("t2", mesos_pb2.TASK_LOST), self.forwarded())
        self.assertNotIn(("t1", mesos_pb2.TASK_LOST), self.forwarded())

    def test_executor_never_sent_a_task_is_shut_down(self):
        """
        A recovered executor whose only task never reached it (sent as the
        slave died) subscribes again listing none: the task is lost and the
        executor, with nothing to run, is shut down (Mesos's MESOS-8411).
        One that lists its task is not.
        """
        self.register()
        self.run_task()
        executor = self.executor_registers()
        self.restart()
        self.reregister_executor(executor, tasks=())
        self.register()
        self.assertIn(("t1", mesos_pb2.TASK_LOST), self.forwarded())
        self.assertEqual(len(executor.of(internal.ShutdownExecutorMessage)), 1)
        self.assertEqual(self.slave.frameworks["F1"].executors["e1"].state, TERMINATING)

    def test_executor_listing_its_task_is_kept(self):
        """
        A recovered executor that lists its task is not shut down.
        """
        self.register()
        self.run_task()
        executor = self.executor_registers()
        self.restart()
        self.reregister_executor(executor, tasks=("t1",))
        self.register()
        self.assertEqual(executor.of(internal.ShutdownExecutorMessage), [])
        self.assertNotIn(("t1", mesos_pb2.TASK_LOST), self.forwarded())

    def test_queued_task_of_disconnected_executor_is_lost(self):
        """
        A task queued for a registered executor whose connection had
        broken, when the slave died, is lost once the executor subscribes
        again without it: only its C{Task} was checkpointed, not the
        C{TaskInfo} to send it (as Mesos).
        """
        self.register()
        self.run_task()
        executor = self.executor_registers()
        self.network.crash(executor.upid)
        self.turn()
        self.run_task("t2")
        self.assertIn("t2", self.slave.frameworks["F1"].executors["e1"].queued_tasks)
        self.restart()
        executor = RecordingPeer(self.network, executor.upid)
        self.reregister_executor(executor, tasks=("t1",))
        self.register()
        lost = [(m.update.status.task_id.value, m.update.status.reason)
                for m in self.master.of(internal.StatusUpdateMessage)
                if m.update.status.state == mesos_pb2.TASK_LOST]
        self.assertEqual(lost, [("t2", Status.REASON_SLAVE_RESTARTED)])

    def test_shutdown_slave(self):
        """
        A slave stopped cleanly kills its executors and forgets its id: a
        new slave on the same work directory recovers nothing and
        registers afresh (ShutdownSlave).
        """
        self.running_task()
        self.slave.stop()
        self.turn()
        self.crash()
        self.slave = self.start_slave()
        self.assertEqual(self.slave.frameworks, {})
        self.assertIsNone(self.slave.id)
        self.assertEqual(len(self.master.of(internal.RegisterSlaveMessage)), 2)

    def test_terminated_slave_leaves_executors(self):
        """
        A slave terminated (SIGTERM, a stop before an upgrade, Mesos's
        C{finalize}) neither unregisters nor kills the checkpointing
        framework's executor: the next start recovers it, under the same
        id, and the executor subscribes again.
        """
        executor = self.running_task()
        self.slave.terminate()
        self.turn()
        self.assertEqual(self.isolator.killed, [])
        self.assertEqual(self.master.of(internal.UnregisterSlaveMessage), [])
        self.restart()
        self.assertEqual(self.isolator.recovered, [("F1", "e1")])
        self.reregister_executor(executor)
        self.register()
        message = self.master.last(internal.ReregisterSlaveMessage)
        self.assertEqual((message.slave_id.value, [t.task_id.value for t in message.tasks]),
                         ("S1", ["t1"]))
        self.assertNotIn(("t1", mesos_pb2.TASK_LOST), self.forwarded())

    def test_stop_after_terminate_waits_for_the_same_end(self):
        """
        Stopping a slave that is already ending (the master's shutdown,
        then its process stopping) does nothing more, and fires.
        """
        self.running_task()
        ended = []
        self.slave.terminate()
        self.slave.stop().addCallback(ended.append)
        self.turn()
        self.assertEqual((ended, self.isolator.killed), ([None], []))
        self.assertEqual(self.master.of(internal.UnregisterSlaveMessage), [])

    def test_scheduler_failover(self):
        """
        The framework's new scheduler UPID (UpdateFrameworkMessage) is
        checkpointed too (SchedulerFailover).
        """
        self.running_task()
        self.master.send(SLAVE, internal.UpdateFrameworkMessage(
            framework_id=FRAMEWORK, pid="scheduler-2@127.0.0.1:0"))
        self.turn()
        self.restart()
        self.assertEqual(self.slave.frameworks["F1"].pid, "scheduler-2@127.0.0.1:0")

    def test_strict_refuses_corrupt_state(self):
        """
        With --strict a corrupt checkpoint refuses the start, naming the
        file; without, the task is skipped and the slave starts.
        """
        self.running_task()
        executor = self.slave.frameworks["F1"].executors["e1"]
        info = os.path.join(paths.task_meta_directory(
            self.work_dir, "S1", "F1", "e1", executor.run_id, "t1"), "task.info")
        with open(info, "wb") as file:
            file.write(b"\x09\x00\x00\x00garbage")
        self.crash()
        slave = Slave(self.clock, self.network.node(SLAVE), StandaloneDetector(MASTER),
                      FakeIsolator(self.clock), self.work_dir, Resources.parse("cpus:1"),
                      boot_id="boot-1")
        error = self.assertRaises(CheckpointError, slave.recover_state)
        self.assertEqual(error.path, info)
        self.slave = self.start_slave(strict=False)
        self.assertEqual(self.slave.recovery_errors, 1)
        self.assertEqual(self.slave.frameworks["F1"].executors["e1"].tasks, {})


class NonCheckpointingFrameworkTests(SlaveRecoveryTestCase):
    """
    A framework that does not checkpoint (NonCheckpointingFramework).
    """

    checkpoint = False

    def test_nothing_recovered(self):
        """
        Nothing of its is checkpointed, so nothing is recovered: the slave
        re-registers without its task (the master reports it lost).
        """
        self.running_task()
        self.assertFalse(os.path.exists(paths.framework_meta_directory(self.work_dir, "S1",
                                                                       "F1")))
        self.restart()
        self.assertEqual(self.slave.frameworks, {})
        self.register()
        message = self.master.last(internal.ReregisterSlaveMessage)
        self.assertEqual((message.slave_id.value, list(message.tasks)), ("S1", []))

    def test_terminated_slave_kills_its_executors(self):
        """
        A terminated slave kills the executors it could not recover (as
        Mesos's C{finalize} shuts such frameworks down), but keeps its id.
        """
        self.running_task()
        self.slave.terminate()
        self.turn()
        self.assertIn(("F1", "e1"), self.isolator.killed)
        self.assertEqual(self.master.of(internal.UnregisterSlaveMessage), [])

    def test_environment_says_no_checkpoint(self):
        """
        Its executors are told not to wait for a restarting slave.
        """
        self.register()
        self.run_task()
        environment = self.isolator.launched[("F1", "e1")][2]
        self.assertEqual(environment["MESOS_CHECKPOINT"], "0")
        self.assertNotIn("MESOS_RECOVERY_TIMEOUT", environment)


class CheckpointingEnvironmentTests(SlaveRecoveryTestCase):
    """
    What executors of a checkpointing framework are told.
    """

    def test_environment(self):
        """
        C{MESOS_CHECKPOINT=1} and the recovery timeout.
        """
        self.register()
        self.run_task()
        environment = self.isolator.launched[("F1", "e1")][2]
        self.assertEqual(environment["MESOS_CHECKPOINT"], "1")
        self.assertEqual(environment["MESOS_RECOVERY_TIMEOUT"], "900secs")


class PartitionAwareFrameworkTests(SlaveRecoveryTestCase):
    """
    A partition-aware framework hears Mesos's newer states for the tasks
    a restart loses.
    """

    capabilities = (mesos_pb2.FrameworkInfo.Capability.PARTITION_AWARE,)

    def test_unregistered_executor_tasks_gone(self):
        """
        The tasks of an executor that had not registered are TASK_GONE.
        """
        self.register()
        self.run_task()
        self.restart()
        self.register()
        self.assertEqual(self.forwarded(), [("t1", mesos_pb2.TASK_GONE)])

    def test_unseen_task_dropped(self):
        """
        A task the re-registering executor never saw is TASK_DROPPED.
        """
        self.restart_before_executor_sees_t2()
        self.assertEqual(self.forwarded(), [("t2", mesos_pb2.TASK_DROPPED)])

    def test_executor_not_reconnecting_tasks_gone(self):
        """
        The tasks of an executor that does not subscribe again in time are
        TASK_GONE.
        """
        self.running_task()
        self.restart()
        self.register()
        self.clock.advance(self.slave.executor_reregistration_timeout)
        self.turn()
        self.assertEqual(self.forwarded()[-1], ("t1", mesos_pb2.TASK_GONE))


class MultipleSlavesTests(SynchronousTestCase):
    """
    Two slaves on one machine recover each its own (MultipleSlaves).
    """

    def test_each_recovers_its_own(self):
        """
        Two slaves with their own work directories and UPIDs: each
        recovered slave has only its own framework's executor.
        """
        clock = Clock()
        network = MemoryNetwork(clock)
        master = RecordingPeer(network, MASTER)
        uuids = iter(range(1, 10 ** 6))
        work_dirs = [os.path.abspath(self.mktemp()) for _ in range(2)]
        upids = [UPID("slave(1)", "127.0.0.1", 5051), UPID("slave(1)", "127.0.0.1", 5052)]

        def start(index):
            slave = Slave(clock, network.node(upids[index]), StandaloneDetector(MASTER),
                          FakeIsolator(clock), work_dirs[index], Resources.parse("cpus:1"),
                          new_uuid=lambda: next(uuids).to_bytes(16, "big"), boot_id="b",
                          python="python3", environ={})
            slave.start()
            for _ in range(3):
                clock.advance(0)
            return slave

        slaves = [start(0), start(1)]
        for index, slave in enumerate(slaves):
            master.send(upids[index], internal.SlaveRegisteredMessage(
                slave_id=mesos_pb2.SlaveID(value=f"S{index}")))
            task = mesos_pb2.TaskInfo(name="t", task_id=mesos_pb2.TaskID(value=f"t{index}"),
                                      slave_id=mesos_pb2.SlaveID(value=f"S{index}"))
            task.executor.executor_id.value = f"e{index}"
            task.executor.command.value = "./e"
            master.send(upids[index], internal.RunTaskMessage(
                framework_id=mesos_pb2.FrameworkID(value=f"F{index}"), pid=SCHEDULER, task=task,
                framework=mesos_pb2.FrameworkInfo(user="u", name="f", checkpoint=True)))
        for _ in range(5):
            clock.advance(0)
        for upid in upids:
            network.crash(upid)
        for call in clock.getDelayedCalls():
            call.cancel()
        recovered = [start(0), start(1)]
        self.addCleanup(lambda: [slave.stop() for slave in recovered])
        self.assertEqual([sorted(slave.frameworks) for slave in recovered], [["F0"], ["F1"]])
        self.assertEqual([slave.id for slave in recovered], ["S0", "S1"])
