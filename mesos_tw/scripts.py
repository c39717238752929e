"""
Console scripts ``mesos-master``, ``mesos-slave``, ``mesos-local`` and
``mesos-services``: the twistd plugins in the foreground, with the same
flags.  A bad flag is one line on standard error naming it, and exit status
2.
"""

import sys

from twisted.python import usage
from twisted.python.reflect import namedAny

__all__ = ["local_main", "master_main", "services_main", "slave_main", "twistd_argv"]

_TAPS = {
    "mesos-master": "mesos_tw.master.tap",
    "mesos-slave": "mesos_tw.slave.tap",
    "mesos-local": "mesos_tw.local",
    "mesos-services": "mesos_tw.services.tap",
}


def twistd_argv(plugin, args):
    """
    The twistd command line that runs C{plugin} in the foreground with the
    plugin flags C{args}.
    """
    return ["twistd", "--nodaemon", "--pidfile=", plugin, *args]


def _run(plugin, args=None):
    args = sys.argv[1:] if args is None else args
    if not any(a in ("--help", "-h") for a in args):
        try:
            namedAny(_TAPS[plugin]).Options().parseOptions(list(args))
        except usage.UsageError as error:
            sys.stderr.write(f"{plugin}: {error}\n")
            raise SystemExit(2)
    from twisted.scripts.twistd import run

    sys.argv = twistd_argv(plugin, args)
    run()


def master_main():
    """
    ``mesos-master [flags]``.
    """
    _run("mesos-master")


def slave_main():
    """
    ``mesos-slave --master=HOST:PORT [flags]``.
    """
    _run("mesos-slave")


def local_main():
    """
    ``mesos-local [--num_slaves=N] [flags]``.
    """
    _run("mesos-local")


def services_main():
    """
    ``mesos-services --master=HOST:PORT [--zk=zk://...] [flags]``.
    """
    _run("mesos-services")
