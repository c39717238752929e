"""
One attempt at a health check, without blocking: a COMMAND probe runs the
check's command and waits for its exit on a pidfd; a TCP probe connects
without blocking; an HTTP probe connects, sends a GET and reads the status
line (over TLS for C{scheme: https}, not checking the server's certificate,
as Mesos's C{curl -k}).  Each reports once, through C{done(ok, message)}, unless cancelled
first (a timeout cancels it).

Mesos runs C{curl} and C{mesos-tcp-connect} for HTTP and TCP checks; these
do the same in the executor's process, on its loop
(L{mesos_tw.checks.loops}).
"""

import errno
import os
import selectors
import signal
import socket
import ssl
import subprocess

from mesos_tw.protocols import mesos_pb2

__all__ = ["CommandProbe", "HTTPProbe", "HTTPSProbe", "TCPProbe", "probe_for"]

#: Where HTTP and TCP checks connect: the task shares the executor's
#: network, as with Mesos's command executor.
IPV4_HOST = "127.0.0.1"
IPV6_HOST = "::1"

_IN_PROGRESS = (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN)

#: What a non-blocking send or receive raises when it has to wait (a TLS
#: socket's own two as well).
_WOULD_BLOCK = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


class CommandProbe:
    """
    Run a COMMAND check's C{CommandInfo} (with C{sh -c} when it is a shell
    command, as Mesos); it passes if it exits 0.

    @param environ: the environment it starts from (the task's); the
        command's own variables are added.
    @param cwd: where it runs (the task's sandbox), or L{None}.
    """

    def __init__(self, command, environ, cwd=None):
        self.command = command
        self.environ = dict(environ)
        self.cwd = cwd
        self.process = None
        self.pidfd = None
        self.loop = None
        self.done = None

    def start(self, loop, done):
        """
        Start the command; C{done} hears how it ended.
        """
        self.loop, self.done = loop, done
        environment = dict(self.environ)
        for variable in self.command.environment.variables:
            environment[variable.name] = variable.value
        if self.command.HasField("shell") and not self.command.shell:
            argv = [self.command.value, *self.command.arguments]
        else:
            argv = ["sh", "-c", self.command.value]
        try:
            self.process = subprocess.Popen(
                argv, env=environment, cwd=self.cwd, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        except OSError as error:
            loop.call_later(0, self._report, False, f"Cannot run the command: {error.strerror}")
            return
        self.pidfd = os.pidfd_open(self.process.pid)
        loop.watch(self.pidfd, selectors.EVENT_READ, self._exited)

    def _exited(self):
        code = self._reap()
        if code == 0:
            self._report(True, "Command exited with status 0")
        elif code < 0:
            self._report(False, f"Command terminated by signal {-code}")
        else:
            self._report(False, f"Command exited with status {code}")

    def _reap(self):
        self.loop.unwatch(self.pidfd)
        os.close(self.pidfd)
        self.pidfd = None
        return self.process.wait()

    def _report(self, ok, message):
        done, self.done = self.done, None
        if done is not None:
            done(ok, message)

    def cancel(self):
        """
        Kill the command (its whole session); it is reaped once it exits.
        """
        self.done = None
        if self.pidfd is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.loop.unwatch(self.pidfd)
        self.loop.watch(self.pidfd, selectors.EVENT_READ, self._reap)


class TCPProbe:
    """
    Connect to C{host:port}; it passes if the connection is made.
    """

    def __init__(self, host, port):
        self.host = host
        self.port = port
        self.sock = None
        self.loop = None
        self.done = None

    def start(self, loop, done):
        """
        Start connecting; C{done} hears whether it worked.
        """
        self.loop, self.done = loop, done
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        code = self.sock.connect_ex((self.host, self.port))
        if code == 0:
            loop.call_later(0, self._connected_now)
        elif code in _IN_PROGRESS:
            loop.watch(self.sock, selectors.EVENT_WRITE, self._writable)
        else:
            loop.call_later(0, self._failed, code)

    def _writable(self):
        self.loop.unwatch(self.sock)
        code = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self._failed(code)
        else:
            self._connected_now()

    def _failed(self, code):
        self._finish(False, f"Cannot connect to {self.host}:{self.port}: {os.strerror(code)}")

    def _connected_now(self):
        self._finish(True, f"Connected to {self.host}:{self.port}")

    def _finish(self, ok, message):
        self._close()
        done, self.done = self.done, None
        if done is not None:
            done(ok, message)

    def _close(self):
        if self.sock is not None:
            self.loop.unwatch(self.sock)
            self.sock.close()
            self.sock = None

    def cancel(self):
        """
        Give up: close the socket, report nothing.
        """
        self.done = None
        self._close()


class HTTPProbe(TCPProbe):
    """
    C{GET} C{path} from C{host:port}; it passes on a status from 200 to
    399 (Mesos: C{curl}'s status code, 2xx or 3xx).
    """

    def __init__(self, host, port, path="/"):
        TCPProbe.__init__(self, host, port)
        self.path = path or "/"
        self.buffer = b""
        self.request = b""

    def _connected_now(self):
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.request = (f"GET {self.path} HTTP/1.1\r\nHost: {host}:{self.port}\r\n"
                        "User-Agent: mesos_tw-health-check\r\nAccept: */*\r\n"
                        "Connection: close\r\n\r\n").encode("latin-1")
        self._send()

    def _send(self):
        self.loop.unwatch(self.sock)
        try:
            sent = self.sock.send(self.request)
        except _WOULD_BLOCK:
            sent = 0
        except OSError as error:
            self._finish(False, f"Cannot send the request to {self.host}:{self.port}: "
                                f"{error.strerror}")
            return
        self.request = self.request[sent:]
        if self.request:
            self.loop.watch(self.sock, selectors.EVENT_WRITE, self._send)
        else:
            self.loop.watch(self.sock, selectors.EVENT_READ, self._readable)

    def _readable(self):
        try:
            data = self.sock.recv(4096)
        except _WOULD_BLOCK:
            return
        except OSError as error:
            self._finish(False, f"Cannot read the response from {self.host}:{self.port}: "
                                f"{error.strerror}")
            return
        self.buffer += data
        line, found, _ = self.buffer.partition(b"\r\n")
        if not found and data and len(self.buffer) < 8192:
            return
        self._status_line(line if found else self.buffer)

    def _status_line(self, line):
        parts = line.split()
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            self._finish(False, f"No HTTP status line from {self.host}:{self.port}"
                                f"{' (connection closed)' if not line else ''}")
            return
        status = int(parts[1])
        if 200 <= status < 400:
            self._finish(True, f"HTTP status {status}")
        else:
            self._finish(False, f"Unexpected HTTP response code: {status}")


class HTTPSProbe(HTTPProbe):
    """
    L{HTTPProbe} over TLS: the handshake is made without blocking once
    connected, and the server's certificate is not checked (Mesos runs
    C{curl -k}: a task's certificate is seldom one the slave trusts).
    """

    def _connected_now(self):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        self.loop.unwatch(self.sock)
        self.sock = context.wrap_socket(self.sock, do_handshake_on_connect=False)
        self._handshake()

    def _handshake(self):
        self.loop.unwatch(self.sock)
        try:
            self.sock.do_handshake()
        except ssl.SSLWantReadError:
            self.loop.watch(self.sock, selectors.EVENT_READ, self._handshake)
        except ssl.SSLWantWriteError:
            self.loop.watch(self.sock, selectors.EVENT_WRITE, self._handshake)
        except (ssl.SSLError, OSError) as error:
            self._finish(False, f"TLS handshake with {self.host}:{self.port} failed: "
                                f"{getattr(error, 'reason', None) or error}")
        else:
            HTTPProbe._connected_now(self)

    def _readable(self):
        HTTPProbe._readable(self)
        # TLS may hold decrypted bytes the socket no longer signals.
        while self.sock is not None and self.done is not None and self.sock.pending():
            HTTPProbe._readable(self)


def probe_for(check, environ, cwd=None):
    """
    A new probe for one attempt at C{check} (a valid C{HealthCheck}).

    @param environ: the task's environment (for COMMAND checks).
    @param cwd: the task's sandbox (for COMMAND checks).
    """
    HealthCheck = mesos_pb2.HealthCheck
    if check.type == HealthCheck.COMMAND:
        return CommandProbe(check.command, environ, cwd)
    if check.type == HealthCheck.HTTP:
        host = IPV6_HOST if check.http.protocol == mesos_pb2.NetworkInfo.IPv6 else IPV4_HOST
        probe = HTTPSProbe if check.http.scheme == "https" else HTTPProbe
        return probe(host, check.http.port, check.http.path)
    host = IPV6_HOST if check.tcp.protocol == mesos_pb2.NetworkInfo.IPv6 else IPV4_HOST
    return TCPProbe(host, check.tcp.port)
