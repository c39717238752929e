"""
Tests for L{mesos_tw.slave.status_updates}: per-task streams, in order, with
duplicates dropped and the head re-sent until acknowledged.
"""

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.slave.status_updates import StatusUpdateManager, StatusUpdateStream


def update(task_id, state, uuid, framework_id="F1"):
    """
    A status update of C{task_id}.
    """
    return internal.StatusUpdate(
        framework_id=mesos_pb2.FrameworkID(value=framework_id), timestamp=1.0, uuid=uuid,
        status=mesos_pb2.TaskStatus(task_id=mesos_pb2.TaskID(value=task_id), state=state))


class StatusUpdateStreamTests(SynchronousTestCase):
    """
    One task's stream.
    """

    def test_head_is_oldest(self):
        """
        The head is the oldest update not acknowledged.
        """
        stream = StatusUpdateStream()
        self.assertIsNone(stream.head)
        first, second = update("t1", mesos_pb2.TASK_RUNNING, b"a"), update("t1", mesos_pb2.TASK_FINISHED, b"b")
        self.assertTrue(stream.add(first))
        self.assertTrue(stream.add(second))
        self.assertIs(stream.head, first)
        self.assertTrue(stream.acknowledge(b"a"))
        self.assertIs(stream.head, second)

    def test_duplicate_refused(self):
        """
        An update whose uuid was seen is refused, even once acknowledged.
        """
        stream = StatusUpdateStream()
        stream.add(update("t1", mesos_pb2.TASK_RUNNING, b"a"))
        stream.acknowledge(b"a")
        self.assertFalse(stream.add(update("t1", mesos_pb2.TASK_RUNNING, b"a")))
        self.assertIsNone(stream.head)

    def test_acknowledge_only_head(self):
        """
        Acknowledging anything but the head changes nothing.
        """
        stream = StatusUpdateStream()
        stream.add(update("t1", mesos_pb2.TASK_RUNNING, b"a"))
        stream.add(update("t1", mesos_pb2.TASK_FINISHED, b"b"))
        self.assertFalse(stream.acknowledge(b"b"))
        self.assertEqual([u.uuid for u in stream.pending], [b"a", b"b"])

    def test_terminated(self):
        """
        A terminal update marks the stream terminated.
        """
        stream = StatusUpdateStream()
        stream.add(update("t1", mesos_pb2.TASK_RUNNING, b"a"))
        self.assertFalse(stream.terminated)
        stream.add(update("t1", mesos_pb2.TASK_KILLED, b"b"))
        self.assertTrue(stream.terminated)


