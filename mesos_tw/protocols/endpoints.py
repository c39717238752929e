"""
Listening and connecting as Twisted endpoint descriptions: the one place
where a node's transport is chosen.

A master or slave listens on a C{serverFromString} description (C{--listen};
by default C{tcp:port=<--port>:interface=<--ip>:backlog=...}, what it always
did), and connects to other nodes through a C{clientFromString} description
in which C{{host}} and C{{port}} are filled in from the peer's UPID
(C{--connect}; by default C{tcp:host={host}:port={port}:timeout=10}).  So a
TLS or UNIX-socket transport is configuration: an C{ssl:} description on
both sides, say, with the certificates named in it.

What a node advertises (its UPID, which others connect to) is separate:
C{--advertise_ip} and C{--advertise_port}, else C{--ip} and the port bound.
"""

from twisted.internet.endpoints import clientFromString, serverFromString
from twisted.logger import Logger
from twisted.python.failure import Failure

from mesos_tw.constants import LISTEN_BACKLOG

__all__ = [
    "DEFAULT_CONNECT",
    "ENDPOINT_PARAMETERS",
    "ClientEndpoints",
    "advertised",
    "check_endpoint_options",
    "listen_description",
    "listened",
    "server_endpoint",
]

_log = Logger()

#: How many peers' parsed endpoints a L{ClientEndpoints} keeps.
_PARSED_KEPT = 65536

#: How a node reaches another by default: TCP to the UPID's host and port.
DEFAULT_CONNECT = "tcp:host={host}:port={port}:timeout=10"


def quote(value):
    """
    C{value} escaped for an endpoint description (colons, equals signs and
    backslashes are its syntax).
    """
    return str(value).replace("\\", "\\\\").replace(":", "\\:").replace("=", "\\=")


def listen_description(ip, port, listen=None):
    """
    The description a node listens on: C{listen} if given, else TCP on
    C{port} at C{ip}.
    """
    if listen:
        return listen
    return f"tcp:port={port}:interface={quote(ip)}:backlog={LISTEN_BACKLOG}"


def server_endpoint(reactor, description):
    """
    The server endpoint C{description} names.

    @raise ValueError: saying what is wrong with it.
    """
    try:
        return serverFromString(reactor, description)
    except (ValueError, TypeError, KeyError) as error:
        raise ValueError(f"cannot listen on {description!r}: {error}") from None


def listened(d, program, description):
    """
    The Deferred C{d} of a daemon's C{listen} on C{description}, checked in
    its C{startService}: a daemon that cannot listen (its port in use, say)
    must not stay up doing nothing.  A failure already there (TCP, TLS and
    UNIX sockets fail at once) raises C{SystemExit} with one line naming
    what could not be bound, so that twistd exits with status 1; a later
    one is logged, and C{d} fails with it.
    """
    outcome = []
    d.addBoth(lambda result: outcome.append(result) or result)
    if outcome and isinstance(outcome[0], Failure):
        d.addErrback(lambda _: None)
        raise SystemExit(f"{program}: cannot listen on {description}: "
                         f"{outcome[0].getErrorMessage()}")

    def later(failure):
        _log.failure("{program} cannot listen on {description}", failure,
                     program=program, description=description)
        return failure

    return d.addErrback(later)


class ClientEndpoints:
    """
    Turns a peer's UPID into the client endpoint a node connects with.

    @ivar description: a C{clientFromString} description with C{{host}} and
        C{{port}} placeholders.
    """

    def __init__(self, reactor, description=DEFAULT_CONNECT, source_host=None):
        """
        @param source_host: the local address connections are made from
            (TCP's C{bindAddress}), or L{None} for the system's choice.
        @raise ValueError: if C{description} does not make an endpoint.
        """
        self.reactor = reactor
        if source_host is not None:
            description += f":bindAddress={quote(source_host)}"
        self.description = description
        self._parsed = {}
        try:
            self._for("127.0.0.1", 1)
        except (ValueError, TypeError, KeyError, IndexError) as error:
            raise ValueError(f"cannot connect with {description!r}: {error}") from None

    def _for(self, host, port):
        # Endpoints can connect any number of times: parse each address's
        # description once (a master reconnects to thousands of slaves).
        endpoint = self._parsed.get((host, port))
        if endpoint is None:
            if len(self._parsed) >= _PARSED_KEPT:
                self._parsed.clear()
            endpoint = self._parsed[host, port] = clientFromString(
                self.reactor, self.description.format(host=quote(host), port=port))
        return endpoint

    def __call__(self, upid):
        """
        The endpoint that reaches C{upid}.
        """
        return self._for(upid.host, upid.port)


#: The flags master and slave share for their addresses (Mesos's names,
#: plus C{--listen} and C{--connect}).
ENDPOINT_PARAMETERS = [
    ["listen", None, None, "Twisted server endpoint description to listen on (default: "
     "tcp:port=<--port>:interface=<--ip>), e.g. tcp6:port=5050:interface=\\:\\:."],
    ["connect", None, DEFAULT_CONNECT, "Twisted client endpoint description to reach other "
     "nodes with; {host} and {port} are filled in from the node's UPID."],
    ["advertise_ip", None, None, "IP address advertised to reach this node (default: --ip)."],
    ["advertise_port", None, None, "Port advertised to reach this node (default: the port "
     "it listens on)."],
]


def check_endpoint_options(options):
    """
    Check C{--listen}, C{--connect}, C{--advertise_ip} and
    C{--advertise_port} (parsed in place).

    @raise ValueError: naming the flag and what is wrong with it.
    """
    if options.get("advertise_port") is not None and isinstance(options["advertise_port"], str):
        port = options["advertise_port"]
        if not port.isdigit() or not 0 < int(port) <= 65535:
            raise ValueError(f"invalid value for --advertise_port: {port!r} is not a port")
        options["advertise_port"] = int(port)
    if options.get("listen"):
        try:
            server_endpoint(None, options["listen"])
        except ValueError as error:
            raise ValueError(f"invalid value for --listen: {error}") from None
    try:
        ClientEndpoints(None, options.get("connect") or DEFAULT_CONNECT)
    except ValueError as error:
        raise ValueError(f"invalid value for --connect: {error}") from None
    host = options.get("advertise_ip") or options["ip"]
    if host in ("0.0.0.0", "::"):
        raise ValueError(f"--ip={options['ip']} listens on every interface: give "
                         "--advertise_ip, the address others reach this node at")


def advertised(options):
    """
    C{(host, port)} a node advertises in its UPID: C{--advertise_ip} or
    C{--ip}, and C{--advertise_port} or 0 (the port bound, once listening).
    """
    return options.get("advertise_ip") or options["ip"], options.get("advertise_port") or 0
