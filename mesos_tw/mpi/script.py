"""
``mesos-mpirun``: run an MPI program's ranks on a Mesos cluster.

    mesos-mpirun --master=HOST:PORT|zk://... -n N [--cpus=1] [--mem=128]
                 [--gang_timeout=30secs] [--role=R] PROGRAM [ARGS...]

The ranks' output comes to our standard output and error; the exit
status is mpiexec's (0 when every rank exited 0), 3 when the ranks could
not all be placed within the gang timeout, 2 for a bad flag.  PROGRAM and
the working directory must exist on every slave (as with mpiexec).
"""

import sys

from twisted.python import usage

from mesos_tw.flags import MesosOptions, parse_duration, parse_positive_int
from mesos_tw.framework_cli import check_master, console_main, stop_driver, stop_soon
from mesos_tw.interface import mesos_pb2
from mesos_tw.mpi.scheduler import MPIScheduler
from mesos_tw.native import MesosSchedulerDriver

__all__ = ["Options", "main", "run"]


def _positive_float(text):
    value = float(text)
    if not value > 0:
        raise ValueError(f"{text!r} must be more than 0")
    return value


class Options(MesosOptions):
    """
    C{mesos-mpirun}'s flags, then the program and its arguments.
    """

    synopsis = "mesos-mpirun --master=HOST:PORT -n N [options] PROGRAM [ARGS...]"
    longdesc = "Gang-schedule N MPI ranks on a Mesos cluster and run PROGRAM with MPICH's hydra."
    optParameters = [
        ["master", None, None, "The master: host:port, zk://host:port/path or file:///path."],
        ["n", "n", None, "How many ranks."],
        ["cpus", None, "1", "Cpus per rank."],
        ["mem", None, "128", "Memory per rank, in MB."],
        ["gang_timeout", None, "30secs", "How long to gather every rank's resources."],
        ["role", None, "*", "The framework's role."],
        ["name", None, None, "The framework's name (default: mesos-mpirun and the program)."],
        ["user", None, "", "The framework's user (default: ours); slaves with "
                           "--switch_user run tasks as it."],
        ["mpiexec", None, "mpiexec", "MPICH's mpiexec (hydra)."],
    ]
    coercions = {"n": parse_positive_int, "cpus": _positive_float, "mem": _positive_float,
                 "gang_timeout": parse_duration}

    def parseArgs(self, *argv):
        """
        The program and its arguments.
        """
        self["argv"] = list(argv)

    def postOptions(self):
        """
        Check the flags.
        """
        super().postOptions()
        check_master(self)
        if self["n"] is None:
            raise usage.UsageError("-n (how many ranks) is required")
        if not self["argv"]:
            raise usage.UsageError("give the program to run (and its arguments)")
        if self["gang_timeout"] <= 0:
            raise usage.UsageError("invalid value for --gang_timeout: must be positive")


def run(reactor, options, stdout, stderr):
    """
    Register, run the job, say how it ended.

    @param stdout: a binary stream for the ranks' output; C{stderr} too.
    @return: a Deferred firing with the exit status.
    """
    scheduler = MPIScheduler(
        reactor, options["n"], options["argv"], _writer(stdout), _writer(stderr),
        cpus=options["cpus"], mem=options["mem"], gang_timeout=options["gang_timeout"],
        mpiexec=options["mpiexec"])
    name = options["name"] or f"mesos-mpirun: {options['argv'][0]}"
    framework = mesos_pb2.FrameworkInfo(user=options["user"], name=name, role=options["role"])
    driver = MesosSchedulerDriver(scheduler, framework, options["master"], reactor=reactor)
    reactor.addSystemEventTrigger("before", "shutdown", stop_driver, driver)
    driver.start()

    def ended(result):
        status, message = result
        stderr.write(f"mesos-mpirun: {message}\n".encode("utf-8"))
        stderr.flush()
        return stop_soon(reactor, driver, status)

    return scheduler.result.addCallback(ended)


def _writer(stream):
    def write(data):
        stream.write(data)
        stream.flush()
    return write


def main(argv=None):
    """
    The ``mesos-mpirun`` console script.
    """
    console_main("mesos-mpirun", Options(), lambda reactor, options: run(
        reactor, options, sys.stdout.buffer, sys.stderr.buffer), argv)
