"""
Fitting an app's instance on an offer: its resources, its ports (taken
from the offer's C{ports} ranges), its constraints; and the C{TaskInfo} it
becomes, with Marathon's environment (C{HOST}, C{PORT0}..., C{PORTS},
C{PORT}, C{MARATHON_APP_ID}, C{MARATHON_APP_VERSION}) and its health checks
as Mesos C{HealthCheck}s run by the executor.
"""

import shlex
import uuid

from mesos_tw.protocols import mesos_pb2
from mesos_tw.resources import Resources
from mesos_tw.services.apps import MESOS_HEALTH_PROTOCOLS
from mesos_tw.services.constraints import satisfies

__all__ = ["OfferSpace", "task_id_for", "app_id_of"]


def task_id_for(app_id, new_uuid=uuid.uuid4):
    """
    A new task id for an instance of C{app_id}, as Marathon names them
    (C{/group/web} -> C{group_web.<uuid>}).
    """
    return f"{app_id.strip('/').replace('/', '_')}.{new_uuid()}"


def app_id_of(task_id):
    """
    The app id a task id was made for.
    """
    return "/" + task_id.rpartition(".")[0].replace("_", "/")


def offer_attributes(offer):
    """
    C{{name: value}} of an offer's attributes (text, or a number's text).
    """
    values = {}
    for attribute in offer.attributes:
        if attribute.type == mesos_pb2.Value.SCALAR:
            number = attribute.scalar.value
            values[attribute.name] = f"{number:g}"
        elif attribute.type == mesos_pb2.Value.TEXT:
            values[attribute.name] = attribute.text.value
    return values


class OfferSpace:
    """
    What is left of one offer while instances are placed on it.
    """

    def __init__(self, offer):
        self.offer = offer
        self.left = Resources.from_protobuf(offer.resources)
        self.attributes = offer_attributes(offer)
        self.tasks = []

    @property
    def hostname(self):
        return self.offer.hostname

    def _free_ports(self):
        free = []
        for begin, end in self.left.get("ports") or ():
            free.extend(range(begin, end + 1))
        return free

    def fits(self, app, placed):
        """
        Whether one instance of C{app} fits what is left and its
        constraints, given C{placed} (C{[(hostname, attributes)]} of the
        app's other instances).
        """
        needed = Resources({"cpus": float(app["cpus"]), "mem": float(app["mem"]),
                            "disk": float(app["disk"])})
        if not self.left.contains(needed):
            return False
        if len(self._free_ports()) < len(app["ports"]):
            return False
        return all(satisfies(constraint, self.hostname, self.attributes, placed)
                   for constraint in app["constraints"])

    def place(self, app, version, task_id):
        """
        Take one instance's resources and ports; the C{TaskInfo}.
        """
        ports = self._free_ports()[:len(app["ports"])]
        taken = Resources({"cpus": float(app["cpus"]), "mem": float(app["mem"]),
                           "disk": float(app["disk"]),
                           "ports": tuple((port, port) for port in ports)})
        self.left = self.left - taken
        task = mesos_pb2.TaskInfo(name=app.id.strip("/").replace("/", "."),
                                  task_id=mesos_pb2.TaskID(value=task_id),
                                  slave_id=self.offer.slave_id)
        task.resources.extend(taken.to_protobuf())
        task.command.CopyFrom(_command(app, version, task_id, self.hostname, ports))
        health = _health_check(app, ports)
        if health is not None:
            task.health_check.CopyFrom(health)
        self.tasks.append(task)
        return task, ports


def _command(app, version, task_id, hostname, ports):
    command = mesos_pb2.CommandInfo()
    if app["cmd"] is not None:
        command.value = app["cmd"]
    else:
        # The slave runs commands with a shell only: the arguments, quoted.
        command.value = " ".join(shlex.quote(arg) for arg in app["args"])
    for item in app["fetch"]:
        uri = command.uris.add(value=item["uri"])
        if "executable" in item:
            uri.executable = bool(item["executable"])
        if "extract" in item:
            uri.extract = bool(item["extract"])
    environment = dict(app["env"])
    environment.update({"HOST": hostname, "MARATHON_APP_ID": app.id,
                        "MARATHON_APP_VERSION": version, "MESOS_TASK_ID": task_id,
                        "PORTS": ",".join(str(port) for port in ports)})
    for index, port in enumerate(ports):
        environment[f"PORT{index}"] = str(port)
    if ports:
        environment["PORT"] = str(ports[0])
    for name, value in sorted(environment.items()):
        command.environment.variables.add(name=name, value=value)
    return command


def _health_check(app, ports):
    """
    The app's Mesos health check (C{MESOS_HTTP}, C{MESOS_HTTPS},
    C{MESOS_TCP} or C{COMMAND}; at most one) as the task's C{HealthCheck},
    run by its executor on the slave; L{None} if it has none.  (Its
    C{HTTP}, C{HTTPS} and C{TCP} checks are run by the scheduler,
    L{mesos_tw.services.health}.)
    """
    mesos_checks = [check for check in app["healthChecks"]
                    if check["protocol"] in MESOS_HEALTH_PROTOCOLS]
    if not mesos_checks:
        return None
    check = mesos_checks[0]
    HealthCheck = mesos_pb2.HealthCheck
    health = HealthCheck(
        delay_seconds=check["delaySeconds"], interval_seconds=check["intervalSeconds"],
        timeout_seconds=check["timeoutSeconds"],
        consecutive_failures=check["maxConsecutiveFailures"],
        grace_period_seconds=check["gracePeriodSeconds"])
    protocol = check["protocol"]
    if protocol == "COMMAND":
        health.type = HealthCheck.COMMAND
        health.command.value = check["command"]["value"]
    elif protocol in ("MESOS_HTTP", "MESOS_HTTPS"):
        health.type = HealthCheck.HTTP
        health.http.port = ports[check["portIndex"]]
        health.http.path = check["path"]
        if protocol == "MESOS_HTTPS":
            health.http.scheme = "https"
    else:
        health.type = HealthCheck.TCP
        health.tcp.port = ports[check["portIndex"]]
    return health
