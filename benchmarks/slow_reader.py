"""
Memory of a server whose client asks for a large response and never reads
it.  Two servers, each its own process:

- ``download``: a real ``mesos-slave`` process serving
  ``/files/download`` of a 300 MB sandbox file;
- ``state``: a process serving, through the master's ``stream_json``, a
  JSON document of 200,000 records (about 30 MB) on loopback.

The client connects, sends the request, and then reads nothing; the
server's RSS is sampled every half second.  Before the download became a
producer, the slave grew from 51 MB to 350 MB in 6 s (issue 18).

    python benchmarks/slow_reader.py              # both, 6 s each
    python benchmarks/slow_reader.py --seconds 20 --which download
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time

FILE_BYTES = 300 * 1024 * 1024
RECORDS = 200_000


def rss_mb(pid):
    """
    The resident set size of process C{pid}, in MB.
    """
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def free_port():
    """
    A TCP port free on loopback now.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port, process, limit=30):
    """
    Block until something listens on C{port} (or the process died).
    """
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def never_read(port, path, process, seconds):
    """
    GET C{path} and read nothing; the server's RSS every half second.
    """
    client = socket.create_connection(("127.0.0.1", port))
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    samples = [(0.0, rss_mb(process.pid))]
    client.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        time.sleep(0.5)
        samples.append((time.monotonic() - start, rss_mb(process.pid)))
    client.close()
    return samples


def download(seconds):
    """
    A slave serving a 300 MB file to a client that never reads.
    """
    work_dir = tempfile.mkdtemp(prefix="slow-reader-")
    sandbox = os.path.join(work_dir, "slaves", "S1", "runs", "r1")
    os.makedirs(sandbox)
    path = os.path.join(sandbox, "big")
    with open(path, "wb") as file:
        chunk = os.urandom(1024 * 1024)
        for _ in range(FILE_BYTES // len(chunk)):
            file.write(chunk)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "twisted", "--log-file=/dev/null", "mesos-slave",
         f"--master=127.0.0.1:{free_port()}", f"--port={port}", f"--work_dir={work_dir}",
         "--resources=cpus:1;mem:128;disk:1024"])
    try:
        wait_for_port(port, process)
        return never_read(port, f"/files/download?path={path}", process, seconds)
    finally:
        process.terminate()
        process.wait()
        os.unlink(path)


def serve_state(port):
    """
    (In the child.)  Serve a large streamed JSON document on C{port}.
    """
    from klein import Klein
    from twisted.internet import reactor

    from mesos_tw.web.json import LazyList, stream_json
    from mesos_tw.web.site import BoundedSite

    app = Klein()
    records = list(range(RECORDS))

    @app.route("/state")
    def state(request):
        return stream_json(request, {"tasks": LazyList(records, lambda n: {
            "id": f"task-{n:08d}", "state": "TASK_RUNNING", "framework_id": "F" * 40,
            "slave_id": "S" * 40, "resources": {"cpus": 0.1, "mem": 32.0}})}, reactor)

    reactor.listenTCP(port, BoundedSite(app.resource(), reactor), interface="127.0.0.1")
    reactor.run()


def state(seconds):
    """
    A streamed JSON document to a client that never reads.
    """
    port = free_port()
    process = subprocess.Popen([sys.executable, __file__, "--serve-state", str(port)])
    try:
        wait_for_port(port, process)
        return never_read(port, "/state", process, seconds)
    finally:
        process.terminate()
        process.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--which", choices=["download", "state", "both"], default="both")
    parser.add_argument("--serve-state", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_state:
        serve_state(args.serve_state)
        return
    print(f"load average: {os.getloadavg()[0]:.2f}")
    print("| server | RSS at start | RSS after request | RSS at end | growth |")
    print("|---|---|---|---|---|")
    for name, run in (("download", download), ("state", state)):
        if args.which not in (name, "both"):
            continue
        samples = run(args.seconds)
        first, after, last = samples[0][1], samples[1][1], samples[-1][1]
        print(f"| {name} ({samples[-1][0]:.0f} s) | {first:.0f} MB | {after:.0f} MB | "
              f"{last:.0f} MB | {last - first:+.0f} MB |")


if __name__ == "__main__":
    main()
