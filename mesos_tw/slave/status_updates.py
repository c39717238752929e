"""
Reliable status updates: the slave keeps every update of a task in a stream,
sends the head to the master, and re-sends it until the framework
acknowledges it, then sends the next, so each task's updates arrive in order
and none is lost while the slave lives.

The stream of a task of a checkpointing framework is also written to its
C{task.updates} file (Mesos's C{StatusUpdateRecord}s: each update taken and
each acknowledgement), before the update is acknowledged to the executor or
the next one sent, so that a restarted slave finds it again (L{recover}).
"""

from collections import deque

from twisted.logger import Logger

from mesos_tw.constants import STATUS_UPDATE_RETRY_INTERVAL, TERMINAL_STATES
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.slave.checkpoint import checkpoint_messages

Record = internal.StatusUpdateRecord

__all__ = ["StatusUpdateManager", "StatusUpdateStream"]


class StatusUpdateStream:
    """
    The updates of one task not yet acknowledged, oldest first.
    """

    def __init__(self, path=None):
        self.pending = deque()
        self._seen = set()
        self.retry_call = None
        self.terminated = False
        self.path = path
        self.records = []
        #: The state of the latest update the framework acknowledged.
        self.acknowledged_state = None

    def _checkpoint(self, record):
        """
        Write C{record} to the stream's file (a stream with a C{path}).
        """
        self.records.append(record)
        checkpoint_messages(self.path, self.records)

    def replay(self, updates, acks):
        """
        Rebuild the stream from its checkpointed C{updates} and C{acks}
        (uuids), in the order they were taken.
        """
        acknowledged = set(acks)
        for update in updates:
            self._seen.add(update.uuid)
            if update.uuid in acknowledged:
                self.acknowledged_state = update.status.state
            self.records.append(Record(type=Record.UPDATE, update=update))
            if update.status.state in TERMINAL_STATES:
                self.terminated = True
            if update.uuid not in acknowledged:
                self.pending.append(update)
        self.records.extend(Record(type=Record.ACK, uuid=uuid) for uuid in acks)

    @property
    def head(self):
        """
        The update in flight, or L{None}.
        """
        return self.pending[0] if self.pending else None

    def add(self, update):
        """
        Append C{update} unless its uuid was seen before.

        @return: whether it was new.
        """
        if update.uuid in self._seen:
            return False
        self._seen.add(update.uuid)
        if self.path is not None:
            # Made only to be written: a record copies the whole update.
            self._checkpoint(Record(type=Record.UPDATE, update=update))
        self.pending.append(update)
        if update.status.state in TERMINAL_STATES:
            self.terminated = True
        return True

    def acknowledge(self, uuid):
        """
        Drop the head if C{uuid} is its uuid.

        @return: whether it was.
        """
        if self.pending and self.pending[0].uuid == uuid:
            if self.path is not None:
                self._checkpoint(Record(type=Record.ACK, uuid=uuid))
            self.acknowledged_state = self.pending.popleft().status.state
            return True
        return False


