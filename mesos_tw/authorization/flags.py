"""
The authorization flags, with Mesos's names: C{--acls} (the JSON, or a
path or C{file://} URL of it) and C{--authorizers} (C{local}, or an
installed third party's), for the master and the slave.
"""

from twisted.python import usage

from mesos_tw.authorization.acls import ACLError, parse_acls
from mesos_tw.authorization.interfaces import DEFAULT_AUTHORIZER, authorizer_factory

__all__ = ["AUTHORIZATION_PARAMETERS", "check_authorization"]

AUTHORIZATION_PARAMETERS = [
    ["acls", None, None, "Mesos's ACLs: the JSON, or a path (or file://) of a file holding it "
     "(register_frameworks, run_tasks, teardown_frameworks, view_*, access_sandboxes, "
     "view_flags, get_endpoints, permissive)."],
    ["authorizers", None, DEFAULT_AUTHORIZER, "Authorizer plugin (local: decides from --acls)."],
]


def check_authorization(options):
    """
    Parse C{--acls} and find the C{--authorizers} plugin; C{authorizer} is
    the authorizer to use, or L{None} (everything allowed) for the local
    one without ACLs, as in Mesos.

    @raise usage.UsageError: naming the flag that is wrong.
    """
    acls = None
    if options.get("acls"):
        try:
            acls = parse_acls(options["acls"])
        except ACLError as error:
            raise usage.UsageError(f"invalid value for --acls: {error}") from None
    names = [name.strip() for name in options["authorizers"].split(",") if name.strip()]
    if len(names) != 1:
        raise usage.UsageError("invalid value for --authorizers: name exactly one authorizer")
    try:
        factory = authorizer_factory(names[0])
    except ValueError as error:
        raise usage.UsageError(f"invalid value for --authorizers: {error}") from None
    options["authorizer"] = None if acls is None and names[0] == DEFAULT_AUTHORIZER \
        else factory.make_authorizer(acls)
