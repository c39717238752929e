"""
Marathon's own health checks (C{HTTP}, C{HTTPS}, C{TCP}): run by the
service scheduler against each running instance's host and port, any
number per app, as Marathon's health-check workers do.  (An app's one Mesos
health check, C{MESOS_HTTP}, C{MESOS_HTTPS}, C{MESOS_TCP} or C{COMMAND},
goes in the task and is run by its executor on the slave.)

Each check of each instance is attempted every C{intervalSeconds}, an
attempt limited to C{timeoutSeconds}.  A failure before the check's first
success, within C{gracePeriodSeconds} of the instance's start, is ignored;
after C{maxConsecutiveFailures} failures in a row (when not 0) the instance
is to be killed.  Each check's latest result is kept in Marathon's
C{healthCheckResults} form.
"""

from twisted.internet.endpoints import HostnameEndpoint, connectProtocol
from twisted.internet.protocol import Protocol
from twisted.internet.ssl import CertificateOptions
from twisted.web.client import Agent, readBody
from twisted.web.iweb import IPolicyForHTTPS
from zope.interface import implementer

from mesos_tw.services.instances import iso_time

__all__ = ["MARATHON_PROTOCOLS", "MarathonHealthChecks", "probe"]

#: The protocols Marathon runs itself.
MARATHON_PROTOCOLS = ("HTTP", "HTTPS", "TCP")


@implementer(IPolicyForHTTPS)
class _AnyCertificate:
    """
    TLS without checking the server's certificate: a task's certificate is
    seldom one the scheduler trusts (Marathon does not check it either).
    """

    def creatorForNetloc(self, hostname, port):
        """
        TLS options that accept any certificate (a context factory: the
        TLS layer adapts it).
        """
        return CertificateOptions(verify=False)


def probe(reactor, check, host, port):
    """
    One attempt at a Marathon health check of C{host:port}.

    @return: a Deferred firing with C{(ok, cause)}: an HTTP(S) status from
        200 to 399 passes, as does a TCP connection; anything else (a
        connection refused, another status) fails, C{cause} saying why.
    """
    if check["protocol"] == "TCP":
        d = connectProtocol(HostnameEndpoint(reactor, host, port), Protocol())

        def connected(protocol):
            protocol.transport.loseConnection()
            return True, None

        return d.addCallback(connected)
    scheme = "https" if check["protocol"] == "HTTPS" else "http"
    agent = Agent(reactor, contextFactory=_AnyCertificate())
    url = f"{scheme}://{host}:{port}{check['path']}".encode("utf-8")
    d = agent.request(b"GET", url)

    def answered(response):
        # Read (and drop) the body, so the connection ends cleanly.
        body = readBody(response)
        if 200 <= response.code < 400:
            return body.addCallback(lambda _: (True, None))
        return body.addCallback(lambda _: (False, f"HTTP status {response.code}"))

    return d.addCallback(answered)


class _CheckRun:
    """
    One Marathon check of one instance: its timer and its latest result.
    """

    def __init__(self, index, check, instance):
        self.index = index
        self.check = check
        self.instance = instance
        self.call = None
        self.attempt = None
        self.failures = 0
        self.result = None


class MarathonHealthChecks:
    """
    Runs the Marathon health checks of running instances.

    @param reactor: for time, timers and connections.
    @param changed: called with an instance whose results changed.
    @param kill: called with an instance whose check failed
        C{maxConsecutiveFailures} times in a row, and why.
    @param probe: C{probe(reactor, check, host, port)}, L{probe} unless
        given (tests give their own).
    """

    def __init__(self, reactor, changed, kill, probe=probe):
        self.reactor = reactor
        self.changed = changed
        self.kill = kill
        self.probe = probe
        self._runs = {}

    def track(self, instance, checks):
        """
        Start checking C{instance} (running) with C{checks}, the Marathon
        checks of its app's definition (their index in it kept); nothing
        if it is checked already.
        """
        if instance.task_id in self._runs:
            return
        runs = self._runs[instance.task_id] = []
        for index, check in checks:
            run = _CheckRun(index, check, instance)
            runs.append(run)
            self._schedule(run)

    def forget(self, task_id):
        """
        Check C{task_id} no more (it ended, or is being killed).
        """
        for run in self._runs.pop(task_id, []):
            self._cancel(run)

    def stop(self):
        """
        Check nothing more.
        """
        for task_id in list(self._runs):
            self.forget(task_id)

    def results(self, task_id):
        """
        The latest result of each check of C{task_id} that has one, as
        Marathon's C{healthCheckResults} entries.
        """
        return [run.result for run in self._runs.get(task_id, []) if run.result is not None]

    def alive(self, task_id):
        """
        Whether every Marathon check of C{task_id} passed last time:
        C{True}, C{False} if one failed, L{None} if one has no result yet
        (or it has no checks).
        """
        runs = self._runs.get(task_id, [])
        if not runs:
            return None
        if any(run.result is not None and not run.result["alive"] for run in runs):
            return False
        if any(run.result is None for run in runs):
            return None
        return True

    def _schedule(self, run):
        run.call = self.reactor.callLater(run.check["intervalSeconds"], self._attempt, run)

    def _cancel(self, run):
        if run.call is not None and run.call.active():
            run.call.cancel()
        run.call = None
        if run.attempt is not None:
            attempt, run.attempt = run.attempt, None
            attempt.cancel()

    def _attempt(self, run):
        run.call = None
        instance = run.instance
        port = instance.ports[run.check["portIndex"]]
        d = run.attempt = self.probe(self.reactor, run.check, instance.host, port)
        if run.check["timeoutSeconds"] > 0:
            d.addTimeout(run.check["timeoutSeconds"], self.reactor)
        d.addCallbacks(lambda outcome: outcome,
                       lambda failure: (False, failure.getErrorMessage() or
                                        failure.type.__name__))
        d.addCallback(self._ended, run, d)

    def _ended(self, outcome, run, attempt):
        if run.attempt is not attempt:
            return
        run.attempt = None
        ok, cause = outcome
        now = self.reactor.seconds()
        result = dict(run.result or {"taskId": run.instance.task_id, "firstSuccess": None,
                                     "lastSuccess": None, "lastFailure": None,
                                     "lastFailureCause": None, "consecutiveFailures": 0})
        if ok:
            run.failures = 0
            result.update(alive=True, consecutiveFailures=0, lastSuccess=iso_time(now))
            result["firstSuccess"] = result["firstSuccess"] or result["lastSuccess"]
        elif self._in_grace(run, now):
            self._schedule(run)
            return
        else:
            run.failures += 1
            result.update(alive=False, consecutiveFailures=run.failures,
                          lastFailure=iso_time(now), lastFailureCause=cause)
        run.result = result
        self._schedule(run)
        self.changed(run.instance)
        limit = run.check["maxConsecutiveFailures"]
        if not ok and limit > 0 and run.failures >= limit:
            self.forget(run.instance.task_id)
            self.kill(run.instance, f"{run.check['protocol']} health check failed "
                                    f"{run.failures} times in a row: {cause}")

    @staticmethod
    def _in_grace(run, now):
        started = run.instance.started_at
        return (run.result is None or run.result["firstSuccess"] is None) and \
            started is not None and now - started <= run.check["gracePeriodSeconds"]
