"""
``twistd mesos-slave``: the slave's flags and service.
"""

import os
import signal

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.python import usage

from mesos_tw import constants
from mesos_tw.authentication.flags import (
    HTTP_AUTHENTICATION_COERCIONS, HTTP_AUTHENTICATION_PARAMETERS, SLAVE_HTTP_PARAMETERS,
    check_credential, check_slave_http_authentication)
from mesos_tw.authorization.flags import AUTHORIZATION_PARAMETERS, check_authorization
from mesos_tw.collector import tune_collector
from mesos_tw.detector import DetectorError, detector_for, resolve_master
from mesos_tw.flags import (
    MesosOptions,
    parse_attributes,
    parse_bool,
    parse_duration,
    parse_port,
    parse_positive_int,
    parse_resources,
)
from mesos_tw.isolation.interface import IsolatorUnavailable
from mesos_tw.isolation.factories import isolator_factory
from mesos_tw.logdir import LogDirectory, check_log_dir
from mesos_tw.protocols.framing import DEFAULT_MAX_FRAME_BYTES
from mesos_tw.protocols.network import MessageNode
from mesos_tw.protocols.tls import TLS_PARAMETERS, check_tls
from mesos_tw.protocols.upid import UPID
from mesos_tw.protocols.endpoints import (
    DEFAULT_CONNECT,
    ENDPOINT_PARAMETERS,
    ClientEndpoints,
    advertised,
    check_endpoint_options,
    listen_description,
    listened,
    server_endpoint,
)
from mesos_tw.slave._recovery import RECOVER_MODES
from mesos_tw.slave.checkpoint import CheckpointError
from mesos_tw.slave.logrotate import parse_bytes
from mesos_tw.slave.http import SlaveHTTP
from mesos_tw.slave.resources import detect_resources
from mesos_tw.slave.slave import Slave
from mesos_tw.web.json import flags_json
from mesos_tw.web.authentication import guarded, slave_realm
from mesos_tw.web.site import BoundedSite

__all__ = ["Options", "SlaveService", "makeService", "SLAVE_PARAMETERS"]

#: The slave's flags, shared with mesos-local.
SLAVE_PARAMETERS = [
    ["master", None, None, "The master: host:port, zk://[user:pass@]host:port[,host:port...]"
     "/path to find the leader in ZooKeeper, or file:///path holding either."],
    ["zk_session_timeout", None, "10secs", "ZooKeeper session timeout (with a zk:// master)."],
    ["resources", None, None, "Resources to offer, e.g. cpus:4;mem:8192;ports:[31000-32000]."],
    ["attributes", None, None, "Attributes of this machine, e.g. rack:r1;zone:west."],
    ["work_dir", None, "/tmp/mesos", "Where executor sandboxes go."],
    ["isolation", None, "process", "Isolator plugin that runs executors (process, cgroups, lxc, "
     "or a third party's)."],
    ["cgroups_root", None, "mesos", "Name of the cgroup, under the slave's own in each hierarchy, "
     "that holds the executors' cgroups (cgroups isolation)."],
    ["cgroups_enable_cfs", None, "false", "Cap each executor's cpu time with a CFS quota as well "
     "as cpu shares (cgroups isolation)."],
    ["switch_user", None, "false", "Run executors as their framework's user (the slave must be "
     "root); otherwise as the slave's own user."],
    ["resource_monitoring_interval", None, "1secs", "How often the executors' resource usage "
     "is sampled."],
    ["lxc_network", None, "host", "An LXC container's network: host (shared with the slave, so "
     "executors reach it) or empty (loopback only; lxc isolation)."],
    ["executor_shutdown_grace_period", None, "5secs", "Time an executor has to shut down."],
    ["executor_registration_timeout", None, "1mins", "Time an executor has to register."],
    ["recover", None, "reconnect", "What to do with the executors a restarted slave finds "
     "checkpointed: reconnect (resume those still running) or cleanup (kill them, report "
     "their tasks, then register as a new slave)."],
    ["strict", None, "true", "Refuse to start when checkpointed state cannot be read "
     "(false: skip what cannot, logging why)."],
    ["recovery_timeout", None, "15mins", "How long executors of checkpointing frameworks "
     "wait for a restarting slave before they shut down."],
    ["gc_delay", None, "1weeks", "How long after an executor run ends its sandbox is "
     "removed (sooner as the disk fills)."],
    ["disk_watch_interval", None, "1mins", "How often the disk usage is checked to prune "
     "sandboxes."],
    ["gc_disk_headroom", None, "0.1", "The fraction of the disk to keep free: sandboxes older "
     "than gc_delay * max(0, 1 - gc_disk_headroom - disk usage) are removed."],
    ["sandbox_log_max_size", None, None, "Cap on an executor's stdout and stderr (e.g. 10MB): "
     "a log past it is copied to stdout.1 (the older copies shifting, 5 kept) and emptied."],
    ["executor_reregistration_timeout", None, "2secs", "Time an executor whose connection "
     "broke has to subscribe again before it is shut down."],
    ["credential", None, None, "Path (or file://) of this slave's credential for "
     "authenticating with the master: JSON {\"principal\": ..., \"secret\": ...} or one line "
     "'principal secret'."],
] + SLAVE_HTTP_PARAMETERS

