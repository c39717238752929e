"""
Tests for L{mesos_tw.executors.wire}: the command executor's messages,
written and read without the protobuf runtime, are the bytes the generated
C{messages_pb2}/C{mesos_pb2} classes make and read.
"""

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.executors import wire
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.codec import decode_envelope, encode_frame, split_frames
from mesos_tw.protocols.executor_side import executor_update
from mesos_tw.protocols.upid import UPID

ids = st.text(max_size=40)


class WrittenTests(SynchronousTestCase):
    """
    What the executor writes parses with the generated classes, as what
    they would have made.
    """

    def test_frame(self):
        """
        A frame is the codec's: the same bytes as C{encode_frame}, and
        C{decode_envelope} reads it back.
        """
        slave = UPID("slave(1)", "127.0.0.1", 5051)
        message = internal.RegisterExecutorMessage(
            framework_id=mesos_pb2.FrameworkID(value="F1"),
            executor_id=mesos_pb2.ExecutorID(value="e1"))
        ours = wire.frame("executor-1@h:0", wire.REGISTER_EXECUTOR,
                          wire.register_executor("F1", "e1"), slave)
        self.assertEqual(ours, encode_frame(UPID("executor-1", "h", 0), message, slave))
        envelopes, rest = split_frames(ours)
        self.assertEqual((decode_envelope(envelopes[0]), rest),
                         ((UPID("executor-1", "h", 0), message), b""))

    @given(framework_id=ids, executor_id=ids, task_id=ids, slave_id=st.none() | ids,
           state=st.sampled_from([0, 1, 2, 3, 4, 8]), text=st.text(max_size=100),
           now=st.floats(allow_nan=False), uuid=st.binary(min_size=16, max_size=16),
           healthy=st.none() | st.booleans(), reason=st.none() | st.sampled_from([0, 29]))
    def test_status_update(self, framework_id, executor_id, task_id, slave_id, state, text,
                           now, uuid, healthy, reason):
        """
        A status update is the one the executor driver's builder
        (C{executor_side.executor_update}) makes from the same fields.
        """
        ours = wire.status_update(
            framework_id, executor_id,
            None if slave_id is None else wire.id_message(slave_id),
            wire.id_message(task_id), state, text, now, uuid, healthy, reason)
        expected = executor_update(
            mesos_pb2.TaskStatus(task_id=mesos_pb2.TaskID(value=task_id), state=state,
                                 message=text, healthy=healthy, reason=reason),
            mesos_pb2.FrameworkID(value=framework_id), mesos_pb2.ExecutorID(value=executor_id),
            None if slave_id is None else mesos_pb2.SlaveID(value=slave_id), now, uuid)
        self.assertEqual(internal.StatusUpdate.FromString(ours), expected)
        message = internal.StatusUpdateMessage.FromString(wire.status_update_message(ours))
        self.assertEqual(message.update, expected)

    def test_reregister_executor(self):
        """
        A resubscription carries the task as it came and the updates as
        they were sent.
        """
        task = mesos_pb2.TaskInfo(name="t", task_id=mesos_pb2.TaskID(value="t1"),
                                  slave_id=mesos_pb2.SlaveID(value="S1"),
                                  command=mesos_pb2.CommandInfo(value="true"))
        update = wire.status_update("F1", "e1", wire.id_message("S1"), wire.id_message("t1"),
                                    1, "", 5.0, b"u" * 16)
        message = internal.ReregisterExecutorMessage.FromString(wire.reregister_executor(
            "F1", "e1", [task.SerializeToString()], [update]))
        self.assertEqual(
            (message.framework_id.value, message.executor_id.value, list(message.tasks),
             [u.uuid for u in message.updates]),
            ("F1", "e1", [task], [b"u" * 16]))
        self.assertTrue(message.IsInitialized())


class ReadTests(SynchronousTestCase):
    """
    What the slave sends, made by the generated classes, reads as they
    wrote it.
    """

    def test_run_task(self):
        """
        A C{RunTaskMessage}'s task: its id, command, variables, kill
        policy; fields the executor does not know are skipped.
        """
        task = mesos_pb2.TaskInfo(
            name="t", task_id=mesos_pb2.TaskID(value="t1"), slave_id=mesos_pb2.SlaveID(value="S1"),
            kill_policy=mesos_pb2.KillPolicy(
                grace_period=mesos_pb2.DurationInfo(nanoseconds=-5)),
            resources=[mesos_pb2.Resource(name="cpus", type=mesos_pb2.Value.SCALAR,
                                          scalar=mesos_pb2.Value.Scalar(value=0.5))])
        task.command.value = "echo $A"
        task.command.environment.variables.add(name="A", value="é")
        message = wire.read_fields(internal.RunTaskMessage(
            framework_id=mesos_pb2.FrameworkID(value="F1"),
            framework=mesos_pb2.FrameworkInfo(user="u", name="n", capabilities=[
                mesos_pb2.FrameworkInfo.Capability(type=2)]),
            pid="s@h:1", task=task).SerializeToString())
        fields = wire.read_fields(message.last(4))
        self.assertEqual(message.last(4), task.SerializeToString())
        self.assertEqual(wire.read_fields(fields.last(2)).text(1), "t1")
        command = fields.message(7)
        variable = wire.read_fields(command.message(2).first(1))
        self.assertEqual((command.text(3), variable.text(1), variable.text(2)),
                         ("echo $A", "A", "é"))
        self.assertEqual(wire.signed64(fields.message(12).message(1).last(1)), -5)
        capability = wire.read_fields(message.message(2).first(10))
        self.assertEqual(capability.first(1), 2)

    def test_envelope(self):
        """
        An envelope from the codec reads as its message's name and body.
        """
        message = internal.ShutdownExecutorMessage()
        data = encode_frame(UPID("slave(1)", "h", 1), message)[4:]
        self.assertEqual(wire.read_envelope(data),
                         ("mesos.internal.ShutdownExecutorMessage", b""))

    def test_malformed(self):
        """
        Bytes that are not a message are a L{wire.WireError} saying why.
        """
        for data, why in [(b"\x0a\x05ab", "runs past the end"), (b"\x08\xff", "truncated"),
                          (b"\x0b", "wire type 3"), (b"\x00", "field number 0"),
                          (b"\x12\x00", "without a message name")]:
            with self.assertRaises(wire.WireError) as raised:
                wire.read_envelope(data)
            self.assertIn(why, str(raised.exception))

    @given(st.binary(max_size=64))
    def test_any_bytes(self, data):
        """
        Any bytes either read or raise L{wire.WireError}: nothing else; and
        what reads is a table of field numbers to their values.
        """
        try:
            fields = wire.read_fields(data)
        except wire.WireError:
            return
        for number, values in fields.items():
            self.assertGreater(number, 0)
            self.assertTrue(values)
            for value in values:
                self.assertIsInstance(value, (int, bytes))
