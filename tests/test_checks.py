"""
Tests for L{mesos_tw.checks}: the health-check semantics (Mesos's
HealthCheckTest cases, on a fake clock), the probes against real sockets and
processes, and the validation of health checks and kill policies.
"""

import http.server
import os
import socket
import ssl
import sys
import threading

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.checks.checker import HealthChecker
from mesos_tw.checks.loops import SelectorLoop
from mesos_tw.checks.policy import HealthChange, HealthPolicy
from mesos_tw.checks.probes import CommandProbe, HTTPProbe, HTTPSProbe, TCPProbe, probe_for
from mesos_tw.checks.twisted_loop import ReactorLoop, _Watch
from mesos_tw.checks.validation import (
    kill_grace_period, validate_health_check, validate_kill_policy)
from mesos_tw.protocols import mesos_pb2
from mesos_tw.testing.certificates import CertificateAuthority

HealthCheck = mesos_pb2.HealthCheck


class HealthPolicyTests(SynchronousTestCase):
    """
    L{HealthPolicy}: what a sequence of results means.
    """

    def test_first_success(self):
        """
        HealthyTask: the first success makes the task healthy; later ones
        are no change.
        """
        policy = HealthPolicy(3, 10, started=0)
        self.assertEqual(policy.success(1), HealthChange(healthy=True))
        self.assertIsNone(policy.success(2))

    def test_status_change(self):
        """
        HealthStatusChange: healthy, then each failure reported unhealthy
        with its count (as Mesos's C{HealthChecker::failure}), then healthy
        again on the first success after them, and not on the next.
        """
        policy = HealthPolicy(3, 0, started=0)
        self.assertEqual(policy.success(1), HealthChange(healthy=True))
        self.assertEqual(policy.failure(2), HealthChange(False, 1, False))
        self.assertEqual(policy.failure(3), HealthChange(False, 2, False))
        self.assertEqual(policy.success(4), HealthChange(healthy=True))
        self.assertIsNone(policy.success(5))

    def test_consecutive_failures(self):
        """
        ConsecutiveFailures: the C{n}th failure in a row kills; a success
        in between starts the count again.
        """
        policy = HealthPolicy(3, 0, started=0)
        self.assertEqual(policy.failure(1), HealthChange(False, 1, False))
        self.assertEqual(policy.failure(2), HealthChange(False, 2, False))
        self.assertEqual(policy.success(3), HealthChange(healthy=True))
        self.assertEqual(policy.failure(4), HealthChange(False, 1, False))
        self.assertEqual(policy.failure(5), HealthChange(False, 2, False))
        self.assertEqual(policy.failure(6), HealthChange(False, 3, True))

    def test_grace_period(self):
        """
        GracePeriod: failures before the first success are ignored during
        the grace period, counted after it.
        """
        policy = HealthPolicy(1, 10, started=100)
        self.assertIsNone(policy.failure(105))
        self.assertIsNone(policy.failure(110))
        self.assertEqual(policy.failure(110.5), HealthChange(False, 1, True))

    def test_grace_period_ends_at_first_success(self):
        """
        After a success, failures count even within the grace period.
        """
        policy = HealthPolicy(1, 10, started=0)
        policy.success(1)
        self.assertEqual(policy.failure(2), HealthChange(False, 1, True))


class FakeProbe:
    """
    A probe whose result the test gives.
    """

    def __init__(self):
        self.done = None
        self.cancelled = False

    def start(self, loop, done):
        self.done = done

    def cancel(self):
        self.cancelled = True


