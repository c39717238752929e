"""
What the master's older operator endpoints (C{/master/roles},
C{/master/weights}, C{/master/maintenance/...}, C{/master/machine/...};
routed in L{mesos_tw.master.http}) read from requests and answer: Mesos's
JSON bodies parsed with the v1 codec, a refused call a 400.
"""

import json

from mesos_tw.master.operator_views import get_roles
from mesos_tw.protocols.maintenance_pb2 import Schedule
from mesos_tw.protocols.mesos_pb2 import MachineID, WeightInfo
from mesos_tw.resources import Resources
from mesos_tw.web.json import BadRequest
from mesos_tw.web.v1 import CallError, from_v1

__all__ = ["machine_ids_body", "operator_call", "roles_json", "schedule_body", "weights_body"]


def _json_body(request, parse):
    """
    C{parse} of the request's JSON body.

    @raise BadRequest: saying what is wrong with it.
    """
    try:
        return parse(json.loads(request.content.read()))
    except (ValueError, CallError) as error:
        raise BadRequest(str(error)) from None


def _array_of(cls, what):
    def parse(value):
        if not isinstance(value, list):
            raise CallError(f"the body must be a JSON array of {what}s")
        return [from_v1(cls, item, f"{what} {index}") for index, item in enumerate(value)]
    return parse


def machine_ids_body(request):
    """
    The body's JSON array of C{MachineID}s (C{/master/machine/down}).
    """
    return _json_body(request, _array_of(MachineID, "machine id"))


def weights_body(request):
    """
    The body's JSON array of C{WeightInfo}s (C{PUT /master/weights}) as
    C{{role: weight}}.
    """
    return {info.role: info.weight
            for info in _json_body(request, _array_of(WeightInfo, "weight"))}


def schedule_body(request):
    """
    The body's C{Schedule} (C{POST /master/maintenance/schedule}).
    """
    return _json_body(request, lambda value: from_v1(Schedule, value, "the schedule"))


def operator_call(call, *args):
    """
    C{call(*args)}, its L{CallError} a L{BadRequest}.
    """
    try:
        return call(*args)
    except CallError as error:
        raise BadRequest(str(error)) from None


def roles_json(master):
    """
    C{/master/roles}: each role's weight, frameworks and what they hold.
    """
    return {"roles": [
        {"name": role.name, "weight": role.weight,
         "frameworks": [f.value for f in role.frameworks],
         "resources": Resources.from_protobuf(role.resources).to_json()}
        for role in get_roles(master).roles]}
