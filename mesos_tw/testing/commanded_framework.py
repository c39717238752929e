"""
A framework a test drives from outside its process: it reads commands on
standard input and reports every callback as one JSON line on standard
output, so a functional test can run it on another host (in a network
namespace) and follow it.

    python -m mesos_tw.testing.commanded_framework zk://198.18.0.10:2181/mesos

Commands, one per line: C{launch <task id> <host or *> <shell command>}
queues a task for the next offer from that host (0.1 cpus, 32 MB).  Its
failover timeout is an hour, so it survives a master failover.
"""

import json
import sys

from twisted.internet import stdio
from twisted.protocols.basic import LineReceiver

from mesos_tw.interface import Scheduler, mesos_pb2
from mesos_tw.native import MesosSchedulerDriver
from mesos_tw.resources import Resources

__all__ = ["CommandedScheduler", "main"]

TASK_RESOURCES = Resources.parse("cpus:0.1;mem:32")


def emit(event, **fields):
    """
    Print one event as a JSON line: C{event} first, then C{fields} in order.
    """
    print(json.dumps({"event": event, **fields}), flush=True)


class CommandedScheduler(Scheduler):
    """
    Launches the queued tasks on offers from their hosts; reports callbacks.
    """

    def __init__(self):
        self.queue = []

    def registered(self, driver, frameworkId, masterInfo):
        emit("registered", framework_id=frameworkId.value, master=masterInfo.pid)

    def reregistered(self, driver, masterInfo):
        emit("reregistered", master=masterInfo.pid)

    def disconnected(self, driver):
        emit("disconnected")

    def resourceOffers(self, driver, offers):
        for offer in offers:
            wanted = [t for t in self.queue if t[1] in ("*", offer.hostname)]
            if not wanted or not Resources.from_protobuf(offer.resources).contains(
                    TASK_RESOURCES):
                driver.declineOffer(offer.id, mesos_pb2.Filters(refuse_seconds=0.2))
                continue
            task_id, _, command = wanted[0]
            self.queue.remove(wanted[0])
            task = mesos_pb2.TaskInfo(
                name=task_id, task_id=mesos_pb2.TaskID(value=task_id), slave_id=offer.slave_id,
                resources=TASK_RESOURCES.to_protobuf())
            task.command.value = command
            driver.launchTasks(offer.id, [task], mesos_pb2.Filters(refuse_seconds=0.2))
            emit("launched", task=task_id, host=offer.hostname)

    def statusUpdate(self, driver, status):
        emit("update", task=status.task_id.value, state=mesos_pb2.TaskState.Name(status.state),
             message=status.message)

    def slaveLost(self, driver, slaveId):
        emit("slave_lost", slave=slaveId.value)

    def error(self, driver, message):
        emit("error", message=message)


class Commands(LineReceiver):
    """
    Standard input: the test's commands.
    """

    delimiter = b"\n"

    def __init__(self, scheduler, driver):
        self.scheduler = scheduler
        self.driver = driver

    def lineReceived(self, line):
        words = line.decode("utf-8").split(" ", 3)
        if len(words) == 4 and words[0] == "launch":
            self.scheduler.queue.append((words[1], words[2], words[3]))
            self.driver.reviveOffers()
        else:
            emit("error", message=f"unknown command {line!r}")


def main(argv=sys.argv, reactor=None):
    """
    Register with the master C{argv[1]} names and obey standard input.
    """
    if reactor is None:
        from twisted.internet import reactor
    scheduler = CommandedScheduler()
    driver = MesosSchedulerDriver(
        scheduler, mesos_pb2.FrameworkInfo(user="", name="commanded", failover_timeout=3600),
        argv[1], reactor=reactor)
    stdio.StandardIO(Commands(scheduler, driver), reactor=reactor)
    driver.start()
    reactor.run()


if __name__ == "__main__":
    main()
