"""
The registry batched as Mesos's registrar batches it, over a store of a
fixed number of shards (L{mesos_tw.master.registry_zookeeper} keeps them
in ZooKeeper).

Mesos's registrar (C{src/master/registrar.cpp}) has one write in flight at
a time: the operations that arrive meanwhile queue, and when the write
completes all of them are applied to the in-memory registry and written
in one store operation, whose outcome completes every one of them.  A
recovering master reads the whole registry once.  L{ShardedRegistrar} does
the same, with the registry split by slave id into L{SHARDS} shards
(L{shard_of}): a batch rewrites only the shards its operations touch, and
each operation completes with the write of its slave's shard.  Every
operation touches one slave, and a slave's whole record (admitted,
unreachable, removed) lives in one shard, so each operation is applied
atomically even though a batch's shards are written one znode each.

Each shard is written only at the version it was read or last written at:
a write never overwrites a shard another master changed meanwhile.  Such a
write, or any other that fails, fails the operations on that shard (the
callers retry, or report the failure); the shard is read again before it
is next written, so what the other master wrote is kept.
"""

import zlib

from twisted.internet.defer import Deferred, DeferredList, fail, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols import registry_pb2

__all__ = ["MAX_SHARD_BYTES", "SHARDS", "RegistryShardError", "Shard", "ShardedRegistrar",
           "shard_of"]

#: How many shards the registry is split into.  Part of the stored layout:
#: a slave's shard is C{shard_of(slave_id)}, so changing it moves slaves.
SHARDS = 64

#: The largest shard written: ZooKeeper refuses a znode over its
#: C{jute.maxbuffer} (1 MB by default), and drops the session that tries.
MAX_SHARD_BYTES = 1_000_000


def shard_of(slave_id):
    """
    The shard of slave C{slave_id}: a hash stable across processes and
    Python versions (CRC-32 of its UTF-8 bytes).
    """
    return zlib.crc32(slave_id.encode("utf-8")) % SHARDS


class RegistryShardError(Exception):
    """
    A shard cannot be read or written (it does not parse, it would be too
    large, another master wrote it meanwhile).
    """


class Shard:
    """
    The slaves of one shard, in memory.

    @ivar admitted: C{{slave_id: SlaveInfo}}.
    @ivar unreachable: C{{slave_id: seconds}}.
    @ivar removed: the set of removed slave ids.
    """

    __slots__ = ("admitted", "unreachable", "removed")

    def __init__(self, admitted=None, unreachable=None, removed=None):
        self.admitted = admitted if admitted is not None else {}
        self.unreachable = unreachable if unreachable is not None else {}
        self.removed = removed if removed is not None else set()

    def copy(self):
        """
        A shallow copy (the C{SlaveInfo}s are shared: they are replaced,
        never changed).
        """
        return Shard(dict(self.admitted), dict(self.unreachable), set(self.removed))

    def knows(self, slave_id):
        """
        Whether the shard records anything of C{slave_id}.
        """
        return (slave_id in self.admitted or slave_id in self.unreachable
                or slave_id in self.removed)

    def encode(self):
        """
        The shard as stored: a zlib-compressed C{RegistryShard}.
        """
        message = registry_pb2.RegistryShard(admitted=list(self.admitted.values()),
                                             removed=sorted(self.removed))
        for slave_id, seconds in self.unreachable.items():
            message.unreachable.add(id=mesos_pb2.SlaveID(value=slave_id), seconds=seconds)
        return zlib.compress(message.SerializeToString(), 1)

    @classmethod
    def decode(cls, data):
        """
        The shard stored as C{data}; L{RegistryShardError} if it does not
        parse.
        """
        message = registry_pb2.RegistryShard()
        try:
            message.ParseFromString(zlib.decompress(data))
        except Exception as error:  # noqa: BLE001 - zlib.error, protobuf's DecodeError
            raise RegistryShardError(f"a registry shard does not parse: {error}") from error
        return cls({info.id.value: info for info in message.admitted},
                   {entry.id.value: entry.seconds for entry in message.unreachable},
                   set(message.removed))


# The operations, applied to the slave's shard (a copy, until written).

def _add(shard, slave_id):
    shard.removed.add(slave_id)
    shard.admitted.pop(slave_id, None)
    shard.unreachable.pop(slave_id, None)


def _admit(shard, slave_id, info):
    shard.admitted[slave_id] = info


def _mark_unreachable(shard, slave_id, seconds):
    shard.unreachable[slave_id] = seconds
    shard.admitted.pop(slave_id, None)


