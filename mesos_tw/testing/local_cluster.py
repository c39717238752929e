"""
mesos-local in the test's own process, for functional tests that want a
real master and real slaves on real ports with their objects at hand
(C{cluster.master_service.master}, C{cluster.slave_services[0].slave}).
"""

import os

from twisted.internet.defer import inlineCallbacks, maybeDeferred
from twisted.internet.task import deferLater

from mesos_tw import local

__all__ = ["DEADLINE", "start_mesos_local", "until"]

#: How long a test waits for a condition before failing, in seconds.
DEADLINE = 60.0


@inlineCallbacks
def until(reactor, predicate, what, deadline=DEADLINE, interval=0.01, details=None):
    """
    Fire with C{predicate()}'s first true result, checking every
    C{interval} seconds: a bounded wait for a condition, not a sleep
    standing in for one.  C{predicate} may return a Deferred (a probe over
    HTTP, say); what it raises fails the wait at once.

    @param details: called with C{predicate}'s last result when the wait
        fails; its text ends the failure's message (a state, some logs).
    @raise AssertionError: saying what was awaited, after C{deadline} s.
    """
    end = reactor.seconds() + deadline
    while True:
        result = yield maybeDeferred(predicate)
        if result:
            return result
        if reactor.seconds() > end:
            message = f"waited {deadline:g} s for {what}"
            if details is not None:
                message += f"\n{details(result)}"
            raise AssertionError(message)
        yield deferLater(reactor, interval, lambda: None)


@inlineCallbacks
def start_mesos_local(test, reactor, *flags, slaves=1, resources="cpus:2;mem:512;disk:100",
                      work_dir=None, isolator_factory=None):
    """
    Start mesos-local in this process on a free port, with C{slaves} slaves
    offering C{resources} each and (unless given) a fresh work directory
    of C{test}'s; it
    stops (its executors killed) at C{test}'s cleanup.

    @param flags: more of mesos-local's flags (C{"--cluster=name"}).
    @param work_dir: the work directory, when the test wants to look in it.
    @param isolator_factory: the slaves' isolator factory, instead of the
        one C{--isolation} names.
    @return: a Deferred firing with C{(cluster, master's port)} once every
        slave has registered.
    """
    options = local.Options(environ={})
    options.parseOptions([
        "--port=0", f"--num_slaves={slaves}",
        f"--work_dir={os.path.abspath(work_dir or test.mktemp())}",
        f"--resources={resources}", *flags,
    ])
    if isolator_factory is not None:
        options["isolator_factory"] = isolator_factory
    cluster = local.makeService(options, reactor)
    cluster.startService()
    test.addCleanup(cluster.stopService)
    port = (yield cluster.master_service.listening).getHost().port
    master = cluster.master_service.master
    yield until(reactor, lambda: len(master.slaves) == slaves,
                f"{slaves} slave(s) to register")
    return cluster, port