class HealthCheckerTests(SynchronousTestCase):
    """
    L{HealthChecker}: delay, interval and timeout on a fake clock.
    """

    def setUp(self):
        self.clock = Clock()
        self.probes = []
        self.changes = []
        self.warnings = []

    def checker(self, **fields):
        check = HealthCheck(type=HealthCheck.COMMAND, command=mesos_pb2.CommandInfo(value="x"),
                            **fields)

        def make_probe(check, environ, cwd):
            self.probes.append(FakeProbe())
            return self.probes[-1]

        checker = HealthChecker(ReactorLoop(self.clock), check,
                                lambda change, message: self.changes.append((change, message)),
                                warn=self.warnings.append, make_probe=make_probe)
        checker.start()
        return checker

    def test_delay_then_interval(self):
        """
        The first attempt comes after C{delay_seconds}, the next
        C{interval_seconds} after the last ended.
        """
        self.checker(delay_seconds=5, interval_seconds=2)
        self.clock.advance(4.9)
        self.assertEqual(self.probes, [])
        self.clock.advance(0.1)
        self.assertEqual(len(self.probes), 1)
        self.clock.advance(7)
        self.probes[0].done(True, "ok")
        self.assertEqual(self.changes, [(HealthChange(healthy=True), "ok")])
        self.clock.advance(1.9)
        self.assertEqual(len(self.probes), 1)
        self.clock.advance(0.1)
        self.assertEqual(len(self.probes), 2)

    def test_defaults(self):
        """
        Mesos's defaults: 15 s delay, 20 s timeout, 3 failures.
        """
        self.checker(grace_period_seconds=0)
        self.clock.advance(15)
        self.assertEqual(len(self.probes), 1)
        self.clock.advance(20)
        self.assertTrue(self.probes[0].cancelled)
        self.assertEqual(self.changes[0][0], HealthChange(False, 1, False))

    def test_timeout(self):
        """
        CheckCommandTimeout: an attempt not done in C{timeout_seconds} is
        cancelled and fails; its late answer is ignored.
        """
        self.checker(delay_seconds=0, timeout_seconds=1, consecutive_failures=1,
                     grace_period_seconds=0)
        self.clock.advance(0)
        self.clock.advance(1)
        self.assertTrue(self.probes[0].cancelled)
        self.assertEqual(self.changes, [(HealthChange(False, 1, True),
                                         "COMMAND health check timed out after 1 seconds")])
        self.probes[0].done(True, "late")
        self.assertEqual(len(self.changes), 1)
        self.assertEqual(self.warnings, ["COMMAND health check failed: COMMAND health check "
                                         "timed out after 1 seconds"])

    def test_no_timeout(self):
        """
        C{timeout_seconds} 0 means no limit.
        """
        self.checker(delay_seconds=0, timeout_seconds=0)
        self.clock.advance(0)
        self.clock.advance(1000)
        self.assertFalse(self.probes[0].cancelled)

    def test_grace_period_on_the_clock(self):
        """
        GracePeriod: failures within the grace period from the start are
        not reported.
        """
        self.checker(delay_seconds=0, interval_seconds=1, grace_period_seconds=5,
                     consecutive_failures=1)
        for _ in range(5):
            self.clock.advance(0.5)
            self.probes[-1].done(False, "no")
            self.clock.advance(0.5)
        self.assertEqual(self.changes, [])
        self.clock.advance(0.5)
        self.probes[-1].done(False, "no")
        self.assertEqual(self.changes, [(HealthChange(False, 1, True), "no")])

    def test_stop(self):
        """
        A stopped checker cancels its attempt and makes no more.
        """
        checker = self.checker(delay_seconds=0)
        self.clock.advance(0)
        checker.stop()
        self.assertTrue(self.probes[0].cancelled)
        self.clock.advance(100)
        self.assertEqual(len(self.probes), 1)
        self.assertEqual(self.clock.getDelayedCalls(), [])


def run_probe(probe, environ=None):
    """
    Run C{probe} on a L{SelectorLoop} until it reports.

    @return: C{(ok, message)}.
    """
    loop = SelectorLoop()
    results = []
    probe.start(loop, lambda ok, message: results.append((ok, message)))
    while not results:
        loop.poll(20)
    return results[0]


class Handler(http.server.BaseHTTPRequestHandler):
    """
    Answers C{/ok} with 200, C{/moved} with 302, anything else 500.
    """

    def do_GET(self):
        status = {"/ok": 200, "/moved": 302}.get(self.path, 500)
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args):
        pass


