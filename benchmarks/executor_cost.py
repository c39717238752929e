"""
The executor side of a command task alone: CPU per task of a slave's
launcher and of the command executors it forks, against a fake slave.

    python benchmarks/executor_cost.py                 # 500 tasks, one at a time
    python benchmarks/executor_cost.py --tasks 1000 --in_flight 4

The real launcher (``python -m mesos_tw.executors.launcher``) forks a
command executor per task; this process plays the slave on a loopback
port: it answers each executor's registration with
``ExecutorRegisteredMessage`` and a ``RunTaskMessage`` of ``true``, and
acknowledges every status update, doing nothing else.  So the figures are
those of the launcher (its own CPU: the forks, the requests, the reaping)
and of the executors with their ``sh`` (the children it reaped), without
the master's and slave's share that ``launch_throughput.py`` adds.  The
floors printed first: a process the size of the launcher forking a child
that exits at once, and ``sh -c true`` started with ``posix_spawn`` and
reaped.  CPU is user + system time, which a busy machine changes far less
than the wall-clock rate (printed too, with the load average).
"""

import argparse
import json
import os
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.codec import decode_envelope, encode_frame, split_frames
from mesos_tw.protocols.upid import UPID

_TICKS = os.sysconf("SC_CLK_TCK")
FRAMEWORK = mesos_pb2.FrameworkInfo(user="", name="executor-cost")
FRAMEWORK_ID = mesos_pb2.FrameworkID(value="F1")
SLAVE_ID = mesos_pb2.SlaveID(value="S1")


def own_and_children_cpu(pid):
    """
    C{(own, reaped children's)} CPU seconds of process C{pid}.
    """
    with open(f"/proc/{pid}/stat", "rb") as stat:
        fields = stat.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS, (int(fields[13]) + int(fields[14])) / _TICKS


#: Run in a process of its own that loads what the launcher loads (this
#: one has the protobuf runtime too): CPU milliseconds per child of a fork
#: that exits at once, and of ``sh -c true`` started with posix_spawn.
_FLOORS = """
import gc, os, sys
from mesos_tw.executors import command, launcher
from mesos_tw.executors.task_process import TaskCommand, become_subreaper

become_subreaper()
command.warm_up()
gc.freeze()
count = int(sys.argv[1])

def children(start, end):
    return 1000 * (end.children_user + end.children_system
                   - start.children_user - start.children_system) / count

before = os.times()
for _ in range(count):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
middle = os.times()
for _ in range(count):
    os.waitpid(TaskCommand("sh", ["sh", "-c", "true"], dict(os.environ)).pid, 0)
after = os.times()
print(children(before, middle), children(middle, after))
"""


def floors(count=300):
    """
    CPU milliseconds per child of a fork that exits at once (from a
    process with what the launcher loads), and of ``sh -c true`` started
    with C{posix_spawn}.
    """
    output = subprocess.run([sys.executable, "-c", _FLOORS, str(count)], check=True,
                            capture_output=True, text=True).stdout
    fork_ms, sh_ms = output.split()
    return float(fork_ms), float(sh_ms)


