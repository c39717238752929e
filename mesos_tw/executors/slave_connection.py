"""
How the command executor reaches its slave: a blocking TCP (or TLS)
connection from the standard library, without Twisted or a name lookup
when the slave is given by address, tried again while the slave may still
accept it (L{mesos_tw.executors.command} says why this process avoids
what it can).
"""

import os
import socket
import sys
import time

__all__ = ["CONNECT_TIMEOUT", "RECONNECT_INTERVAL", "SlaveAddress", "connect_patiently",
           "connect_to_slave"]

#: Seconds between attempts to reach a restarting slave again.
RECONNECT_INTERVAL = 0.25

#: How long a starting executor keeps trying to reach its slave: Mesos's
#: default --executor_registration_timeout, after which the slave gives up
#: on an executor that has not registered (and destroys its container).
CONNECT_TIMEOUT = 60.0


class SlaveAddress:
    """
    The slave's UPID, C{id@host:port}, as the executor needs it (a
    L{mesos_tw.protocols.upid.UPID} would do as well: that module's
    dataclass machinery is more than this process needs).
    """

    def __init__(self, text):
        ident, at, address = text.partition("@")
        host, colon, port = address.rpartition(":")
        if not (ident and at and host and colon and port.isdigit()) or int(port) > 65535:
            raise ValueError(f"malformed UPID {text!r}: expected id@host:port")
        self.text, self.host, self.port = text, host, int(port)

    def __str__(self):
        return self.text


def connect_patiently(slave, environ, connect=None, clock=time.monotonic, sleep=time.sleep):
    """
    Connect to the slave, trying again every L{RECONNECT_INTERVAL} for up
    to L{CONNECT_TIMEOUT}: on an overloaded machine a storm of starting
    executors can find the slave's accept queue full, or its connect time
    out, and a refused or slow first try must not fail the task while the
    slave would still accept the executor's registration.

    @param connect: C{connect(slave, environ)} returns a connected socket
        or raises C{OSError} (by default, a TCP connection, TLS if the
        environment asks for it).
    @raise OSError: the last attempt's error, once the time is up.
    """
    connect = connect or connect_to_slave
    deadline = clock() + CONNECT_TIMEOUT
    while True:
        try:
            return connect(slave, environ)
        except OSError as error:
            if clock() + RECONNECT_INTERVAL > deadline:
                raise
            sys.stderr.write(f"command executor: cannot connect to the slave {slave} yet "
                             f"({error}); trying again\n")
            sleep(RECONNECT_INTERVAL)


def connect_to_slave(slave, environ=os.environ):
    """
    A TCP connection to C{slave} (TLS if C{environ}'s C{LIBPROCESS_SSL_*}
    variables ask for it), with C{TCP_NODELAY}, in blocking mode.
    """
    family = _address_family(slave.host)
    if family is None:
        connection = socket.create_connection((slave.host, slave.port), timeout=10)
    else:
        # An address needs no name lookup: socket.create_connection's
        # costs a forked executor about 40 page faults.
        connection = socket.socket(family, socket.SOCK_STREAM)
        try:
            connection.settimeout(10)
            connection.connect((slave.host, slave.port))
        except BaseException:
            connection.close()
            raise
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    context = _tls_context(environ)
    if context is not None:
        connection = context.wrap_socket(connection, server_hostname=slave.host)
    connection.settimeout(None)
    return connection


def _address_family(host):
    """
    C{AF_INET} or C{AF_INET6} for an IP address, L{None} for a name.
    """
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
        except OSError:
            continue
        return family
    return None


def _tls_context(environ):
    """
    The TLS context the slave's C{LIBPROCESS_SSL_*} variables ask for, or
    L{None} without TLS (the standard library's C{ssl}: this executor
    avoids Twisted).
    """
    def flag(name):
        return environ.get(f"LIBPROCESS_SSL_{name}", "").strip().lower() in ("true", "1", "yes")

    if not flag("ENABLED"):
        return None
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if environ.get("LIBPROCESS_SSL_CERT_FILE") and environ.get("LIBPROCESS_SSL_KEY_FILE"):
        context.load_cert_chain(environ["LIBPROCESS_SSL_CERT_FILE"],
                                environ["LIBPROCESS_SSL_KEY_FILE"])
    if flag("VERIFY_CERT") or flag("REQUIRE_CERT"):
        context.load_verify_locations(environ["LIBPROCESS_SSL_CA_FILE"])
    else:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