SLAVE_COERCIONS = {
    "cgroups_enable_cfs": parse_bool,
    "switch_user": parse_bool,
    "resource_monitoring_interval": parse_duration,
    "resources": parse_resources,
    "attributes": parse_attributes,
    "executor_shutdown_grace_period": parse_duration,
    "executor_registration_timeout": parse_duration,
    "executor_reregistration_timeout": parse_duration,
    "zk_session_timeout": parse_duration,
    "strict": parse_bool,
    "recovery_timeout": parse_duration,
    "gc_delay": parse_duration,
    "disk_watch_interval": parse_duration,
    "gc_disk_headroom": float,
    **HTTP_AUTHENTICATION_COERCIONS,
    "sandbox_log_max_size": parse_bytes,
}


def check_isolation(options):
    """
    Resolve C{--isolation} to its plugin, or fail naming the known ones;
    then fail, saying what is missing, if that isolator cannot work here.
    Also checks C{--resource_monitoring_interval} and the recovery and
    garbage collection flags.
    """
    for name in ("resource_monitoring_interval", "disk_watch_interval"):
        if options[name] <= 0:
            raise usage.UsageError(f"invalid value for --{name}: must be positive")
    if options["recover"] not in RECOVER_MODES:
        raise usage.UsageError(f"invalid value for --recover: {options['recover']!r} (expected "
                               f"{' or '.join(RECOVER_MODES)})")
    if not 0.0 <= options["gc_disk_headroom"] <= 1.0:
        raise usage.UsageError("invalid value for --gc_disk_headroom: must be between 0 and 1")
    try:
        factory = options["isolator_factory"] = isolator_factory(options["isolation"])
    except ValueError as error:
        raise usage.UsageError(f"invalid value for --isolation: {error}") from None
    try:
        factory.check(options)
    except IsolatorUnavailable as error:
        raise usage.UsageError(
            f"--isolation={options['isolation']} cannot work here: {error}") from None