class FakeSlave:
    """
    Registers each executor, gives it a task of C{true} and acknowledges
    its updates; asks the launcher for the next executor as each exits.
    """

    def __init__(self, total, in_flight):
        self.total = total
        self.in_flight = in_flight
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.upid = UPID("slave(1)", "127.0.0.1", self.listener.getsockname()[1])
        self.launcher = subprocess.Popen(
            [sys.executable, "-m", "mesos_tw.executors.launcher"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.root = tempfile.mkdtemp(prefix="executor-cost-")
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, self.accept)
        self.selector.register(self.launcher.stdout, selectors.EVENT_READ, self.answers)
        self.buffers = {}
        self.launcher_buffer = b""
        self.started = self.exited = 0

    def launch(self):
        """
        Ask the launcher for one more command executor.
        """
        number = self.started
        self.started += 1
        directory = os.path.join(self.root, str(number))
        os.mkdir(directory)
        environment = {"MESOS_SLAVE_PID": str(self.upid), "MESOS_FRAMEWORK_ID": "F1",
                       "MESOS_EXECUTOR_ID": f"e{number}", "MESOS_DIRECTORY": directory,
                       "PATH": os.environ["PATH"]}
        request = {"launch": number, "run_id": f"r{number}", "directory": directory,
                   "environment": environment, "uid": None, "gid": None, "gated": False}
        self.launcher.stdin.write(json.dumps(request).encode() + b"\n")
        self.launcher.stdin.flush()

    def accept(self, _):
        connection, _ = self.listener.accept()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffers[connection] = b""
        self.selector.register(connection, selectors.EVENT_READ, self.executor_data)

    def answers(self, stream):
        self.launcher_buffer += os.read(stream.fileno(), 65536)
        *lines, self.launcher_buffer = self.launcher_buffer.split(b"\n")
        for line in lines:
            if "exited" in json.loads(line):
                self.exited += 1
                if self.started < self.total:
                    self.launch()

    def executor_data(self, connection):
        data = connection.recv(65536)
        if not data:
            self.selector.unregister(connection)
            connection.close()
            return
        envelopes, self.buffers[connection] = split_frames(self.buffers[connection] + data)
        out = b""
        for envelope in envelopes:
            _, message = decode_envelope(envelope)
            if isinstance(message, internal.RegisterExecutorMessage):
                out += encode_frame(self.upid, internal.ExecutorRegisteredMessage(
                    executor_info=mesos_pb2.ExecutorInfo(
                        executor_id=message.executor_id, command=mesos_pb2.CommandInfo(value="")),
                    framework_id=FRAMEWORK_ID, framework_info=FRAMEWORK, slave_id=SLAVE_ID,
                    slave_info=mesos_pb2.SlaveInfo(hostname="localhost")))
                task = mesos_pb2.TaskInfo(name="true", slave_id=SLAVE_ID,
                                          task_id=mesos_pb2.TaskID(value=message.executor_id.value))
                task.command.value = "true"
                out += encode_frame(self.upid, internal.RunTaskMessage(
                    framework_id=FRAMEWORK_ID, framework=FRAMEWORK, pid="scheduler@127.0.0.1:1",
                    task=task))
            elif isinstance(message, internal.StatusUpdateMessage):
                out += encode_frame(self.upid, internal.StatusUpdateAcknowledgementMessage(
                    slave_id=SLAVE_ID, framework_id=FRAMEWORK_ID,
                    task_id=message.update.status.task_id, uuid=message.update.uuid))
        if out:
            connection.sendall(out)

    def run(self):
        """
        Run every task; return the figures.
        """
        start, cpu_start = time.monotonic(), time.process_time()
        for _ in range(min(self.in_flight, self.total)):
            self.launch()
        while self.exited < self.total:
            for key, _ in self.selector.select():
                key.data(key.fileobj)
        seconds = time.monotonic() - start
        launcher, executors = own_and_children_cpu(self.launcher.pid)
        slave = time.process_time() - cpu_start
        self.launcher.stdin.close()
        self.launcher.wait()
        shutil.rmtree(self.root, ignore_errors=True)
        return {"rate": self.total / seconds, "launcher_ms": 1000 * launcher / self.total,
                "executors_ms": 1000 * executors / self.total,
                "slave_ms": 1000 * slave / self.total}


def main():
    """
    Print the floors, then one row of figures.
    """
    parser = argparse.ArgumentParser(description="CPU per forked command executor.")
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--in_flight", type=int, default=1)
    options = parser.parse_args()
    fork_ms, sh_ms = floors()
    print(f"floors: fork and exit {fork_ms:.2f} ms, sh -c true {sh_ms:.2f} ms of CPU "
          f"(load {os.getloadavg()[0]:.2f})")
    figures = FakeSlave(options.tasks, options.in_flight).run()
    print("| tasks | in flight | tasks/s | CPU/task: launcher | executors and commands "
          "| fake slave | load |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {options.tasks} | {options.in_flight} | {figures['rate']:.0f} "
          f"| {figures['launcher_ms']:.2f} ms | {figures['executors_ms']:.2f} ms "
          f"| {figures['slave_ms']:.2f} ms | {os.getloadavg()[0]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
