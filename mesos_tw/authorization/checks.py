"""
What the master's and slave's HTTP endpoints ask the authorizer: the
approvers of a request's principal for some actions at once, and whose
sandbox a path is in.
"""

import re

from twisted.internet.defer import gatherResults, succeed

from mesos_tw.web.authentication import principal_of
from mesos_tw.web.json import BadRequest, text_error

__all__ = ["EVERYTHING", "ReadView", "allow_all", "approved_or_forbidden", "approvers", "read_view",
           "sandbox_access", "sandbox_of"]

_SANDBOX = re.compile(r"/frameworks/([^/]+)/executors/([^/]+)(?:/|$)")


def allow_all(obj):
    """
    The approver when there is no authorizer: everything is allowed.
    """
    return True


def approvers(authorizer, principal, *actions):
    """
    A Deferred firing with C{{action: approver}} of C{principal} for each
    of C{actions} (each allowing everything without an authorizer).
    """
    if authorizer is None:
        return succeed({action: allow_all for action in actions})
    d = gatherResults([authorizer.approver(principal, action) for action in actions],
                      consumeErrors=True)
    d.addCallback(lambda found: dict(zip(actions, found)))
    return d


def sandbox_of(path):
    """
    C{(framework_id, executor_id)} of the executor sandbox C{path} is in
    (Mesos's layout, C{.../frameworks/<id>/executors/<id>/runs/...}), or
    L{None} for a path outside any.
    """
    match = _SANDBOX.search(path)
    return match.groups() if match else None


class ReadView:
    """
    What one caller may see of the master's state (Mesos filters it the
    same way): frameworks by C{view_frameworks}, tasks by C{view_tasks},
    executors by C{view_executors}, each asked about the framework's user.

    @param found: C{{action: approver}} for those three actions.
    """

    ACTIONS = ("view_frameworks", "view_tasks", "view_executors")

    def __init__(self, found=None):
        found = found or {}
        self._frameworks = found.get("view_frameworks", allow_all)
        self._tasks = found.get("view_tasks", allow_all)
        self._executors = found.get("view_executors", allow_all)

    def framework(self, record):
        """
        Whether the framework (a C{FrameworkRecord}) is shown.
        """
        return self._frameworks(record.info.user)

    def tasks(self, records, framework):
        """
        The task records of C{framework} that are shown.
        """
        if not self._tasks(framework.info.user):
            return []
        return list(records)

    def executors(self, framework):
        """
        Whether C{framework}'s executors are shown.
        """
        return self._executors(framework.info.user)

    def shows(self, action, user):
        """
        Whether C{action} (one of L{ACTIONS}) is allowed about a framework
        whose user is C{user}: for documents that are not the master's
        records (a slave's own state).
        """
        return {"view_frameworks": self._frameworks, "view_tasks": self._tasks,
                "view_executors": self._executors}[action](user)


#: The view of a caller who may see everything (no authorizer).
EVERYTHING = ReadView()


def read_view(authorizer, principal):
    """
    A Deferred firing with the L{ReadView} of C{principal}.
    """
    return approvers(authorizer, principal, *ReadView.ACTIONS).addCallback(ReadView)


def sandbox_access(authorizer, request, node, then):
    """
    C{then()} if C{request}'s principal may read what its C{path} argument
    names: a sandbox (C{access_sandboxes}, asked about its framework's
    user, which C{node}, a master or slave, knows from its active or
    completed frameworks) or the slave's log (C{access_mesos_logs}); else
    a 403.
    """
    path = request.args.get(b"path", [b""])[0].decode("utf-8", "replace")
    if path.rstrip("/") == "/slave/log":
        return approved_or_forbidden(authorizer, request, "access_mesos_logs", None, then)
    found = sandbox_of(path)
    framework = node.frameworks.get(found[0]) if found else None
    if framework is None and found:
        framework = next((f for f in node.completed_frameworks if f.id == found[0]), None)
    user = framework.info.user if framework is not None else None
    return approved_or_forbidden(authorizer, request, "access_sandboxes", user, then)


def approved_or_forbidden(authorizer, request, action, obj, then):
    """
    C{then()} if the principal C{request} authenticated as may do
    C{action} to C{obj} (a L{BadRequest} it raises is a 400), else a 403
    saying what it may not do.

    @return: a Deferred firing with the response body.
    """
    def decide(found):
        if found[action](obj):
            try:
                return then()
            except BadRequest as error:
                return text_error(request, 400, str(error))
        what = action.replace("_", " ")
        return text_error(request, 403, f"Not authorized to {what}" +
                          (f" of '{obj}'" if obj is not None else ""))

    return approvers(authorizer, principal_of(request), action).addCallback(decide)