class Options(MesosOptions):
    """
    The slave's flags (Mesos's names; C{MESOS_<FLAG>} works too).
    """

    synopsis = "--master=HOST:PORT [options]"
    longdesc = "Run a Mesos slave: frames and HTTP on one port."
    optParameters = [
        ["ip", None, "127.0.0.1", "IP address to listen on and advertise."],
        ["port", None, str(constants.SLAVE_PORT), "Port to listen on."],
        ["hostname", None, None, "Hostname to advertise (default: the advertised IP)."],
        ["max_frame_bytes", None, str(DEFAULT_MAX_FRAME_BYTES), "Largest frame accepted."],
        ["log_dir", None, None, "Directory to write the log to (mesos-slave.log), also served "
         "as /slave/log through /files/read (default: no log file)."],
    ] + ENDPOINT_PARAMETERS + TLS_PARAMETERS + SLAVE_PARAMETERS + \
        HTTP_AUTHENTICATION_PARAMETERS + \
        AUTHORIZATION_PARAMETERS
    coercions = dict(SLAVE_COERCIONS, port=parse_port, max_frame_bytes=parse_positive_int,
                     advertise_port=parse_port)

    def postOptions(self):
        """
        Check the values, the master and the isolator; C{master_location}
        is what C{--master} names (a L{UPID} or a L{ZooKeeperURL}).
        """
        super().postOptions()
        if not self["master"]:
            raise usage.UsageError("--master is required (e.g. --master=127.0.0.1:5050)")
        try:
            self["master_location"] = resolve_master(self["master"])
        except DetectorError as error:
            raise usage.UsageError(f"invalid value for --master: {error}") from None
        if self["zk_session_timeout"] <= 0:
            raise usage.UsageError("invalid value for --zk_session_timeout: must be positive")
        try:
            check_endpoint_options(self)
            check_tls(self)
        except ValueError as error:
            raise usage.UsageError(str(error)) from None
        check_credential(self)
        self["credentials_message"] = None
        check_slave_http_authentication(self)
        check_authorization(self)
        check_isolation(self)
        check_log_dir(self)


def make_slave(reactor, options, node, detector, work_dir):
    """
    A L{Slave} configured from parsed C{options}.
    """
    return Slave(
        reactor, node, detector,
        options["isolator_factory"].make_isolator(reactor, dict(options, work_dir=work_dir)),
        work_dir,
        detect_resources(work_dir, options["resources"]),
        attributes=options["attributes"],
        hostname=options.get("hostname"),
        executor_shutdown_grace_period=options["executor_shutdown_grace_period"],
        executor_registration_timeout=options["executor_registration_timeout"],
        executor_reregistration_timeout=options["executor_reregistration_timeout"],
        resource_monitoring_interval=options["resource_monitoring_interval"],
        switch_user=options["switch_user"],
        recover=options["recover"],
        strict=options["strict"],
        recovery_timeout=options["recovery_timeout"],
        gc_delay=options["gc_delay"],
        disk_watch_interval=options["disk_watch_interval"],
        gc_disk_headroom=options["gc_disk_headroom"],
        credential=options.get("credential_message"),
        environ=dict(os.environ, **options["tls"].environment()),
        executor_secrets=options.get("executor_secrets"),
        sandbox_log_max_size=options["sandbox_log_max_size"],
    )


