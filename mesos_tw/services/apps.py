"""
App definitions in Marathon's JSON: parsing with Marathon's defaults, and
validation whose errors name the offending path (Marathon's 422 body:
C{{"message": "Object is not valid", "details": [{"path": ..., "errors":
[...]}]}}).
"""

import re

from mesos_tw.services.constraints import validate_constraint

__all__ = ["AppDefinition", "InvalidApp", "MESOS_HEALTH_PROTOCOLS", "parse_app", "normalize_id",
           "DEFAULTS"]

#: Marathon's defaults for the fields we serve.
DEFAULTS = {
    "cmd": None, "args": None, "instances": 1, "cpus": 1.0, "mem": 128.0, "disk": 0.0,
    "env": {}, "uris": [], "fetch": [], "constraints": [], "healthChecks": [],
    "upgradeStrategy": {"minimumHealthCapacity": 1.0, "maximumOverCapacity": 1.0},
    "backoffSeconds": 1.0, "backoffFactor": 1.15, "maxLaunchDelaySeconds": 3600.0,
    "labels": {}, "user": None,
}

#: Marathon's health check defaults.
HEALTH_DEFAULTS = {
    "gracePeriodSeconds": 300, "intervalSeconds": 60, "timeoutSeconds": 20,
    "maxConsecutiveFailures": 3, "delaySeconds": 15, "portIndex": 0, "path": "/",
}

HEALTH_PROTOCOLS = ("HTTP", "HTTPS", "MESOS_HTTP", "MESOS_HTTPS", "TCP", "MESOS_TCP", "COMMAND")

#: The protocols of Mesos health checks, run by the task's executor (an
#: app has at most one); Marathon runs the others itself.
MESOS_HEALTH_PROTOCOLS = ("MESOS_HTTP", "MESOS_HTTPS", "MESOS_TCP", "COMMAND")

_SEGMENT = re.compile(r"^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*"
                      r"([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])$")


class InvalidApp(Exception):
    """
    An app definition Marathon would refuse with 422.

    @ivar details: C{[{"path": "/cpus", "errors": [...]}, ...]}.
    """

    def __init__(self, details):
        Exception.__init__(self, details)
        self.details = details

    def to_json(self):
        """
        Marathon's 422 body.
        """
        return {"message": "Object is not valid", "details": self.details}


def normalize_id(app_id, base="/"):
    """
    An app id as an absolute path (C{"web"} -> C{"/web"}), relative ones
    taken from C{base}; C{..} and C{.} segments resolved.
    """
    path = app_id if app_id.startswith("/") else base.rstrip("/") + "/" + app_id
    segments = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    return "/" + "/".join(segments)


class _Errors:
    def __init__(self):
        self.details = []

    def add(self, path, error):
        for detail in self.details:
            if detail["path"] == path:
                detail["errors"].append(error)
                return
        self.details.append({"path": path, "errors": [error]})


def _number(errors, body, name, minimum, integer=False):
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            (integer and not isinstance(value, int)):
        errors.add(f"/{name}", f"expected {'an integer' if integer else 'a number'}")
        return
    if value < minimum:
        errors.add(f"/{name}", f"got {value}, expected {minimum} or more")


