"""
Status updates through one master: emulated slaves send updates, a real
``mesos-master`` process forwards them to an emulated scheduler, which
acknowledges each straight to its slave; and, in the same run, the ceiling:
the raw rate of frames parsed between two processes on this machine.

    python benchmarks/message_rate.py                      # 20,000 and 100,000 updates
    python benchmarks/message_rate.py --updates 50000 --slaves 10 --window 100

Four processes: the master (``python -m twisted mesos-master``), the
emulated scheduler and the emulated slaves (this script in their roles,
each a L{MessageNode} on the real reactor), and this one, which starts them
and prints the table.  Each slave keeps C{--window} updates unacknowledged
at most, sending the next as each acknowledgement comes.  The rate is
acknowledged updates per second (first sent to last acknowledged).  Each
process's CPU per update (user + system time over the run divided by the
updates: the master's, the emulated slaves', the emulated scheduler's)
depends far less on how busy the machine is than the rate does; the
master's bound is the rate its CPU per update would allow on a core of
its own (worked out, not measured).  The ceiling: one process writes frames (the same
``StatusUpdateMessage`` envelope) as fast as it can, another parses each
(``Int32StringReceiver`` and protobuf) and counts.  The goal (issue 15):
at least 20,000 updates per second through the master.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import uuid

from twisted.internet import reactor
from twisted.internet.defer import gatherResults
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint, connectProtocol
from twisted.internet.protocol import Factory, Protocol
from twisted.protocols.basic import Int32StringReceiver
from zope.interface import implementer

from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.codec import decode_envelope, encode_frame
from mesos_tw.protocols.network import IMessageReceiver, MessageNode
from mesos_tw.protocols.upid import UPID

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_TICKS = os.sysconf("SC_CLK_TCK")


def report(**figures):
    """
    Tell the parent process a result, one JSON line on standard output.
    """
    print(json.dumps(figures), flush=True)


def sample_update(slave_id, framework_id, number, slave_pid):
    """
    The C{StatusUpdateMessage} an emulated slave sends for update C{number}.
    """
    status = mesos_pb2.TaskStatus(
        task_id=mesos_pb2.TaskID(value=f"task-{number}"), state=mesos_pb2.TASK_RUNNING,
        slave_id=mesos_pb2.SlaveID(value=slave_id), uuid=uuid.uuid4().bytes, timestamp=1.0,
        source=mesos_pb2.TaskStatus.SOURCE_EXECUTOR)
    return internal.StatusUpdateMessage(update=internal.StatusUpdate(
        framework_id=mesos_pb2.FrameworkID(value=framework_id), status=status,
        slave_id=status.slave_id, timestamp=1.0, uuid=status.uuid), pid=str(slave_pid))


# The emulated scheduler.

@implementer(IMessageReceiver)
class EmulatedScheduler:
    """
    Registers a framework and acknowledges every update to its slave.
    """

    def __init__(self, master):
        self.master = master
        self.node = MessageNode(reactor, UPID(f"scheduler-{uuid.uuid4()}", "127.0.0.1", 0), self)

    def start(self):
        """
        Register the framework.
        """
        self.node.send(self.master, internal.RegisterFrameworkMessage(
            framework=mesos_pb2.FrameworkInfo(user="bench", name="message-rate")))

    def message_received(self, sender, message):
        """
        Acknowledge an update to its slave; report the framework's id.
        """
        if isinstance(message, internal.StatusUpdateMessage):
            update = message.update
            self.node.send(UPID.parse(message.pid), internal.StatusUpdateAcknowledgementMessage(
                slave_id=update.slave_id, framework_id=update.framework_id,
                task_id=update.status.task_id, uuid=update.uuid))
        elif isinstance(message, internal.FrameworkRegisteredMessage):
            report(framework_id=message.framework_id.value)

    def peer_lost(self, upid):
        """
        Nothing to do: the run ends with the master.
        """


# The emulated slaves.

@implementer(IMessageReceiver)
class EmulatedSlave:
    """
    Registers, then keeps C{window} updates in flight until C{share} have
    been acknowledged.
    """

    def __init__(self, master, framework_id, share, window, done):
        self.master = master
        self.framework_id = framework_id
        self.share = share
        self.window = window
        self.done = done
        self.sent = 0
        self.acknowledged = 0
        self.id = None
        self.node = MessageNode(reactor, UPID("slave(1)", "127.0.0.1", 0), self)

    def listen(self):
        """
        Listen on a free loopback port (acknowledgements come straight).
        """
        return self.node.listen(TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1"))

    def register(self):
        """
        Register with the master.
        """
        info = mesos_pb2.SlaveInfo(hostname="emulated", port=self.node.upid.port)
        self.node.send(self.master, internal.RegisterSlaveMessage(slave=info))

    def go(self):
        """
        Send the first window of updates.
        """
        for _ in range(min(self.window, self.share)):
            self.send_next()

    def send_next(self):
        """
        Send one more update.
        """
        self.sent += 1
        self.node.send(self.master, sample_update(self.id, self.framework_id, self.sent,
                                                  self.node.upid))

    def message_received(self, sender, message):
        """
        An acknowledgement lets the next update go; registration and pings
        are answered.
        """
        if isinstance(message, internal.StatusUpdateAcknowledgementMessage):
            self.acknowledged += 1
            if self.sent < self.share:
                self.send_next()
            elif self.acknowledged == self.share:
                self.done(self)
        elif isinstance(message, internal.SlaveRegisteredMessage):
            self.id = message.slave_id.value
            self.done(self)
        elif isinstance(message, internal.PingSlaveMessage):
            self.node.send(sender, internal.PongSlaveMessage())

    def peer_lost(self, upid):
        """
        Nothing to do: the run ends with the master.
        """


def run_slaves(master, framework_id, count, total, window):
    """
    Register C{count} slaves, then send C{total} updates among them;
    report the rate.
    """
    waiting = set()
    started = []

    def done(slave):
        waiting.discard(slave)
        if waiting:
            return
        if not started:
            started.extend((time.monotonic(), time.process_time()))
            waiting.update(slaves)
            for each in slaves:
                each.go()
            return
        elapsed = time.monotonic() - started[0]
        report(updates=total, seconds=elapsed, cpu=time.process_time() - started[1])
        reactor.stop()

    share = total // count
    slaves = [EmulatedSlave(master, framework_id, share, window, done) for _ in range(count)]
    waiting.update(slaves)

    def listening(_):
        for each in slaves:
            each.register()

    gatherResults([each.listen() for each in slaves]).addCallback(listening)
    reactor.run()


# The ceiling.

class FrameCounter(Int32StringReceiver):
    """
    Parses every frame and counts them.
    """

    MAX_LENGTH = 16 * 1024 * 1024

    def __init__(self, total):
        self.total = total
        self.count = 0
        self.first = None

    def stringReceived(self, frame):
        """
        Parse one frame; report the rate after the last.
        """
        decode_envelope(frame)
        self.count += 1
        if self.first is None:
            self.first = time.monotonic()
        if self.count == self.total:
            report(frames=self.total, seconds=time.monotonic() - self.first)
            reactor.stop()


class FrameWriter(Protocol):
    """
    Writes C{total} frames as fast as the transport takes them.
    """

    def __init__(self, total):
        frame = encode_frame(UPID("slave(1)", "127.0.0.1", 1),
                             sample_update("S1", "F1", 1, UPID("slave(1)", "127.0.0.1", 1)))
        self.chunk = frame * 1000
        self.left = total // 1000

    def connectionMade(self):
        """
        Start writing.
        """
        self.transport.registerProducer(self, True)
        self.resumeProducing()

    def resumeProducing(self):
        """
        Write chunks until the transport asks for a pause, or all are out.
        """
        self.paused = False
        while self.left and not self.paused:
            self.left -= 1
            self.transport.write(self.chunk)
        if not self.left:
            self.transport.unregisterProducer()
            self.transport.loseConnection()

    def connectionLost(self, reason):
        """
        All written: this process is done.
        """
        reactor.stop()

    def pauseProducing(self):
        """
        The transport's buffer is full.
        """
        self.paused = True

    def stopProducing(self):
        """
        Write no more.
        """
        self.left = 0


def run_ceiling_receiver(total):
    """
    Listen, count C{total} parsed frames, report their rate.
    """
    factory = Factory.forProtocol(lambda: FrameCounter(total))
    d = TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(factory)
    d.addCallback(lambda port: report(port=port.getHost().port))
    reactor.run()


def run_ceiling_sender(port, total):
    """
    Connect and write C{total} frames.
    """
    connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), FrameWriter(total))
    reactor.run()


# The parent.

def role(*argv):
    """
    Start this script in a role; its standard output is read line by line.
    """
    return subprocess.Popen([sys.executable, os.path.abspath(__file__), "--role", *argv],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)


def read(process):
    """
    The next JSON line a role reports.
    """
    line = process.stdout.readline()
    if not line:
        raise SystemExit(f"a role exited ({process.wait()}) without reporting")
    return json.loads(line)


def cpu_seconds(pid):
    """
    User + system CPU seconds of process C{pid}.
    """
    with open(f"/proc/{pid}/stat", "rb") as stat:
        fields = stat.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def free_port():
    """
    A free loopback TCP port.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ceiling(total):
    """
    Frames parsed per second between two processes.
    """
    receiver = role("ceiling-receiver", str(total))
    port = read(receiver)["port"]
    sender = role("ceiling-sender", str(port), str(total))
    figures = read(receiver)
    receiver.wait()
    sender.wait()
    return figures["frames"] / figures["seconds"]