class SlaveService(Service):
    """
    A slave listening on its port.  Nothing happens until C{startService}.

    @param detector: finds the master; by default one for C{--master}.
    @param port: listen on this TCP port at C{--ip} (mesos-local's slaves
        pass 0), not on C{--listen} or C{--port}, and advertise the port
        bound.
    @param log_dir: where to write the log (C{--log_dir}), served as
        C{/slave/log}; L{None} for no log file (mesos-local's slaves share
        its master's).
    @param standalone: the service is the process (C{twistd mesos-slave}),
        as Mesos's agent is: stopping it (C{SIGTERM}) leaves the
        checkpointing frameworks' executors running for the next start to
        recover (L{Slave.terminate}), and C{SIGUSR1} shuts the slave down
        (L{Slave.stop}: it unregisters and kills every executor), then
        stops the process.  Otherwise (mesos-local's slaves, tests)
        stopping the service shuts the slave down.
    @ivar listening: fires with the listening port once bound.
    """

    def __init__(self, options, reactor, detector=None, work_dir=None, port=None,
                 log_dir=None, standalone=False):
        self.options = options
        self.reactor = reactor
        self.detector = detector or detector_for(
            options["master_location"], reactor, session_timeout=options["zk_session_timeout"])
        self.work_dir = work_dir or options["work_dir"]
        self.port = port
        self.slave = None
        self.node = None
        self.log = LogDirectory(log_dir, "mesos-slave.log") if log_dir else None
        self.listening = Deferred()
        self.standalone = standalone
        self._previous_sigusr1 = None

    def startService(self):
        """
        Bind the port, then start the slave.
        """
        super().startService()
        options = self.options
        if self.log is not None:
            self.log.start()
        host, advertised_port = advertised(options)
        if self.port is None:
            description = listen_description(options["ip"], options["port"], options.get("listen"))
        else:
            description, advertised_port = listen_description(options["ip"], self.port), 0
        connect = options.get("connect") or DEFAULT_CONNECT
        self.node = MessageNode(
            self.reactor, UPID("slave(1)", host, advertised_port), None,
            options["max_frame_bytes"], client_endpoints=ClientEndpoints(self.reactor, connect),
            tls=options["tls"],
        )
        self.slave = make_slave(self.reactor, options, self.node, self.detector, self.work_dir)
        try:
            self.slave.recover_state()
        except CheckpointError as error:
            raise SystemExit(f"mesos-slave: cannot recover the checkpointed state (--strict): "
                             f"{error.path}: {error.why}") from None
        endpoint = server_endpoint(self.reactor, description)
        flags = flags_json(self.options, [p[0] for p in Options.optParameters])
        app = SlaveHTTP(self.slave, flags, authorizer=options["authorizer"],
                        log_file=self.log.path if self.log is not None else None)
        resource = guarded(app.resource(),
                           options["http_credentials_message"],
                           options["slave_http_authentication_required"], "mesos-agent",
                           slave_realm)
        d = listened(self.node.listen(endpoint, BoundedSite(resource, self.reactor)),
                     "mesos-slave", description)
        if self.standalone:
            self._previous_sigusr1 = (signal.signal(signal.SIGUSR1, self._sigusr1),)

        def started(port):
            self.slave.start()
            return port

        d.addCallback(started)
        d.chainDeferred(self.listening)

    def _sigusr1(self, number, frame):
        # A signal handler runs between two bytecodes of whatever the
        # reactor was doing: do the work in the reactor's own turn.
        self.reactor.callFromThread(self.shut_down, "Received SIGUSR1 signal")

    def shut_down(self, why):
        """
        Mesos's explicit shutdown (C{SIGUSR1}): unregister, kill every
        executor, forget the slave id, then stop the process.
        """
        self.slave.log.warn("{why}; unregistering and shutting down", why=why)
        d = self.slave.stop()
        d.addBoth(lambda _: self.reactor.stop())
        return d

    def stopService(self):
        """
        Stop the slave (L{Slave.terminate} when C{standalone}, else
        L{Slave.stop}), close the port.
        """
        super().stopService()
        if self._previous_sigusr1 is not None:
            signal.signal(signal.SIGUSR1, self._previous_sigusr1[0] or signal.SIG_DFL)
            self._previous_sigusr1 = None
        d = None
        if self.slave is not None:
            d = self.slave.terminate() if self.standalone else self.slave.stop()
        if d is not None:
            d.addBoth(lambda _: self.node.stop())
        if self.log is not None:
            if d is None:
                self.log.stop()
            else:
                d.addBoth(lambda result: (self.log.stop(), result)[1])
        return d


def makeService(options, reactor=None):
    """
    The slave service for parsed C{options}; no I/O happens here.
    """
    if reactor is None:
        # The command-line entry: the process is the daemon's own.
        from twisted.internet import reactor

        reactor.callWhenRunning(tune_collector)
    return SlaveService(options, reactor, log_dir=options["log_dir"], standalone=True)
