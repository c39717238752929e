"""
mesos-local under cProfile, for the benchmarks' ``--profile`` option:

    python benchmarks/profiled_local.py OUTPUT [mesos-local flags...]

Runs ``mesos-local`` with the given flags until SIGTERM or SIGINT, then
writes cProfile's statistics of the whole process (master, slaves and
their launchers' side) to OUTPUT, for ``python -m pstats OUTPUT``.
"""

import cProfile
import sys

from twisted.internet import reactor

from mesos_tw import local
from mesos_tw.collector import tune_collector


def main(argv):
    """
    Parse the flags, profile the cluster while it runs, write the profile.
    """
    output, flags = argv[0], argv[1:]
    options = local.Options()
    options.parseOptions(flags)
    service = local.makeService(options, reactor)
    reactor.callWhenRunning(tune_collector)
    profile = cProfile.Profile()
    profile.enable()
    service.startService()
    reactor.addSystemEventTrigger("before", "shutdown", service.stopService)
    reactor.run()
    profile.disable()
    profile.dump_stats(output)


if __name__ == "__main__":
    main(sys.argv[1:])
