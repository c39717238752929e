"""
L{mesos_tw.protocols.executor_side}: what an executor sends, as built for
the executor driver.
"""

import os
import uuid

from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.executor_side import executor_update
from mesos_tw.protocols.wire_format import random_uuid


class RandomUUIDTests(SynchronousTestCase):
    """
    L{random_uuid} gives what C{uuid.uuid4().bytes} gives.
    """

    def test_same_bits_as_uuid4(self):
        """
        From the same random bytes, the bytes of a version 4 C{UUID}.
        """
        for _ in range(200):
            data = os.urandom(16)
            self.assertEqual(random_uuid(lambda count: data),
                             uuid.UUID(bytes=data, version=4).bytes)

    def test_version_and_variant(self):
        """
        A UUID of version 4, RFC 4122's variant.
        """
        made = uuid.UUID(bytes=random_uuid())
        self.assertEqual((made.version, made.variant), (4, uuid.RFC_4122))


class ExecutorUpdateTests(SynchronousTestCase):
    """
    L{executor_update} fills a given update as it makes a new one.
    """

    def test_into_the_message_to_send(self):
        """
        Filling the C{update} of a C{StatusUpdateMessage} gives the same
        update as a new one.
        """
        ids = (mesos_pb2.FrameworkID(value="F1"), mesos_pb2.ExecutorID(value="e1"),
               mesos_pb2.SlaveID(value="S1"))

        def status():
            return mesos_pb2.TaskStatus(task_id=mesos_pb2.TaskID(value="t1"),
                                        state=mesos_pb2.TASK_RUNNING)

        made = executor_update(status(), *ids, 5.0, b"u1")
        message = internal.StatusUpdateMessage()
        filled = executor_update(status(), *ids, 5.0, b"u1", into=message.update)
        self.assertIs(filled, message.update)
        self.assertEqual(message.update, made)
        self.assertEqual(made.status.uuid, b"u1")
