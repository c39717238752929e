"""
The authentication flags, with Mesos's names: the master's
C{--authenticate_frameworks}, C{--authenticate_agents} (also
C{--authenticate_slaves}), C{--credentials} and C{--authenticators}; a
slave's C{--credential}.
"""

from twisted.python import usage

from mesos_tw.authentication.credentials import CredentialsError, read_credential, read_credentials
from mesos_tw.authentication.interfaces import DEFAULT_AUTHENTICATOR, authenticator_factory
from mesos_tw.flags import parse_bool

__all__ = ["MASTER_AUTHENTICATION_COERCIONS", "MASTER_AUTHENTICATION_PARAMETERS",
           "check_credential", "check_master_authentication"]

MASTER_AUTHENTICATION_PARAMETERS = [
    ["authenticate_frameworks", None, "false", "Only authenticated frameworks may register "
     "(the scheduler driver's credential)."],
    ["authenticate_agents", None, "false", "Only authenticated slaves may register "
     "(the slave's --credential)."],
    ["authenticate_slaves", None, None, "Deprecated alias of --authenticate_agents."],
    ["credentials", None, None, "Path (or file://) of the credentials frameworks, slaves and "
     "HTTP clients authenticate with: JSON {\"credentials\": [{\"principal\": ..., "
     "\"secret\": ...}]} or lines of 'principal secret'."],
    ["authenticators", None, DEFAULT_AUTHENTICATOR, "Authenticator plugin for frameworks and "
     "slaves (crammd5, or an installed third party's)."],
]

MASTER_AUTHENTICATION_COERCIONS = {
    "authenticate_frameworks": parse_bool,
    "authenticate_agents": parse_bool,
    "authenticate_slaves": parse_bool,
}


def check_master_authentication(options):
    """
    Read C{--credentials} (into C{credentials_message}), find the
    C{--authenticators} plugin (C{authenticator_factory}), and fold
    C{--authenticate_slaves} into C{authenticate_agents}.

    @raise usage.UsageError: naming the flag that is wrong.
    """
    if options.get("authenticate_slaves") is not None:
        options["authenticate_agents"] = options["authenticate_agents"] or \
            options["authenticate_slaves"]
    options["credentials_message"] = None
    if options["credentials"]:
        try:
            options["credentials_message"] = read_credentials(options["credentials"])
        except CredentialsError as error:
            raise usage.UsageError(f"invalid value for --credentials: {error}") from None
    names = [name.strip() for name in options["authenticators"].split(",") if name.strip()]
    if not names:
        raise usage.UsageError("invalid value for --authenticators: No authenticator specified")
    if len(names) > 1:
        raise usage.UsageError("invalid value for --authenticators: Multiple authenticators "
                               "not supported")
    try:
        options["authenticator_factory"] = authenticator_factory(names[0])
    except ValueError as error:
        raise usage.UsageError(f"invalid value for --authenticators: {error}") from None
    for flag in ("authenticate_frameworks", "authenticate_agents"):
        if options[flag] and options["credentials_message"] is None:
            raise usage.UsageError(f"--{flag} needs --credentials: Failed to start master with "
                                   "authentication enabled: no credentials provided")


def check_credential(options):
    """
    Read a slave's C{--credential} into C{credential_message} (L{None}
    without one).

    @raise usage.UsageError: saying what is wrong with the file.
    """
    options["credential_message"] = None
    if options.get("credential"):
        try:
            options["credential_message"] = read_credential(options["credential"])
        except CredentialsError as error:
            raise usage.UsageError(f"invalid value for --credential: {error}") from None
