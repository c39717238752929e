"""
How fast the v1 scheduler API streams events, in JSON and in protobuf, as
the burst grows: mesos-local runs in this process on a real port; a client
subscribes over real HTTP (``Accept`` choosing the encoding) and asks, in
one RECONCILE call, about N tasks the master does not know; the master
answers each with a TASK_LOST UPDATE event.  The figure is the time from
the call to the last of the N events read by the client, so it covers the
master's work, the encoding, RecordIO framing, HTTP chunking and the
client's parsing (the client is in the same process: both share the 2
cores' one Python thread, which is the worst case for the master).

    python benchmarks/v1_stream.py                  # 1,000 ... 20,000 events
    python benchmarks/v1_stream.py --events 5000 --repeat 5
"""

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time

import treq
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.task import react

from mesos_tw import local
from mesos_tw.protocols.scheduler_pb2 import Event

MEDIA = ("application/json", "application/x-protobuf")


class StreamCounter:
    """
    Reads a RecordIO stream, counting UPDATE events; fires L{done} when
    C{wanted} have arrived.
    """

    def __init__(self, media):
        self.media = media
        self.buffer = b""
        self.updates = 0
        self.bytes = 0
        self.wanted = None
        self.done = None
        self.subscribed = Deferred()

    def expect(self, count):
        """
        A Deferred firing once C{count} more UPDATE events have been read.
        """
        self.wanted = self.updates + count
        self.done = Deferred()
        return self.done

    def feed(self, data):
        """
        Take bytes from the stream.
        """
        self.buffer += data
        while True:
            newline = self.buffer.find(b"\n")
            if newline < 0:
                return
            length = int(self.buffer[:newline])
            end = newline + 1 + length
            if len(self.buffer) < end:
                return
            self._event(self.buffer[newline + 1:end])
            self.bytes += length
            self.buffer = self.buffer[end:]

    def _event(self, data):
        if self.media == "application/json":
            kind = json.loads(data)["type"]
        else:
            kind = Event.Type.Name(Event.FromString(data).type)
        if kind == "SUBSCRIBED" and not self.subscribed.called:
            self.subscribed.callback(data)
        elif kind == "UPDATE":
            self.updates += 1
            if self.done is not None and self.updates >= self.wanted:
                done, self.done = self.done, None
                done.callback(None)


@inlineCallbacks
def measure(reactor, url, media, counts, repeat):
    """
    Subscribe in C{media}; for each count, time C{repeat} bursts.

    @return: C{{count: (seconds per burst, ...)}}, and bytes per event.
    """
    response = yield treq.post(url, json.dumps({"type": "SUBSCRIBE", "subscribe": {
        "framework_info": {"user": "bench", "name": "v1 stream benchmark"}}}).encode(),
        headers={b"Content-Type": [b"application/json"], b"Accept": [media.encode()]},
        persistent=False)
    stream_id = response.headers.getRawHeaders(b"mesos-stream-id")[0]
    counter = StreamCounter(media)
    streaming = treq.collect(response, counter.feed)
    streaming.addErrback(lambda failure: None)
    subscribed = yield counter.subscribed
    if media == "application/json":
        framework_id = json.loads(subscribed)["subscribed"]["framework_id"]["value"]
    else:
        framework_id = Event.FromString(subscribed).subscribed.framework_id.value
    results = {}
    first = 0
    for count in counts:
        times = []
        for _ in range(repeat):
            call = json.dumps({"type": "RECONCILE", "framework_id": {"value": framework_id},
                               "reconcile": {"tasks": [
                                   {"task_id": {"value": f"unknown-{first + n}"}}
                                   for n in range(count)]}}).encode()
            first += count
            bytes_before = counter.bytes
            arrived = counter.expect(count)
            start = time.perf_counter()
            answer = yield treq.post(url, call, persistent=False, headers={
                b"Content-Type": [b"application/json"], b"Mesos-Stream-Id": [stream_id]})
            yield answer.content()
            yield arrived
            times.append(time.perf_counter() - start)
            per_event = (counter.bytes - bytes_before) / count
        results[count] = times
    return results, per_event


@inlineCallbacks
def main(reactor, argv):
    """
    Run the bursts in each encoding and print the table.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--events", type=int, action="append",
                        help="events per burst (repeatable; default 1000 5000 20000)")
    parser.add_argument("--repeat", type=int, default=3, help="bursts per size")
    options = parser.parse_args(argv)
    counts = options.events or [1000, 5000, 20000]
    work_dir = tempfile.mkdtemp(prefix="v1-stream-")
    flags = local.Options(environ={})
    flags.parseOptions(["--port=0", "--num_slaves=1", f"--work_dir={work_dir}",
                        "--resources=cpus:1;mem:128"])
    cluster = local.makeService(flags, reactor)
    cluster.startService()
    port = (yield cluster.master_service.listening).getHost().port
    url = f"http://127.0.0.1:{port}/api/v1/scheduler".encode()
    print(f"{'encoding':<24} {'events':>7} {'median s':>9} {'events/s':>9} {'bytes/event':>12}")
    for media in MEDIA:
        results, per_event = yield measure(reactor, url, media, counts, options.repeat)
        for count in counts:
            median = statistics.median(results[count])
            print(f"{media:<24} {count:>7,} {median:>9.3f} {count / median:>9,.0f} "
                  f"{per_event:>12.0f}", flush=True)
    yield cluster.stopService()
    shutil.rmtree(work_dir)


if __name__ == "__main__":
    react(main, [sys.argv[1:]])