class StatusUpdateManager:
    """
    The streams of every task on a slave.

    @param forward: called with a C{StatusUpdate} to send it to the master
        (a slave without a master sends nothing: the update waits in its
        stream for the next retry or L{flush}).
    """

    log = Logger()

    def __init__(self, clock, forward, retry_interval=STATUS_UPDATE_RETRY_INTERVAL):
        self._clock = clock
        self._forward = forward
        self._retry_interval = retry_interval
        self._streams = {}
        self._stopped = False

    def update(self, update, path=None):
        """
        Take a new update for its task's stream; send it if it is the head.

        @param path: the task's C{task.updates} file, for a checkpointing
            framework's task: the stream is written there.
        @return: whether it was new (not a duplicate).
        """
        key = (update.framework_id.value, update.status.task_id.value)
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = StatusUpdateStream(path)
        if not stream.add(update):
            self.log.info("Dropping duplicate status update for task {task_id}",
                          task_id=key[1])
            return False
        if stream.head is update:
            self._send(key, stream)
        return True

    def acknowledge(self, framework_id, task_id, uuid):
        """
        The framework acknowledged C{uuid}: send the task's next update.

        @return: whether the acknowledgement matched the update in flight.
        """
        key = (framework_id, task_id)
        stream = self._streams.get(key)
        if stream is None or not stream.acknowledge(uuid):
            self.log.info("Ignoring acknowledgement for task {task_id}: not the update in flight",
                          task_id=task_id)
            return False
        if stream.head is not None:
            self._send(key, stream)
            return True
        self._cancel(stream)
        if stream.terminated:
            # The stream's uuids are kept until its terminal update is
            # acknowledged, so a late duplicate is still recognised.
            del self._streams[key]
        return True

    def recover(self, framework_id, task_id, path, updates, acks):
        """
        Rebuild a task's stream from what was checkpointed in C{path}; its
        unacknowledged updates are sent at the next L{flush} (once the
        slave has re-registered), not before.  A stream whose updates were
        all acknowledged and that ended is not kept.
        """
        stream = StatusUpdateStream(path)
        stream.replay(updates, acks)
        if stream.head is not None or not stream.terminated:
            self._streams[(framework_id, task_id)] = stream

    def flush(self, framework_id=None):
        """
        Send every stream's head now (after re-registering with a master),
        or those of one framework (whose scheduler failed over); a stream
        whose updates are all acknowledged has nothing to send.
        """
        for key, stream in list(self._streams.items()):
            if stream.head is not None and framework_id in (None, key[0]):
                self._send(key, stream)

    def discard_framework(self, framework_id):
        """
        Forget a removed framework's updates: nobody is left to acknowledge.
        """
        for key in [k for k in self._streams if k[0] == framework_id]:
            self._cancel(self._streams.pop(key))

    def has_stream(self, framework_id, task_id):
        """
        Whether the task's stream is still kept: it has updates waiting, or
        its terminal update has not been acknowledged yet.  While it is,
        a copy of one of its updates is recognised as a duplicate.
        """
        return (framework_id, task_id) in self._streams

    def unacknowledged_ending(self, framework_id, task_id):
        """
        For a task that has ended but whose updates are not all
        acknowledged: the oldest update not yet acknowledged (the one in
        flight); else L{None}.
        """
        stream = self._streams.get((framework_id, task_id))
        if stream is None or not stream.terminated:
            return None
        return stream.head

    def pending(self, framework_id=None):
        """
        How many updates wait for acknowledgement (of one framework, or all).
        """
        return sum(
            len(stream.pending) for key, stream in self._streams.items()
            if framework_id is None or key[0] == framework_id
        )

    def stop(self):
        """
        Cancel every retry timer and send nothing more: the slave is going.
        Updates still taken are kept, for a later recovery to find.
        """
        self._stopped = True
        for stream in self._streams.values():
            self._cancel(stream)

    def _send(self, key, stream):
        """
        Send the stream's head, and retry it C{retry_interval} from now
        unless acknowledged: a timer still pending (the previous head's,
        just acknowledged, or this one's, sent again) is moved rather
        than replaced, which costs the reactor far less than a new one
        per update.
        """
        if self._stopped:
            self._cancel(stream)
            return
        self._forward(stream.head)
        call = stream.retry_call
        if call is not None and call.active():
            call.reset(self._retry_interval)
        else:
            stream.retry_call = self._clock.callLater(self._retry_interval, self._retry, key)

    def _retry(self, key):
        stream = self._streams.get(key)
        if stream is not None and stream.head is not None:
            stream.retry_call = None
            self.log.info("Re-sending unacknowledged status update for task {task_id}",
                          task_id=key[1])
            self._send(key, stream)

    @staticmethod
    def _cancel(stream):
        if stream.retry_call is not None and stream.retry_call.active():
            stream.retry_call.cancel()
        stream.retry_call = None