def _health_check(errors, index, check, port_count):
    path = f"/healthChecks({index})"
    if not isinstance(check, dict):
        errors.add(path, "expected an object")
        return None
    check = {**HEALTH_DEFAULTS, "protocol": "HTTP", **check}
    if check["protocol"] not in HEALTH_PROTOCOLS:
        errors.add(f"{path}/protocol", f"must be one of {', '.join(HEALTH_PROTOCOLS)}")
    if check["protocol"] == "COMMAND":
        command = check.get("command")
        if not isinstance(command, dict) or not isinstance(command.get("value"), str):
            errors.add(f"{path}/command", "a COMMAND health check needs command.value")
    elif not (isinstance(check["portIndex"], int) and 0 <= check["portIndex"] < port_count):
        errors.add(f"{path}/portIndex", f"must name one of the app's {port_count} ports")
    if check["protocol"] in ("HTTP", "HTTPS", "MESOS_HTTP", "MESOS_HTTPS") and \
            not str(check["path"]).startswith("/"):
        errors.add(f"{path}/path", "must start with '/'")
    for name in ("gracePeriodSeconds", "intervalSeconds", "timeoutSeconds",
                 "maxConsecutiveFailures", "delaySeconds"):
        value = check[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            errors.add(f"{path}/{name}", "expected a non-negative number")
    return check


def parse_app(body, app_id=None):
    """
    Validate and complete an app definition (Marathon's JSON).

    @param app_id: the id the URL gives (PUT C{/v2/apps/<id>}), if any.
    @raise InvalidApp: naming every offending path.
    @return: an L{AppDefinition}.
    """
    errors = _Errors()
    if not isinstance(body, dict):
        raise InvalidApp([{"path": "/", "errors": ["expected a JSON object"]}])
    given = dict(body)
    raw_id = app_id if app_id is not None else given.get("id")
    if not isinstance(raw_id, str) or not raw_id.strip("/"):
        errors.add("/id", "error.path.missing" if raw_id is None else "must be a non-empty path")
        normalized = None
    else:
        normalized = normalize_id(raw_id)
        if not all(_SEGMENT.match(segment) for segment in normalized.strip("/").split("/")):
            errors.add("/id", "path contains invalid characters (allowed: lowercase letters, "
                              "digits, hyphens, \".\", \"..\")")
    app = {name: given.get(name, default) for name, default in DEFAULTS.items()}
    app["upgradeStrategy"] = dict(DEFAULTS["upgradeStrategy"], **(given.get("upgradeStrategy")
                                                                   or {}))
    if (app["cmd"] is None) == (app["args"] is None):
        errors.add("/", "AppDefinition must either contain one of 'cmd' or 'args'")
    if app["cmd"] is not None and not isinstance(app["cmd"], str):
        errors.add("/cmd", "expected a string")
    if app["args"] is not None and not (isinstance(app["args"], list) and
                                        all(isinstance(a, str) for a in app["args"])):
        errors.add("/args", "expected a list of strings")
    _number(errors, app, "instances", 0, integer=True)
    _number(errors, app, "cpus", 0)
    _number(errors, app, "mem", 0)
    _number(errors, app, "disk", 0)
    _number(errors, app, "backoffSeconds", 0)
    _number(errors, app, "backoffFactor", 1.0)
    _number(errors, app, "maxLaunchDelaySeconds", 0)
    strategy = app["upgradeStrategy"]
    for name in ("minimumHealthCapacity", "maximumOverCapacity"):
        value = strategy.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            errors.add(f"/upgradeStrategy/{name}", "got {!r}, expected a number between 0.0 "
                                                    "and 1.0".format(value))
    ports = _ports(errors, given)
    app["portDefinitions"] = [{"port": port, "protocol": "tcp"} for port in ports]
    app["ports"] = ports
    for name in ("env", "labels"):
        value = app[name]
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                  for k, v in value.items()):
            errors.add(f"/{name}", "expected an object of strings")
    fetch = list(app["fetch"]) + [{"uri": uri} for uri in app["uris"] if isinstance(uri, str)]
    for index, item in enumerate(fetch):
        if not isinstance(item, dict) or not isinstance(item.get("uri"), str):
            errors.add(f"/fetch({index})", "expected {\"uri\": ...}")
    app["fetch"] = fetch
    app["uris"] = [item["uri"] for item in fetch if isinstance(item, dict) and "uri" in item]
    if not isinstance(app["constraints"], list):
        errors.add("/constraints", "expected a list")
    else:
        for index, constraint in enumerate(app["constraints"]):
            problem = validate_constraint(constraint)
            if problem is not None:
                errors.add(f"/constraints({index})", problem)
    if not isinstance(app["healthChecks"], list):
        errors.add("/healthChecks", "expected a list")
    else:
        app["healthChecks"] = [_health_check(errors, index, check, len(ports))
                               for index, check in enumerate(app["healthChecks"])]
        if sum(check.get("protocol") in MESOS_HEALTH_PROTOCOLS
               for check in app["healthChecks"] if isinstance(check, dict)) > 1:
            errors.add("/", "AppDefinition can contain at most one Mesos health check")
    if errors.details:
        raise InvalidApp(errors.details)
    app["id"] = normalized
    return AppDefinition(app)


def _ports(errors, given):
    if "portDefinitions" in given:
        definitions = given["portDefinitions"]
        if not isinstance(definitions, list) or not all(
                isinstance(d, dict) and isinstance(d.get("port", 0), int) for d in definitions):
            errors.add("/portDefinitions", "expected a list of {\"port\": <integer>}")
            return []
        return [d.get("port", 0) for d in definitions]
    ports = given.get("ports", [0])
    if not isinstance(ports, list) or not all(isinstance(p, int) and not isinstance(p, bool)
                                              and 0 <= p <= 65535 for p in ports):
        errors.add("/ports", "expected a list of port numbers")
        return []
    return ports


class AppDefinition:
    """
    A valid app definition: Marathon's fields, with defaults filled in.

    @ivar fields: the definition as a JSON object (without C{version}).
    """

    #: The fields whose change is only a scale (no new instances needed).
    SCALE_ONLY = frozenset({"instances"})

    def __init__(self, fields):
        self.fields = fields

    @property
    def id(self):
        return self.fields["id"]

    @property
    def instances(self):
        return self.fields["instances"]

    def __getitem__(self, name):
        return self.fields[name]

    def with_changes(self, **changes):
        """
        A copy with some fields changed (C{instances=3}).
        """
        return AppDefinition(dict(self.fields, **changes))

    def differs_only_in_scale(self, other):
        """
        Whether C{other} is this definition with another instance count.
        """
        ours = {k: v for k, v in self.fields.items() if k not in self.SCALE_ONLY}
        theirs = {k: v for k, v in other.fields.items() if k not in self.SCALE_ONLY}
        return ours == theirs

    def to_json(self):
        """
        The definition as Marathon shows it.
        """
        return dict(self.fields)

    @classmethod
    def from_json(cls, fields):
        """
        A definition read back from the store.
        """
        return cls(dict(fields))
