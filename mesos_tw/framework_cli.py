"""
What the framework commands (C{mesos-batch}, C{mesos-mpirun}) share: the
console-script entry (a bad flag is one line and exit status 2; the
reactor runs until the work's Deferred gives the exit status) and a clean
stop of their driver.
"""

import sys

from twisted.internet.defer import Deferred
from twisted.internet.task import react
from twisted.python import usage

from mesos_tw.detector import DetectorError, resolve_master
from mesos_tw.interface import mesos_pb2

__all__ = ["check_master", "console_main", "stop_driver", "stop_soon"]


def check_master(options):
    """
    C{options["master"]} is given and names a master.

    @raise usage.UsageError: saying which is wrong.
    """
    if not options["master"]:
        raise usage.UsageError("--master is required (e.g. --master=127.0.0.1:5050)")
    try:
        resolve_master(options["master"])
    except DetectorError as error:
        raise usage.UsageError(f"invalid value for --master: {error}") from None


def stop_driver(driver):
    """
    Stop C{driver} (unregistering the framework) if it still runs.
    """
    if driver.status == mesos_pb2.DRIVER_RUNNING:
        driver.stop()


def stop_soon(reactor, driver, status):
    """
    Stop C{driver} on the next turn of the reactor, then fire with
    C{status}: when called from a status update's callback, that update
    is acknowledged first (its callback must return for that).
    """
    stopped = Deferred()
    reactor.callLater(0, lambda: stopped.callback(stop_driver(driver)))
    return stopped.addCallback(lambda _: status)


def console_main(name, options, run, argv=None):
    """
    Parse C{argv} with C{options}, then run C{run(reactor, options)}
    (a Deferred of the exit status) on the global reactor and exit with it.
    """
    try:
        options.parseOptions(sys.argv[1:] if argv is None else argv)
    except usage.UsageError as error:
        sys.stderr.write(f"{name}: {error}\n")
        raise SystemExit(2)

    def _main(reactor):
        return run(reactor, options).addCallback(_exit_with)

    react(_main)


def _exit_with(status):
    if status:
        raise SystemExit(status)
