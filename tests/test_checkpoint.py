"""
Tests for the slave's checkpoint files (L{mesos_tw.slave.checkpoint}) and
for reading a slave's checkpointed state back
(L{mesos_tw.slave.checkpointed}), after Mesos's C{SlaveStateTest}s.
"""

import os
import struct

from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.slave import checkpoint as checkpoint_module
from mesos_tw.slave import paths
from mesos_tw.slave.checkpoint import (
    CheckpointError,
    checkpoint,
    checkpoint_messages,
    read_message,
    read_messages,
    read_text,
    write_atomically,
)
from mesos_tw.slave.checkpointed import read_boot_id, recover_slave_state

Record = internal.StatusUpdateRecord


def update(task_id, state, uuid):
    """
    A C{StatusUpdate} of framework f1's task C{task_id}.
    """
    return internal.StatusUpdate(
        framework_id=mesos_pb2.FrameworkID(value="f1"), timestamp=1.0, uuid=uuid,
        status=mesos_pb2.TaskStatus(task_id=mesos_pb2.TaskID(value=task_id), state=state))


class CheckpointFileTests(SynchronousTestCase):
    """
    Files written whole and atomically, read back or refused by name.
    """

    def setUp(self):
        self.directory = os.path.abspath(self.mktemp())

    def test_message_round_trip(self):
        """
        A message is written with Mesos's framing (a 32-bit little-endian
        length, then the message) and read back.
        """
        path = os.path.join(self.directory, "a", "framework.info")
        info = mesos_pb2.FrameworkInfo(user="alice", name="f", checkpoint=True)
        self.assertTrue(checkpoint(path, info))
        with open(path, "rb") as file:
            data = file.read()
        self.assertEqual(struct.unpack("<I", data[:4])[0], len(data) - 4)
        self.assertEqual(read_message(path, mesos_pb2.FrameworkInfo), info)

    def test_records_round_trip(self):
        """
        A stream of records is read back in order.
        """
        path = os.path.join(self.directory, "task.updates")
        records = [Record(type=Record.UPDATE, update=update("t", mesos_pb2.TASK_RUNNING, b"1")),
                   Record(type=Record.ACK, uuid=b"1")]
        self.assertTrue(checkpoint_messages(path, records))
        self.assertEqual(read_messages(path, Record), records)

    def test_text(self):
        """
        Text is read back stripped; an empty file is an error naming it.
        """
        path = os.path.join(self.directory, "framework.pid")
        checkpoint(path, "scheduler-1@127.0.0.1:0\n")
        self.assertEqual(read_text(path), "scheduler-1@127.0.0.1:0")
        checkpoint(path, "")
        error = self.assertRaises(CheckpointError, read_text, path)
        self.assertEqual((error.path, error.why), (path, "empty"))

    def test_truncated_record_named(self):
        """
        A record cut short is an error naming the file and saying where.
        """
        path = os.path.join(self.directory, "task.updates")
        checkpoint_messages(path, [Record(type=Record.ACK, uuid=b"1")])
        with open(path, "ab") as file:
            file.write(struct.pack("<I", 100) + b"short")
        error = self.assertRaises(CheckpointError, read_messages, path, Record)
        self.assertIn(path, str(error))
        self.assertIn("truncated", error.why)

    def test_garbage_named(self):
        """
        Bytes that do not parse as the message are an error naming it.
        """
        path = os.path.join(self.directory, "slave.info")
        write_atomically(path, struct.pack("<I", 3) + b"\xff\xff\xff")
        error = self.assertRaises(CheckpointError, read_message, path, mesos_pb2.SlaveInfo)
        self.assertIn("mesos.SlaveInfo", error.why)

    def test_failed_write_leaves_old_file(self):
        """
        A write that fails (here, the rename) leaves the old file whole and
        no temporary file; it is logged and reported as not written.
        """
        path = os.path.join(self.directory, "framework.pid")
        checkpoint(path, "old")

        def failing_replace(source, target):
            raise OSError(28, "No space left on device")

        self.patch(checkpoint_module.os, "replace", failing_replace)
        self.assertFalse(checkpoint(path, "new"))
        self.assertEqual(read_text(path), "old")
        self.assertEqual(os.listdir(self.directory), ["framework.pid"])
        error = self.assertRaises(CheckpointError, write_atomically, path, b"new")
        self.assertIn("No space left", error.why)