class ProbeTests(SynchronousTestCase):
    """
    The probes, against real sockets and processes on this machine.
    """

    def serve_http(self, context=None):
        """
        A L{Handler} server on 127.0.0.1, over TLS if given an
        C{SSLContext}, in a thread until the test ends; its port.
        """
        server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        if context is not None:
            server.socket = context.wrap_socket(server.socket, server_side=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        return server.server_address[1]

    def serve_https(self):
        """
        An HTTPS server on 127.0.0.1 with a certificate from an authority
        the probe has never heard of; its port.
        """
        cert_file, key_file = CertificateAuthority(self.mktemp()).issue("task")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        return self.serve_http(context)

    def test_https_ok(self):
        """
        HTTPS (C{scheme: https}): a 200 over TLS passes, the server's
        certificate unchecked (as Mesos's C{curl -k}); a 500 fails.
        """
        port = self.serve_https()
        self.assertEqual(run_probe(HTTPSProbe("127.0.0.1", port, "/ok")),
                         (True, "HTTP status 200"))
        self.assertEqual(run_probe(HTTPSProbe("127.0.0.1", port, "/other")),
                         (False, "Unexpected HTTP response code: 500"))

    def test_https_to_plain_http(self):
        """
        An HTTPS check of a server that speaks plain HTTP fails, saying the
        handshake failed.
        """
        port = self.serve_http()
        ok, message = run_probe(HTTPSProbe("127.0.0.1", port, "/ok"))
        self.assertFalse(ok)
        self.assertTrue(message.startswith(f"TLS handshake with 127.0.0.1:{port} failed: "),
                        message)

    def refusing_port(self):
        """
        A port that refuses connections: bound (so nothing else can take
        it during the test) but not listening.
        """
        sock = socket.socket()
        self.addCleanup(sock.close)
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

    def test_http_ok(self):
        """
        A 200 passes.
        """
        port = self.serve_http()
        self.assertEqual(run_probe(HTTPProbe("127.0.0.1", port, "/ok")), (True, "HTTP status 200"))

    def test_http_redirect(self):
        """
        A 3xx passes, as with Mesos's C{curl}.
        """
        port = self.serve_http()
        self.assertTrue(run_probe(HTTPProbe("127.0.0.1", port, "/moved"))[0])

    def test_http_error(self):
        """
        A 500 fails, naming the status.
        """
        port = self.serve_http()
        self.assertEqual(run_probe(HTTPProbe("127.0.0.1", port, "/other")),
                         (False, "Unexpected HTTP response code: 500"))

    def test_http_not_http(self):
        """
        A server that closes without answering fails the check.
        """
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        self.addCleanup(listener.close)

        def accept_and_close():
            connection, _ = listener.accept()
            # Read the request first: closing with it unread would reset
            # the connection instead of ending it.
            connection.recv(65536)
            connection.close()

        threading.Thread(target=accept_and_close, daemon=True).start()
        ok, message = run_probe(HTTPProbe("127.0.0.1", listener.getsockname()[1]))
        self.assertFalse(ok)
        self.assertIn("No HTTP status line", message)

    def test_tcp_connects(self):
        """
        A listening port passes a TCP check.
        """
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        self.addCleanup(listener.close)
        self.assertTrue(run_probe(TCPProbe("127.0.0.1", listener.getsockname()[1]))[0])

    def test_tcp_refused(self):
        """
        A port nothing listens on fails, saying why.
        """
        port = self.refusing_port()
        self.assertEqual(run_probe(TCPProbe("127.0.0.1", port)),
                         (False, f"Cannot connect to 127.0.0.1:{port}: Connection refused"))

    def test_command(self):
        """
        A command passes if it exits 0; it runs with the task's environment
        plus its own, in the given directory.
        """
        directory = self.mktemp()
        os.makedirs(directory)
        command = mesos_pb2.CommandInfo(value='test "$A$B" = ab && test "$(pwd)" = "$DIR"')
        command.environment.variables.add(name="B", value="b")
        environ = {"PATH": os.environ["PATH"], "A": "a", "DIR": os.path.abspath(directory)}
        self.assertEqual(run_probe(CommandProbe(command, environ, os.path.abspath(directory))),
                         (True, "Command exited with status 0"))
        self.assertEqual(run_probe(CommandProbe(mesos_pb2.CommandInfo(value="exit 4"), environ)),
                         (False, "Command exited with status 4"))

    def test_command_without_shell(self):
        """
        C{shell=false} runs the value with the arguments, no shell.
        """
        command = mesos_pb2.CommandInfo(value=sys.executable, shell=False,
                                        arguments=["-c", "raise SystemExit(3)"])
        self.assertEqual(run_probe(CommandProbe(command, {})),
                         (False, "Command exited with status 3"))

    def test_command_cancelled_is_killed(self):
        """
        A cancelled command is killed and reaped.
        """
        loop = SelectorLoop()
        probe = CommandProbe(mesos_pb2.CommandInfo(value="sleep 100"),
                             {"PATH": os.environ["PATH"]})
        probe.start(loop, lambda ok, message: self.fail("a cancelled probe reported"))
        probe.cancel()
        while probe.pidfd is not None:
            loop.poll(20)
        self.assertEqual(probe.process.returncode, -9)

    def test_probe_for(self):
        """
        Each check type gets its probe, HTTP and TCP on loopback (IPv6's
        when asked).
        """
        http = probe_for(HealthCheck(type=HealthCheck.HTTP, http=HealthCheck.HTTPCheckInfo(
            port=80, path="/x")), {})
        self.assertEqual((type(http), http.host, http.port, http.path),
                         (HTTPProbe, "127.0.0.1", 80, "/x"))
        tcp = probe_for(HealthCheck(type=HealthCheck.TCP, tcp=HealthCheck.TCPCheckInfo(
            port=81, protocol=mesos_pb2.NetworkInfo.IPv6)), {})
        self.assertEqual((type(tcp), tcp.host), (TCPProbe, "::1"))
        https = probe_for(HealthCheck(type=HealthCheck.HTTP, http=HealthCheck.HTTPCheckInfo(
            port=443, scheme="https")), {})
        self.assertEqual((type(https), https.port, https.path), (HTTPSProbe, 443, "/"))


class ReactorLoopTests(SynchronousTestCase):
    """
    L{ReactorLoop} gives the probes the reactor's file watching.
    """

    def test_probe_on_a_reactor(self):
        """
        A TCP probe runs on a reactor (here a real one, driven by hand).
        """
        from twisted.internet.pollreactor import PollReactor
        reactor = PollReactor()
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        self.addCleanup(listener.close)
        results = []
        TCPProbe("127.0.0.1", listener.getsockname()[1]).start(
            ReactorLoop(reactor), lambda ok, message: results.append(ok))
        for _ in range(100):
            if results:
                break
            reactor.iterate(0.2)
        self.assertEqual(results, [True])
        self.assertEqual([watch for watch in reactor.getReaders() + reactor.getWriters()
                          if isinstance(watch, _Watch)], [])


class ValidationTests(SynchronousTestCase):
    """
    Mesos's validation of health checks and kill policies.
    """

    def test_valid(self):
        """
        Well-formed checks of each type pass.
        """
        for check in (
                HealthCheck(type=HealthCheck.COMMAND, command=mesos_pb2.CommandInfo(value="x")),
                HealthCheck(type=HealthCheck.HTTP, http=HealthCheck.HTTPCheckInfo(port=1)),
                HealthCheck(type=HealthCheck.TCP, tcp=HealthCheck.TCPCheckInfo(port=1))):
            self.assertIsNone(validate_health_check(check))

    def test_invalid(self):
        """
        Each mistake gets Mesos's message.
        """
        cases = [
            (HealthCheck(), "HealthCheck must specify 'type'"),
            (HealthCheck(type=HealthCheck.UNKNOWN), "'UNKNOWN' is not a valid health check type"),
            (HealthCheck(type=HealthCheck.COMMAND),
             "Expecting 'command' to be set for COMMAND health check"),
            (HealthCheck(type=HealthCheck.HTTP),
             "Expecting 'http' to be set for HTTP health check"),
            (HealthCheck(type=HealthCheck.TCP), "Expecting 'tcp' to be set for TCP health check"),
            (HealthCheck(type=HealthCheck.HTTP, http=HealthCheck.HTTPCheckInfo(
                port=1, scheme="ftp")), "Unsupported HTTP health check scheme: 'ftp'"),
            (HealthCheck(type=HealthCheck.HTTP, http=HealthCheck.HTTPCheckInfo(
                port=1, path="x")), "The path 'x' of HTTP health check must start with '/'"),
            (HealthCheck(type=HealthCheck.TCP, tcp=HealthCheck.TCPCheckInfo(port=1),
                         interval_seconds=-1), "Expecting 'interval_seconds' to be non-negative"),
        ]
        for check, message in cases:
            self.assertEqual(validate_health_check(check), message)

    def test_kill_policy(self):
        """
        A negative grace period is refused.
        """
        self.assertEqual(
            validate_kill_policy(mesos_pb2.KillPolicy(
                grace_period=mesos_pb2.DurationInfo(nanoseconds=-1))),
            "Task's 'kill_policy.grace_period' must be non-negative")
        self.assertIsNone(validate_kill_policy(mesos_pb2.KillPolicy()))

    def test_grace_period(self):
        """
        The kill's policy wins over the task's, which wins over 3 s.
        """
        def policy(seconds):
            return mesos_pb2.KillPolicy(
                grace_period=mesos_pb2.DurationInfo(nanoseconds=int(seconds * 1e9)))

        self.assertEqual(kill_grace_period(), 3.0)
        self.assertEqual(kill_grace_period(None, policy(7)), 7.0)
        self.assertEqual(kill_grace_period(policy(1), policy(7)), 1.0)
        self.assertEqual(kill_grace_period(mesos_pb2.KillPolicy(), policy(7)), 7.0)
