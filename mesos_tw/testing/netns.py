"""
A small network of hosts on this machine, for functional tests across real
addresses: Linux network namespaces joined by a bridge, each with its own
address from 198.18.0.0/15 (the range reserved for network test labs,
RFC 2544) and no route out, so no traffic leaves the machine.  The test
itself stays in the root namespace, where the bridge has the lab's first
address, and reaches every host as a user would.

Needs root and iproute2's C{ip}; L{unavailable} says why a lab cannot be
made here.  L{NetworkLab.destroy} removes everything it made (namespaces,
bridge, veths), also after a failed or partly built lab.  Each change to the
root namespace holds L{mesos_tw.testing.network_changes}' lock, so that no
browser test loads a page meanwhile.
"""

import os
import random
import shutil
import signal
import subprocess

from twisted.internet.defer import Deferred, gatherResults

from mesos_tw.testing.network_changes import changing_network, hold_network_change
from mesos_tw.testing.processes import Daemon

__all__ = ["NetworkLab", "unavailable"]

#: The lab range (198.18.0.0/15) as the /24s a lab may take.
_SUBNETS = [(a, b) for a in (18, 19) for b in range(256)]


def _ip(*argv, check=True):
    """
    Run C{ip argv...}; its output.
    """
    result = subprocess.run(["ip", *argv], capture_output=True, text=True, timeout=30)
    if check and result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(argv)}: {result.stderr.strip()}")
    return result.stdout


def unavailable():
    """
    Why a lab cannot be made here (not root, no C{ip}, no namespaces), or
    L{None}.
    """
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2's ip is not installed"
    probe = f"mtprobe{os.getpid()}"
    try:
        _ip("netns", "add", probe)
    except (RuntimeError, OSError) as error:
        return f"cannot make network namespaces: {error}"
    _ip("netns", "del", probe, check=False)
    return None


class NetworkLab:
    """
    Hosts in namespaces on one bridge.

    @ivar hosts: C{{name: address}} of the hosts made so far.
    @ivar gateway: the root namespace's address on the bridge.
    """

    def __init__(self, reactor):
        self.reactor = reactor
        self.tag = f"{os.getpid() % 100000}"
        self.bridge = f"mtbr{self.tag}"
        self.hosts = {}
        self.daemons = []
        self._namespaces = []
        self._veths = []
        self._subnet = None
        self.gateway = None
        self._cut = None

    def _free_subnet(self):
        """
        A /24 of the lab range that no route on this machine uses (another
        test run may have a lab up at the same time).
        """
        used = _ip("-4", "route", "show")
        free = [s for s in _SUBNETS if f"198.{s[0]}.{s[1]}." not in used]
        return random.choice(free)

    def create(self, names):
        """
        Make the bridge and one namespace per name, addressed in order
        (.10, .11, ...).  On failure, what was made is removed again.
        """
        with changing_network():
            try:
                self._subnet = self._free_subnet()
                prefix = f"198.{self._subnet[0]}.{self._subnet[1]}"
                self.gateway = f"{prefix}.1"
                _ip("link", "add", self.bridge, "type", "bridge")
                _ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
                _ip("link", "set", self.bridge, "up")
                for number, name in enumerate(names, 10):
                    self._add_host(name, f"{prefix}.{number}")
            except Exception:
                self._remove_network()
                raise
        return self.hosts

    def _namespace(self, name):
        return f"mt{self.tag}-{name}"

    def _veth(self, name):
        return f"mt{self.tag}{name}"

    def _add_host(self, name, address):
        namespace, veth = self._namespace(name), self._veth(name)
        _ip("netns", "add", namespace)
        self._namespaces.append(namespace)
        _ip("link", "add", veth, "type", "veth", "peer", "name", f"{veth}p")
        self._veths.append(veth)
        _ip("link", "set", f"{veth}p", "netns", namespace)
        _ip("link", "set", veth, "master", self.bridge)
        _ip("link", "set", veth, "up")
        inside = ["netns", "exec", namespace, "ip"]
        _ip(*inside, "addr", "add", f"{address}/24", "dev", f"{veth}p")
        _ip(*inside, "link", "set", f"{veth}p", "up")
        _ip(*inside, "link", "set", "lo", "up")
        self.hosts[name] = address

    def spawn(self, host, name, argv, env=None):
        """
        Run C{argv} on C{host} (in its namespace) as the L{Daemon} C{name},
        killed if this process dies.
        """
        daemon = Daemon(name)
        command = ["ip", "netns", "exec", self._namespace(host)]
        setpriv = shutil.which("setpriv")
        if setpriv is not None:
            command += [setpriv, "--pdeathsig", "KILL", "--"]
        command += list(argv)
        environment = dict(os.environ if env is None else env, PYTHONUNBUFFERED="1")
        self.reactor.spawnProcess(daemon, shutil.which("ip"), command, env=environment)
        self.daemons.append(daemon)
        return daemon

    def link_down(self, host):
        """
        Cut C{host}'s link to the bridge (its address and connections stay)
        until L{link_up}; the change lock is held meanwhile.
        """
        if self._cut is None:
            self._cut = hold_network_change()
        _ip("link", "set", self._veth(host), "down")

    def link_up(self, host):
        """
        Restore C{host}'s link.
        """
        _ip("link", "set", self._veth(host), "up")
        self._end_cut()

    def _end_cut(self):
        if self._cut is not None:
            release, self._cut = self._cut, None
            release()

    def destroy(self):
        """
        Kill every process started here, then remove the namespaces, the
        veths and the bridge.

        @return: a Deferred that fires when it is all gone.
        """
        running = [d for d in self.daemons if d.running]
        for daemon in running:
            daemon.signal(signal.SIGKILL)
        d = gatherResults([daemon.ended for daemon in running]) if running else Deferred()
        if not running:
            d.callback(None)
        return d.addBoth(lambda _: self.destroy_network())

    def destroy_network(self):
        """
        Remove the namespaces, veths and bridge made so far (what is already
        gone is skipped).
        """
        self._end_cut()
        with changing_network():
            self._remove_network()

    def _remove_network(self):
        for namespace in self._namespaces:
            _ip("netns", "del", namespace, check=False)
        for veth in self._veths:
            _ip("link", "del", veth, check=False)
        _ip("link", "del", self.bridge, check=False)
        self._namespaces, self._veths = [], []