def through_master(total, slaves, window):
    """
    Updates per second through a real master, and its CPU per update.
    """
    port = free_port()
    master = subprocess.Popen(
        [sys.executable, "-m", "twisted", "--log-format=text", "mesos-master",
         "--ip=127.0.0.1", f"--port={port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("the master did not come up")
                time.sleep(0.1)
        address = f"master@127.0.0.1:{port}"
        scheduler = role("scheduler", address)
        framework_id = read(scheduler)["framework_id"]
        before = cpu_seconds(master.pid)
        scheduler_before = cpu_seconds(scheduler.pid)
        emulated = role("slaves", address, framework_id, str(slaves), str(total), str(window))
        figures = read(emulated)
        master_cpu = cpu_seconds(master.pid) - before
        scheduler_cpu = cpu_seconds(scheduler.pid) - scheduler_before
        emulated.wait()
        scheduler.terminate()
        scheduler.wait()
    finally:
        master.terminate()
        master.wait()
    updates = figures["updates"]
    return {
        "rate": updates / figures["seconds"],
        "master_us": 1e6 * master_cpu / updates,
        "slaves_us": 1e6 * figures["cpu"] / updates,
        "scheduler_us": 1e6 * scheduler_cpu / updates,
    }


def main():
    """
    Run a role, or the whole benchmark.
    """
    parser = argparse.ArgumentParser(description="Status updates per second through a master.")
    parser.add_argument("--updates", type=int, action="append")
    parser.add_argument("--slaves", type=int, default=10)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--frames", type=int, default=200000)
    parser.add_argument("--role", nargs="+")
    options = parser.parse_args()
    if options.role:
        name, *args = options.role
        if name == "scheduler":
            scheduler = EmulatedScheduler(UPID.parse(args[0]))
            reactor.callWhenRunning(scheduler.start)
            reactor.run()
        elif name == "slaves":
            run_slaves(UPID.parse(args[0]), args[1], int(args[2]), int(args[3]), int(args[4]))
        elif name == "ceiling-receiver":
            run_ceiling_receiver(int(args[0]))
        elif name == "ceiling-sender":
            run_ceiling_sender(int(args[0]), int(args[1]))
        return
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    raw = ceiling(options.frames)
    print(f"ceiling: {raw:,.0f} frames parsed per second between two processes "
          f"(load {os.getloadavg()[0]:.2f})", flush=True)
    print("| updates | slaves | window | updates/s through the master | ratio to the ceiling "
          "| CPU per update: master | emulated slaves | emulated scheduler "
          "| master's CPU bound | load |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for total in options.updates or [20000, 100000]:
        figures = through_master(total, options.slaves, options.window)
        rate = figures["rate"]
        print(f"| {total:,} | {options.slaves} | {options.window} | {rate:,.0f} "
              f"| {rate / raw:.3f} | {figures['master_us']:.1f} us "
              f"| {figures['slaves_us']:.1f} us | {figures['scheduler_us']:.1f} us "
              f"| {1e6 / figures['master_us']:,.0f}/s | {os.getloadavg()[0]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
