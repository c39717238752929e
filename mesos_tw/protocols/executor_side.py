"""
The executor's side of the classic protocol, written once: what an executor
sends the slave, as the executor driver (L{mesos_tw.driver.executor}) and
the slave's v1 executor API (L{mesos_tw.slave.executor_api}, speaking for
an HTTP executor) send it.  (The command executor writes the same messages
without the protobuf runtime: L{mesos_tw.executors.wire}.)
"""


from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2

__all__ = ["executor_message", "executor_update"]

def executor_update(status, framework_id, executor_id, slave_id, now, uuid,
                    keep_timestamp=False, into=None):
    """
    The C{StatusUpdate} an executor sends for C{status}, which is stamped
    in place: this executor's id, the executor as its source, C{uuid} as
    its uuid (and the update's), the slave's id once known, and C{now} as
    its time (unless C{keep_timestamp} and it has one).

    @param into: an empty C{StatusUpdate} to fill (the C{update} of the
        C{StatusUpdateMessage} to send, so that it is not copied again),
        or L{None} for a new one.
    """
    status.executor_id.CopyFrom(executor_id)
    status.source = mesos_pb2.TaskStatus.SOURCE_EXECUTOR
    if uuid:
        status.uuid = uuid
    if not (keep_timestamp and status.HasField("timestamp")):
        status.timestamp = now
    if slave_id is not None:
        status.slave_id.CopyFrom(slave_id)
    update = internal.StatusUpdate() if into is None else into
    update.framework_id.CopyFrom(framework_id)
    update.executor_id.CopyFrom(executor_id)
    update.status.CopyFrom(status)
    update.timestamp = now
    if uuid is not None:
        update.uuid = uuid
    if slave_id is not None:
        update.slave_id.CopyFrom(slave_id)
    return update


def executor_message(framework_id, executor_id, slave_id, data):
    """
    The C{ExecutorToFrameworkMessage} carrying C{data} to the scheduler
    (the slave's id is empty until the executor has registered).
    """
    return internal.ExecutorToFrameworkMessage(
        slave_id=slave_id or mesos_pb2.SlaveID(value=""), framework_id=framework_id,
        executor_id=executor_id, data=data)