class StatusUpdateManagerTests(SynchronousTestCase):
    """
    The streams of every task, with retries on a clock.
    """

    def setUp(self):
        self.clock = Clock()
        self.sent = []
        self.manager = StatusUpdateManager(self.clock, self.sent.append)

    def uuids(self):
        """
        The uuids sent so far, in order.
        """
        return [u.uuid for u in self.sent]

    def test_head_sent_at_once(self):
        """
        A new update that is its stream's head is sent at once; the next
        waits for the acknowledgement.
        """
        self.assertTrue(self.manager.update(update("t1", mesos_pb2.TASK_RUNNING, b"a")))
        self.manager.update(update("t1", mesos_pb2.TASK_FINISHED, b"b"))
        self.assertEqual(self.uuids(), [b"a"])
        self.assertTrue(self.manager.acknowledge("F1", "t1", b"a"))
        self.assertEqual(self.uuids(), [b"a", b"b"])

    def test_streams_independent(self):
        """
        Each task's head goes out without waiting for other tasks.
        """
        self.manager.update(update("t1", mesos_pb2.TASK_RUNNING, b"a"))
        self.manager.update(update("t2", mesos_pb2.TASK_RUNNING, b"b"))
        self.assertEqual(self.uuids(), [b"a", b"b"])

    def test_retry_every_interval(self):
        """
        The head is re-sent every 10 s until acknowledged, then never again.
        """
        self.manager.update(update("t1", mesos_pb2.TASK_RUNNING, b"a"))
        self.clock.advance(9.999)
        self.assertEqual(self.uuids(), [b"a"])
        self.clock.advance(0.001)
        self.assertEqual(self.uuids(), [b"a", b"a"])
        self.clock.advance(10)
        self.assertEqual(self.uuids(), [b"a"] * 3)
        self.manager.acknowledge("F1", "t1", b"a")
        self.clock.advance(100)
        self.assertEqual(self.uuids(), [b"a"] * 3)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_next_update_retried_from_its_own_send(self):
        """
        The update sent when its predecessor is acknowledged is retried
        10 s after that send, not after the predecessor's; one timer per
        stream is pending throughout, and none once all is acknowledged.
        """
        self.manager.update(update("t1", mesos_pb2.TASK_RUNNING, b"a"))
        self.manager.update(update("t1", mesos_pb2.TASK_FINISHED, b"b"))
        self.clock.advance(6)
        self.manager.acknowledge("F1", "t1", b"a")
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        self.clock.advance(9.999)
        self.assertEqual(self.uuids(), [b"a", b"b"])
        self.clock.advance(0.001)
        self.assertEqual(self.uuids(), [b"a", b"b", b"b"])
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        self.manager.acknowledge("F1", "t1", b"b")
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.clock.advance(100)
        self.assertEqual(self.uuids(), [b"a", b"b", b"b"])

    def test_duplicate_dropped(self):
        """
        A duplicate is neither kept nor sent.
        """
        self.manager.update(update("t1", mesos_pb2.TASK_RUNNING, b"a"))
        self.assertFalse(self.manager.update(update("t1", mesos_pb2.TASK_RUNNING, b"a")))
        self.assertEqual(self.manager.pending(), 1)
        self.assertEqual(self.uuids(), [b"a"])

    def test_duplicate_of_acknowledged_update_dropped(self):
        """
        A copy of an update the framework already acknowledged (an executor
        that never saw the slave's acknowledgement sends it again) is a
        duplicate too, while its task's stream is kept.
        """
        self.manager.update(update("t1", mesos_pb2.TASK_RUNNING, b"a"))
        self.manager.acknowledge("F1", "t1", b"a")
        self.assertFalse(self.manager.update(update("t1", mesos_pb2.TASK_RUNNING, b"a")))
        self.assertEqual((self.manager.pending(), self.uuids()), (0, [b"a"]))

    def test_has_stream(self):
        """
        A task's stream is kept while an update waits or its terminal update
        is not acknowledged, and forgotten after.
        """
        self.assertFalse(self.manager.has_stream("F1", "t1"))
        self.manager.update(update("t1", mesos_pb2.TASK_RUNNING, b"a"))
        self.manager.acknowledge("F1", "t1", b"a")
        self.assertTrue(self.manager.has_stream("F1", "t1"))
        self.manager.update(update("t1", mesos_pb2.TASK_FINISHED, b"b"))
        self.manager.acknowledge("F1", "t1", b"b")
        self.assertFalse(self.manager.has_stream("F1", "t1"))

    def test_terminal_acknowledged(self):
        """
        Once a terminal update is acknowledged nothing of its task is
        pending or scheduled.
        """
        self.manager.update(update("t1", mesos_pb2.TASK_FINISHED, b"a"))
        self.manager.acknowledge("F1", "t1", b"a")
        self.assertEqual(self.manager.pending(), 0)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_wrong_acknowledgement_ignored(self):
        """
        An acknowledgement of an update not in flight changes nothing.
        """
        self.manager.update(update("t1", mesos_pb2.TASK_RUNNING, b"a"))
        self.assertFalse(self.manager.acknowledge("F1", "t1", b"zz"))
        self.assertFalse(self.manager.acknowledge("F1", "unknown", b"a"))
        self.assertEqual(self.manager.pending("F1"), 1)

    def test_flush_resends_heads(self):
        """
        Flushing sends every head again (after re-registration).
        """
        self.manager.update(update("t1", mesos_pb2.TASK_RUNNING, b"a"))
        self.manager.update(update("t1", mesos_pb2.TASK_FINISHED, b"b"))
        self.manager.update(update("t2", mesos_pb2.TASK_RUNNING, b"c"))
        self.manager.flush()
        self.assertEqual(self.uuids(), [b"a", b"c", b"a", b"c"])

    def test_flush_one_framework(self):
        """
        Flushing one framework sends only its streams' heads.
        """
        self.manager.update(update("t1", mesos_pb2.TASK_RUNNING, b"a"))
        self.manager.update(update("t2", mesos_pb2.TASK_RUNNING, b"b", framework_id="F2"))
        self.manager.flush("F2")
        self.assertEqual(self.uuids(), [b"a", b"b", b"b"])

    def test_flush_skips_acknowledged_streams(self):
        """
        A running task whose updates are all acknowledged has nothing to
        send when the slave re-registers (not an empty update).
        """
        self.manager.update(update("t1", mesos_pb2.TASK_RUNNING, b"a"))
        self.manager.acknowledge("F1", "t1", b"a")
        self.manager.flush()
        self.assertEqual(self.uuids(), [b"a"])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_discard_framework(self):
        """
        A removed framework's updates are dropped and no longer retried.
        """
        self.manager.update(update("t1", mesos_pb2.TASK_RUNNING, b"a"))
        self.manager.update(update("t2", mesos_pb2.TASK_RUNNING, b"b", framework_id="F2"))
        self.manager.discard_framework("F1")
        self.assertEqual((self.manager.pending("F1"), self.manager.pending("F2")), (0, 1))
        self.clock.advance(10)
        self.assertEqual(self.uuids(), [b"a", b"b", b"b"])

    def test_stop(self):
        """
        After stopping nothing is sent or retried, but updates are kept.
        """
        self.manager.update(update("t1", mesos_pb2.TASK_RUNNING, b"a"))
        self.manager.stop()
        self.manager.update(update("t2", mesos_pb2.TASK_RUNNING, b"b"))
        self.clock.advance(100)
        self.assertEqual(self.uuids(), [b"a"])
        self.assertEqual(self.manager.pending(), 2)
        self.assertEqual(self.clock.getDelayedCalls(), [])
