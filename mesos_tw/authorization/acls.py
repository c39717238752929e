"""
Mesos's ACLs (C{--acls}): a JSON object (or a path or C{file://} URL of a
file holding one) with C{permissive} and, per action, a list of rules, each
naming its subjects (C{principals}) and its objects (C{roles}, C{users},
C{framework_principals}, C{logs}, C{flags}, C{paths}) as
C{{"values": [...]}} or C{{"type": "ANY"}} / C{{"type": "NONE"}}.
"""

import json
from dataclasses import dataclass

__all__ = ["ACTIONS", "ACLs", "ACLError", "Entity", "Rule", "parse_acls"]

#: Each action Mesos's local authorizer knows that mesos_tw enforces, and
#: the key of its objects.
ACTIONS = {
    "register_frameworks": "roles",
    "run_tasks": "users",
    "teardown_frameworks": "framework_principals",
    "view_frameworks": "users",
    "view_tasks": "users",
    "view_executors": "users",
    "access_sandboxes": "users",
    "access_mesos_logs": "logs",
    "view_flags": "flags",
    "get_endpoints": "paths",
}

SOME, ANY, NONE = "SOME", "ANY", "NONE"


class ACLError(ValueError):
    """
    ACLs that cannot be used; the message names the part at fault.
    """


@dataclass(frozen=True)
class Entity:
    """
    A rule's subjects or objects: C{SOME} of C{values}, C{ANY}, or
    C{NONE}.
    """

    type: str
    values: tuple = ()

    def matches(self, request):
        """
        Mesos's C{matches}: whether this rule applies to C{request} (an
        L{Entity} of the principal or object asked about).
        """
        if request.type == NONE:
            return self.type == NONE
        if request.type == ANY:
            return self.type in (ANY, NONE)
        return self.type in (ANY, NONE) or set(request.values) <= set(self.values)

    def allows(self, request):
        """
        Mesos's C{allows}: whether this rule, once it applies, lets
        C{request} through.
        """
        if request.type == NONE:
            return self.type == NONE
        if request.type == ANY:
            return self.type == ANY
        if self.type == ANY:
            return True
        if self.type == NONE:
            return False
        return set(request.values) <= set(self.values)


@dataclass(frozen=True)
class Rule:
    """
    One ACL: its subjects and objects.
    """

    subjects: Entity
    objects: Entity


@dataclass(frozen=True)
class ACLs:
    """
    Parsed ACLs: C{rules[action]} in order, and what applies when none
    matches (C{permissive}).
    """

    permissive: bool
    rules: dict


def _entity(value, where):
    if not isinstance(value, dict):
        raise ACLError(f"{where} must be an object with 'values' or 'type'")
    unknown = set(value) - {"values", "type"}
    if unknown:
        raise ACLError(f"{where} has unknown field(s) {', '.join(sorted(unknown))}")
    if "values" in value:
        values = value["values"]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ACLError(f"{where}.values must be a list of strings")
        return Entity(SOME, tuple(values))
    kind = value.get("type", ANY)
    if kind not in (ANY, NONE, SOME):
        raise ACLError(f"{where}.type must be ANY or NONE, not {kind!r}")
    return Entity(kind)


def parse_acls(text):
    """
    Mesos's ACLs from C{text}: the JSON itself, or a path or C{file://}
    URL of a file holding it.

    @raise ACLError: naming what is wrong.
    """
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        path = stripped[len("file://"):] if stripped.startswith("file://") else stripped
        try:
            with open(path, encoding="utf-8") as file:
                stripped = file.read()
        except OSError as error:
            raise ACLError(f"cannot read '{path}': {error.strerror}") from None
    try:
        document = json.loads(stripped)
    except ValueError as error:
        raise ACLError(f"not JSON: {error}") from None
    if not isinstance(document, dict):
        raise ACLError("the ACLs must be a JSON object")
    permissive = document.get("permissive", True)
    if not isinstance(permissive, bool):
        raise ACLError("permissive must be true or false")
    rules = {}
    for action, entries in document.items():
        if action == "permissive":
            continue
        objects_key = ACTIONS.get(action)
        if objects_key is None:
            raise ACLError(f"unknown action {action!r} (known: {', '.join(sorted(ACTIONS))})")
        if not isinstance(entries, list):
            raise ACLError(f"{action} must be a list of rules")
        parsed = []
        for index, entry in enumerate(entries):
            where = f"{action}[{index}]"
            if not isinstance(entry, dict):
                raise ACLError(f"{where} must be an object")
            unknown = set(entry) - {"principals", objects_key}
            if unknown:
                raise ACLError(f"{where} has unknown field(s) {', '.join(sorted(unknown))} "
                               f"(expected principals and {objects_key})")
            parsed.append(Rule(_entity(entry.get("principals", {"type": ANY}),
                                       f"{where}.principals"),
                               _entity(entry.get(objects_key, {"type": ANY}),
                                       f"{where}.{objects_key}")))
        rules[action] = tuple(parsed)
    return ACLs(permissive, rules)
