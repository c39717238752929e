"""
``mesos-batch``: run a job on a Mesos cluster, placing its tasks near their
input.

    mesos-batch --master=HOST:PORT|zk://... [--role=R] [--locality_wait=5secs]
                [--json] [--listen=tcp:8080] [JOB.json | - | '{"tasks": ...}']

It exits 0 when every task finished, 1 when a task failed or the job was
cancelled, 2 for a bad flag or job file.  Progress goes to standard error
(a bar on a terminal), the final report to standard output (text, or one
JSON object with C{--json}).  With C{--listen} it keeps running and takes
jobs over HTTP (L{mesos_tw.batch.http}) until interrupted.
"""

import json
import sys

from twisted.internet.defer import Deferred
from twisted.python import usage

from mesos_tw.batch.job import JobError, parse_job
from mesos_tw.batch.report import Progress, text_report
from mesos_tw.batch.scheduler import BatchScheduler
from mesos_tw.flags import MesosOptions, parse_duration
from mesos_tw.framework_cli import check_master, console_main, stop_driver, stop_soon
from mesos_tw.interface import mesos_pb2
from mesos_tw.native import MesosSchedulerDriver

__all__ = ["Options", "main", "run"]


def _endpoint(text):
    """
    A server endpoint string; a bare port means C{tcp:PORT} on the loopback
    interface (the API has no authentication: listening wider is a choice
    made with a full endpoint string).
    """
    return f"tcp:{text}:interface=127.0.0.1" if text.isdigit() else text


class Options(MesosOptions):
    """
    C{mesos-batch}'s flags (C{MESOS_MASTER} and the like work too).
    """

    synopsis = ("mesos-batch --master=HOST:PORT [--role=R] [--locality_wait=5secs] [--json] "
                "[JOB.json]")
    longdesc = ("Run a job's tasks on a Mesos cluster near their input (delay scheduling). "
                "JOB.json is a file, - for standard input, or the JSON itself.")
    optParameters = [
        ["master", None, None, "The master: host:port, zk://host:port/path or file:///path."],
        ["role", None, "*", "The framework's role (weighted by the master's --weights)."],
        ["locality_wait", None, "5secs", "How long a job passes up offers waiting for hosts, "
                                         "then racks, holding its tasks' input."],
        ["name", None, None, "The framework's name (default: mesos-batch and the job's)."],
        ["user", None, "", "The framework's user (default: ours); slaves with "
                           "--switch_user run tasks as it."],
        ["listen", None, None, "Serve the HTTP API here (tcp:8080, or a port) and keep running."],
    ]
    optFlags = [["json", None, "Print the final report as one JSON object."]]
    coercions = {"locality_wait": parse_duration}

    def parseArgs(self, job=None):
        """
        The job: a path, C{-} or JSON text (optional with C{--listen}).
        """
        self["job"] = job

    def postOptions(self):
        """
        Check the flags and read the job.
        """
        super().postOptions()
        check_master(self)
        if self["job"] is None and not self["listen"]:
            raise usage.UsageError("give a job (JOB.json, - or JSON text), or --listen")
        self["spec"] = None if self["job"] is None else load_job(self["job"])


def load_job(argument, stdin=None):
    """
    The L{JobSpec} that C{argument} gives: JSON text, C{-} (standard input)
    or a file's path.

    @raise usage.UsageError: naming the file and what is wrong.
    """
    if argument.lstrip().startswith("{"):
        where, text = "the job", argument
    elif argument == "-":
        where, text = "standard input", (stdin or sys.stdin).read()
    else:
        where = argument
        try:
            with open(argument, encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as error:
            raise usage.UsageError(f"cannot read {argument}: {error}") from None
    try:
        return parse_job(text)
    except JobError as error:
        raise usage.UsageError(f"{where}: {error}") from None


def run(reactor, options, stdout, stderr):
    """
    Register, run the job (and serve the API with C{--listen}), report.

    @return: a Deferred firing with the exit status.
    """
    spec = options["spec"]
    terminal = not options["listen"] and stderr.isatty()
    scheduler = BatchScheduler(reactor, options["locality_wait"],
                               on_change=Progress(stderr, reactor, terminal))
    name = options["name"] or ("mesos-batch" + (f": {spec.name}" if spec else ""))
    framework = mesos_pb2.FrameworkInfo(user=options["user"], name=name, role=options["role"])
    driver = MesosSchedulerDriver(scheduler, framework, options["master"], reactor=reactor)
    reactor.addSystemEventTrigger("before", "shutdown", stop_driver, driver)
    driver.start()
    if options["listen"]:
        # Imported here: Klein and twisted.web are a third of the start-up
        # of a one-job run, which does not need them.
        from twisted.internet.endpoints import serverFromString
        from twisted.web.server import Site

        from mesos_tw.batch.http import BatchHTTP

        site = Site(BatchHTTP(scheduler, reactor).resource())
        d = serverFromString(reactor, _endpoint(options["listen"])).listen(site)
        d.addCallback(lambda port: stderr.write(
            f"mesos-batch: API at http://{port.getHost().host}:{port.getHost().port}/jobs\n"))
        if spec is not None:
            scheduler.submit(spec)
        return Deferred()
    job = scheduler.submit(spec)

    def ended(job):
        report = job.report(reactor.seconds())
        stdout.write(json.dumps(report) + "\n" if options["json"] else text_report(report))
        stdout.flush()
        for message in scheduler.errors:
            stderr.write(f"mesos-batch: {message}\n")
        return stop_soon(reactor, driver, 0 if job.state == "finished" else 1)

    return job.ended.addCallback(ended)


def main(argv=None):
    """
    The ``mesos-batch`` console script.
    """
    console_main("mesos-batch", Options(),
                 lambda reactor, options: run(reactor, options, sys.stdout, sys.stderr), argv)
