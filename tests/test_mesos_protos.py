"""
Tests that our protos keep Mesos 1.11's names, numbers and labels for the
messages Mesos's clients fill in most (the tables are copied from Mesos's
C{include/mesos/mesos.proto}; the whole files were generated from it and
compared field by field when they were written).
"""

from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.protocols import mesos_pb2, scheduler_pb2


def _label(field):
    return "repeated" if field.is_repeated else "required" if field.is_required else "optional"


#: Mesos 1.11's fields: {message: {field: (number, label)}}.
MESOS_FIELDS = {
    mesos_pb2.FrameworkInfo: {
        "user": (1, "required"), "name": (2, "required"), "id": (3, "optional"),
        "failover_timeout": (4, "optional"), "checkpoint": (5, "optional"),
        "role": (6, "optional"), "roles": (12, "repeated"), "hostname": (7, "optional"),
        "principal": (8, "optional"), "webui_url": (9, "optional"),
        "capabilities": (10, "repeated"), "labels": (11, "optional"),
        "offer_filters": (13, "repeated")},
    mesos_pb2.CommandInfo: {
        "uris": (1, "repeated"), "environment": (2, "optional"), "shell": (6, "optional"),
        "value": (3, "optional"), "arguments": (7, "repeated"), "user": (5, "optional")},
    mesos_pb2.Environment.Variable: {
        "name": (1, "required"), "type": (3, "optional"), "value": (2, "optional"),
        "secret": (4, "optional")},
    mesos_pb2.TaskInfo: {
        "name": (1, "required"), "task_id": (2, "required"), "slave_id": (3, "required"),
        "resources": (4, "repeated"), "executor": (5, "optional"), "command": (7, "optional"),
        "container": (9, "optional"), "health_check": (8, "optional"), "check": (13, "optional"),
        "kill_policy": (12, "optional"), "data": (6, "optional"), "labels": (10, "optional"),
        "discovery": (11, "optional"), "max_completion_time": (14, "optional"),
        "limits": (15, "repeated")},
    mesos_pb2.TaskStatus: {
        "task_id": (1, "required"), "state": (2, "required"), "message": (4, "optional"),
        "source": (9, "optional"), "reason": (10, "optional"), "data": (3, "optional"),
        "slave_id": (5, "optional"), "executor_id": (7, "optional"),
        "timestamp": (6, "optional"), "uuid": (11, "optional"), "healthy": (8, "optional"),
        "check_status": (15, "optional"), "labels": (12, "optional"),
        "container_status": (13, "optional"), "unreachable_time": (14, "optional"),
        "limitation": (16, "optional")},
    mesos_pb2.ContainerStatus: {
        "container_id": (4, "optional"), "network_infos": (1, "repeated"),
        "cgroup_info": (2, "optional"), "executor_pid": (3, "optional")},
}

#: Mesos 1.11's task states.
MESOS_TASK_STATES = {
    "TASK_STAGING": 6, "TASK_STARTING": 0, "TASK_RUNNING": 1, "TASK_KILLING": 8,
    "TASK_FINISHED": 2, "TASK_FAILED": 3, "TASK_KILLED": 4, "TASK_ERROR": 7, "TASK_LOST": 5,
    "TASK_DROPPED": 9, "TASK_UNREACHABLE": 10, "TASK_GONE": 11, "TASK_GONE_BY_OPERATOR": 12,
    "TASK_UNKNOWN": 13}


class MesosFieldsTests(SynchronousTestCase):
    """
    The field sets of the messages Mesos's clients send.
    """

    def test_fields(self):
        """
        Each message has exactly Mesos's fields, numbers and labels.
        """
        for message, expected in MESOS_FIELDS.items():
            fields = {field.name: (field.number, _label(field))
                      for field in message.DESCRIPTOR.fields}
            self.assertEqual(fields, expected, message.DESCRIPTOR.full_name)

    def test_task_states(self):
        """
        Every task state of Mesos 1.x, with its number.
        """
        states = mesos_pb2.TaskState.DESCRIPTOR.values
        self.assertEqual({value.name: value.number for value in states}, MESOS_TASK_STATES)

    def test_maps_are_maps(self):
        """
        Mesos's map fields are protobuf maps (JSON objects), not lists.
        """
        for field in (mesos_pb2.TaskInfo.DESCRIPTOR.fields_by_name["limits"],
                      mesos_pb2.FrameworkInfo.DESCRIPTOR.fields_by_name["offer_filters"],
                      scheduler_pb2.OfferConstraints.DESCRIPTOR.fields_by_name[
                          "role_constraints"]):
            self.assertTrue(field.message_type.GetOptions().map_entry, field.full_name)

    def test_operation_is_offers(self):
        """
        The scheduler's ACCEPT carries Mesos's C{Offer.Operation}.
        """
        field = scheduler_pb2.Call.Accept.DESCRIPTOR.fields_by_name["operations"]
        self.assertEqual(field.message_type.full_name, "mesos.Offer.Operation")
