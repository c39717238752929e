"""
The authentication flags, with Mesos's names: the master's
C{--authenticate_frameworks}, C{--authenticate_agents} (also
C{--authenticate_slaves}), C{--credentials} and C{--authenticators}; a
slave's C{--credential}; and both daemons' HTTP authentication flags.
"""

from twisted.python import usage

from mesos_tw.authentication.credentials import CredentialsError, read_credential, read_credentials
from mesos_tw.authentication.interfaces import DEFAULT_AUTHENTICATOR, authenticator_factory
from mesos_tw.flags import parse_bool
from mesos_tw.slave.executor_secrets import ExecutorSecrets, read_key

__all__ = ["HTTP_AUTHENTICATION_COERCIONS", "HTTP_AUTHENTICATION_PARAMETERS",
           "MASTER_AUTHENTICATION_COERCIONS", "MASTER_AUTHENTICATION_PARAMETERS",
           "MASTER_HTTP_PARAMETERS", "SLAVE_HTTP_PARAMETERS", "check_credential",
           "check_master_authentication", "check_master_http_authentication",
           "check_slave_http_authentication"]

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


#: HTTP authentication flags both daemons take (Mesos's names).
HTTP_AUTHENTICATION_PARAMETERS = [
    ["authenticate_http_readonly", None, "false", "Ask for HTTP Basic credentials on the "
     "read-only endpoints (state, flags, metrics, files, the web UI)."],
    ["authenticate_http_readwrite", None, "false", "Ask for HTTP Basic credentials on the "
     "endpoints that change things (/master/teardown)."],
]

#: The master's alone.
MASTER_HTTP_PARAMETERS = [
    ["authenticate_http_frameworks", None, "false", "Ask HTTP frameworks (/api/v1/scheduler) "
     "for HTTP Basic credentials; the principal must be their FrameworkInfo's."],
    ["http_authenticators", None, "basic", "HTTP authenticator (basic)."],
    ["http_framework_authenticators", None, "basic", "HTTP authenticator of the v1 scheduler "
     "API (basic)."],
]

#: The slave's alone (shared with mesos-local).
SLAVE_HTTP_PARAMETERS = [
    ["authenticate_http_executors", None, "false", "v1 executor API callers must show their "
     "executor's secret (handed over in MESOS_EXECUTOR_AUTHENTICATION_TOKEN)."],
    ["executor_secret_key", None, None, "Path (or file://) of the key executors' secrets are "
     "made with (so that they outlive the slave process); random when not given."],
    ["http_credentials", None, None, "Path (or file://) of the credentials HTTP clients "
     "authenticate with (as --credentials)."],
]

HTTP_AUTHENTICATION_COERCIONS = {
    "authenticate_http_readonly": parse_bool,
    "authenticate_http_readwrite": parse_bool,
    "authenticate_http_frameworks": parse_bool,
    "authenticate_http_executors": parse_bool,
}


def _http_required(options, kinds):
    return {kind for kind, flag in kinds if options.get(flag)}


def check_master_http_authentication(options):
    """
    The kinds of master endpoint that need credentials
    (C{http_authentication_required}).

    @raise usage.UsageError: for an authenticator other than C{basic}, or
        authentication asked for without C{--credentials}.
    """
    for flag in ("http_authenticators", "http_framework_authenticators"):
        if options[flag] != "basic":
            raise usage.UsageError(f"invalid value for --{flag}: only 'basic' is supported")
    required = _http_required(options, [("readonly", "authenticate_http_readonly"),
                                        ("readwrite", "authenticate_http_readwrite"),
                                        ("framework", "authenticate_http_frameworks")])
    if required and options["credentials_message"] is None:
        raise usage.UsageError("HTTP authentication (--authenticate_http_*) needs --credentials")
    options["http_authentication_required"] = required


def check_slave_http_authentication(options):
    """
    Read C{--http_credentials} (C{http_credentials_message}; mesos-local's
    slaves fall back on the master's C{--credentials}) and the kinds of
    slave endpoint that need them (C{slave_http_authentication_required}).

    @raise usage.UsageError: for a bad file, or authentication asked for
        without credentials.
    """
    credentials = options.get("credentials_message")
    if options.get("http_credentials"):
        try:
            credentials = read_credentials(options["http_credentials"])
        except CredentialsError as error:
            raise usage.UsageError(f"invalid value for --http_credentials: {error}") from None
    options["http_credentials_message"] = credentials
    required = _http_required(options, [("readonly", "authenticate_http_readonly"),
                                        ("readwrite", "authenticate_http_readwrite")])
    if required and credentials is None:
        raise usage.UsageError("HTTP authentication (--authenticate_http_*) needs "
                               "--http_credentials")
    options["slave_http_authentication_required"] = required
    options["executor_secrets"] = None
    if options.get("authenticate_http_executors"):
        key = None
        if options.get("executor_secret_key"):
            try:
                key = read_key(options["executor_secret_key"])
            except ValueError as error:
                raise usage.UsageError(f"invalid value for --executor_secret_key: {error}") \
                    from None
        options["executor_secrets"] = ExecutorSecrets(key)