class SlaveStateTests(SynchronousTestCase):
    """
    Reading a whole slave's state back (Mesos's SlaveStateTest).
    """

    def setUp(self):
        self.work_dir = os.path.abspath(self.mktemp())

    def write_state(self):
        """
        Checkpoint a slave S1 with framework f1, executor e1 (run r1,
        launched and registered) and task t1 with two updates, one
        acknowledged.
        """
        work_dir = self.work_dir
        checkpoint(paths.boot_id_path(work_dir), "boot-1\n")
        checkpoint(paths.slave_info_path(work_dir, "S1"), mesos_pb2.SlaveInfo(hostname="h"))
        paths.point_latest(paths.slaves_meta_directory(work_dir), "S1")
        framework = paths.framework_meta_directory(work_dir, "S1", "f1")
        checkpoint(os.path.join(framework, "framework.info"),
                   mesos_pb2.FrameworkInfo(user="u", name="f", checkpoint=True))
        checkpoint(os.path.join(framework, "framework.pid"), "scheduler-1@127.0.0.1:0")
        executor = paths.executor_meta_directory(work_dir, "S1", "f1", "e1")
        checkpoint(os.path.join(executor, "executor.info"), mesos_pb2.ExecutorInfo(
            executor_id=mesos_pb2.ExecutorID(value="e1"),
            command=mesos_pb2.CommandInfo(value="./e")))
        paths.point_latest(os.path.join(executor, "runs"), "r1")
        run = paths.run_meta_directory(work_dir, "S1", "f1", "e1", "r1")
        checkpoint(os.path.join(run, "pids", "forked.pid"), "1234")
        checkpoint(os.path.join(run, "pids", "forked.starttime"), "99")
        checkpoint(os.path.join(run, "pids", "libprocess.pid"), "executor-1@127.0.0.1:0")
        task = paths.task_meta_directory(work_dir, "S1", "f1", "e1", "r1", "t1")
        checkpoint(os.path.join(task, "task.info"), internal.Task(
            name="t1", task_id=mesos_pb2.TaskID(value="t1"),
            framework_id=mesos_pb2.FrameworkID(value="f1"),
            slave_id=mesos_pb2.SlaveID(value="S1"), state=mesos_pb2.TASK_STAGING))
        checkpoint_messages(os.path.join(task, "task.updates"), [
            Record(type=Record.UPDATE, update=update("t1", mesos_pb2.TASK_RUNNING, b"1")),
            Record(type=Record.ACK, uuid=b"1"),
            Record(type=Record.UPDATE, update=update("t1", mesos_pb2.TASK_FINISHED, b"2"))])
        return task

    def test_recover_slave_state(self):
        """
        Every checkpointed piece is read back (RecoverSlaveState).
        """
        self.write_state()
        self.assertEqual(read_boot_id(self.work_dir), "boot-1")
        state = recover_slave_state(self.work_dir)
        self.assertEqual((state.id, state.info.hostname, state.errors), ("S1", "h", 0))
        framework = state.frameworks["f1"]
        self.assertEqual((framework.info.name, framework.pid), ("f", "scheduler-1@127.0.0.1:0"))
        executor = framework.executors["e1"]
        self.assertEqual((executor.info.command.value, executor.latest), ("./e", "r1"))
        run = executor.runs["r1"]
        self.assertEqual((run.forked_pid, run.start_time, run.libprocess_pid, run.completed),
                         (1234, 99, "executor-1@127.0.0.1:0", False))
        task = run.tasks["t1"]
        self.assertEqual([u.uuid for u in task.unacknowledged()], [b"2"])
        self.assertEqual(task.latest_state(), mesos_pb2.TASK_FINISHED)

    def test_nothing_checkpointed(self):
        """
        A work directory without state recovers nothing.
        """
        self.assertIsNone(recover_slave_state(self.work_dir))
        self.assertIsNone(read_boot_id(self.work_dir))

    def test_completed_run(self):
        """
        A run with its sentinel is completed.
        """
        self.write_state()
        run = paths.run_meta_directory(self.work_dir, "S1", "f1", "e1", "r1")
        checkpoint(os.path.join(run, "executor.sentinel"), "ended\n")
        state = recover_slave_state(self.work_dir)
        self.assertTrue(state.frameworks["f1"].executors["e1"].runs["r1"].completed)

    def test_strict_refuses_corrupt_file(self):
        """
        With strict recovery a corrupt file fails it, naming the file.
        """
        task = self.write_state()
        path = os.path.join(task, "task.updates")
        with open(path, "ab") as file:
            file.write(b"\x01")
        error = self.assertRaises(CheckpointError, recover_slave_state, self.work_dir)
        self.assertEqual(error.path, path)

    def test_non_strict_skips_corrupt_entry(self):
        """
        Without strict recovery the corrupt task is skipped and counted;
        the rest is recovered.
        """
        task = self.write_state()
        with open(os.path.join(task, "task.info"), "wb") as file:
            file.write(b"\x05\x00\x00\x00junk!")
        state = recover_slave_state(self.work_dir, strict=False)
        self.assertEqual(state.errors, 1)
        self.assertEqual(state.frameworks["f1"].executors["e1"].runs["r1"].tasks, {})

    def test_framework_without_info_skipped(self):
        """
        A framework directory whose info was never written (the slave died
        first) holds nothing to recover, and is no error.
        """
        self.write_state()
        os.makedirs(paths.framework_meta_directory(self.work_dir, "S1", "f2"))
        state = recover_slave_state(self.work_dir)
        self.assertEqual(sorted(state.frameworks), ["f1"])