def _mark_reachable(shard, slave_id):
    shard.unreachable.pop(slave_id, None)


_READ = object()


class ShardedRegistrar:
    """
    The registry of admitted, unreachable and removed slaves (the methods of
    L{mesos_tw.master.registry.IRemovedSlaves}), batched over C{store}:

      - C{store.read()}: a Deferred firing with C{(shards, legacy)}:
        C{shards} is C{{index: (data, version)}} of every stored shard;
        C{legacy} a L{Shard} of what an older layout holds (or L{None});
      - C{store.read_shard(index)}: a Deferred firing with C{(data,
        version)}, or L{None} if the shard is not stored;
      - C{store.write(index, data, version)}: a Deferred firing once the
        shard is durable; C{version} is the one it was read at (L{None}:
        it must not exist yet);
      - C{store.forget_legacy()}: a Deferred firing once the older layout
        is deleted.

    @ivar shards: C{{index: Shard}}: the registry as last read or written.
    @ivar versions: C{{index: version}} of the stored shards.
    @ivar batches: how many batches were written (or tried).
    """

    log = Logger()

    def __init__(self, store):
        self.store = store
        self.shards = {}
        self.versions = {}
        self.batches = 0
        self._stale = set()
        self._queue = []
        self._busy = False
        self._reading = None

    # Reads: each reads the whole registry once; reads asked together
    # (with no write between) share that one read.

    def load(self):
        """
        Fires with the set of removed slave ids.
        """
        return self._read().addCallback(
            lambda shards: set().union(*(shard.removed for shard in shards)))

    def load_admitted(self):
        """
        Fires with C{{slave_id: SlaveInfo}} of the admitted slaves not
        removed (copies).
        """

        def admitted(shards):
            found = {}
            for shard in shards:
                for slave_id, info in shard.admitted.items():
                    if slave_id not in shard.removed:
                        found[slave_id] = copy = mesos_pb2.SlaveInfo()
                        copy.CopyFrom(info)
            return found

        return self._read().addCallback(admitted)

    def unreachable(self):
        """
        Fires with C{{slave_id: seconds}} of the unreachable slaves.
        """

        def unreachable(shards):
            found = {}
            for shard in shards:
                found.update(shard.unreachable)
            return found

        return self._read().addCallback(unreachable)

    # Writes: queued, and written in the next batch.

    def add(self, slave_id):
        """
        Record that slave C{slave_id} was removed (no longer admitted, nor
        unreachable).
        """
        return self._enqueue(slave_id, _add)

    def admit(self, info):
        """
        Record the slave C{info} as admitted (replacing its info).
        """
        stored = mesos_pb2.SlaveInfo()
        stored.CopyFrom(info)
        return self._enqueue(info.id.value, _admit, stored)

    def mark_unreachable(self, slave_id, when):
        """
        Record slave C{slave_id} as unreachable since C{when}, no longer
        admitted.
        """
        return self._enqueue(slave_id, _mark_unreachable, float(when))

    def mark_reachable(self, slave_id):
        """
        Forget that slave C{slave_id} was unreachable.
        """
        return self._enqueue(slave_id, _mark_reachable)

    def _read(self):
        d = Deferred()
        if self._reading is not None and not self._queue:
            # A read in flight, and nothing asked since: it serves this one
            # too (a recovering master asks its three reads together).
            self._reading.append(d)
            return d
        self._queue.append((_READ, d))
        self._pump()
        return d

    def _enqueue(self, slave_id, operation, *args):
        if not slave_id:
            return fail(ValueError("cannot record a slave with an empty id"))
        d = Deferred()
        self._queue.append((slave_id, lambda shard: operation(shard, slave_id, *args), d))
        self._pump()
        return d

    def _pump(self):
        """
        Unless a read or write is in flight, start the next: the reads at
        the head of the queue, together, or every write before the next
        read, as one batch.
        """
        if self._busy or not self._queue:
            return
        reading = self._queue[0][0] is _READ
        count = 0
        while count < len(self._queue) and (self._queue[count][0] is _READ) == reading:
            count += 1
        taken, self._queue = self._queue[:count], self._queue[count:]
        self._busy = True
        if reading:
            self._reading = [waiter for _, waiter in taken]
            d = self.store.read()
            d.addCallback(self._recover)
            d.addBoth(self._read_done)
        else:
            self._write_batch(taken)

    # Reading.

    def _recover(self, result):
        stored, legacy = result
        shards = {index: Shard.decode(data) for index, (data, _) in stored.items()}
        self.shards = shards
        self.versions = {index: version for index, (_, version) in stored.items()}
        self._stale.clear()
        if legacy is None:
            return None
        return self._migrate(legacy)

    def _migrate(self, legacy):
        """
        Take what an older layout held into the shards (for the slaves the
        shards know nothing of: the shards are newer), write every shard
        that changed, then delete the older layout.
        """
        changed = {}
        moved = 0
        for slave_id in legacy.admitted.keys() | legacy.unreachable.keys() | legacy.removed:
            index = shard_of(slave_id)
            current = self.shards.get(index)
            if current is not None and current.knows(slave_id):
                continue
            if index not in changed:
                changed[index] = current.copy() if current is not None else Shard()
            shard = changed[index]
            moved += 1
            if slave_id in legacy.admitted:
                shard.admitted[slave_id] = legacy.admitted[slave_id]
            if slave_id in legacy.unreachable:
                shard.unreachable[slave_id] = legacy.unreachable[slave_id]
            if slave_id in legacy.removed:
                shard.removed.add(slave_id)
        self.log.info("Moving {count} slaves from the registry's older layout (a znode per "
                      "slave) into {shards} shards", count=moved, shards=len(changed))
        writes = [self._write_shard(index, shard) for index, shard in changed.items()]
        d = _all_succeed(writes)
        d.addCallback(lambda _: self.store.forget_legacy())
        return d

    def _read_done(self, result):
        waiters, self._reading = self._reading, None
        self._busy = False
        shards = list(self.shards.values())
        for waiter in waiters:
            if isinstance(result, Failure):
                waiter.errback(result)
            else:
                waiter.callback(shards)
        self._pump()

    # Writing.

    def _write_batch(self, operations):
        """
        Apply C{operations} (C{(slave_id, apply, Deferred)}, in order) to
        copies of their shards, and write each shard changed; each
        operation's Deferred fires with its shard's write.
        """
        self.batches += 1
        by_shard = {}
        for slave_id, apply, waiter in operations:
            by_shard.setdefault(shard_of(slave_id), []).append((apply, waiter))
        writes = [self._write_operations(index, applied) for index, applied in by_shard.items()]
        # Each write fires its operations' Deferreds itself, failures too.
        DeferredList(writes).addCallback(self._batch_done)

    def _batch_done(self, ignored):
        self._busy = False
        self._pump()

    def _write_operations(self, index, operations):
        """
        Write shard C{index} with C{operations} applied (reading it again
        first if its stored version is unknown); fire their Deferreds with
        the outcome.  Fires (with L{None}) when done.
        """
        if index in self._stale:
            d = self.store.read_shard(index)
            d.addCallback(self._refreshed, index)
        else:
            d = succeed(None)

        def write(ignored):
            shard = self.shards.get(index)
            shard = shard.copy() if shard is not None else Shard()
            for apply, _ in operations:
                apply(shard)
            return self._write_shard(index, shard)

        def settle(result):
            for _, waiter in operations:
                if isinstance(result, Failure):
                    waiter.errback(result)
                else:
                    waiter.callback(None)

        d.addCallback(write)
        d.addBoth(settle)
        return d

    def _refreshed(self, stored, index):
        if stored is None:
            self.shards.pop(index, None)
            self.versions.pop(index, None)
        else:
            data, version = stored
            self.shards[index] = Shard.decode(data)
            self.versions[index] = version
        self._stale.discard(index)

    def _write_shard(self, index, shard):
        """
        Store C{shard} as shard C{index} at the version last known; once
        durable it is our copy.  If the write fails, the shard is read
        again before it is next written.
        """
        data = shard.encode()
        if len(data) > MAX_SHARD_BYTES:
            return fail(RegistryShardError(
                f"registry shard {index} would be {len(data)} bytes, over the "
                f"{MAX_SHARD_BYTES} a znode holds"))
        version = self.versions.get(index)

        def written(ignored):
            self.shards[index] = shard
            self.versions[index] = 0 if version is None else version + 1

        def failed(failure):
            self._stale.add(index)
            return failure

        return self.store.write(index, data, version).addCallbacks(written, failed)


def _all_succeed(deferreds):
    """
    A Deferred that fires once all of C{deferreds} have fired: with
    L{None} if all succeeded, else with the first failure.
    """

    def first_failure(results):
        failures = [result for ok, result in results if not ok]
        return failures[0] if failures else None

    return DeferredList(deferreds, consumeErrors=True).addCallback(first_failure)
