"""
``twistd mesos-master``: the master's flags and service.
"""

import os

from twisted.application.service import Service
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.logger import Logger
from twisted.python import usage

from mesos_tw import constants
from mesos_tw.authentication.flags import (
    HTTP_AUTHENTICATION_COERCIONS, HTTP_AUTHENTICATION_PARAMETERS,
    MASTER_AUTHENTICATION_COERCIONS, MASTER_AUTHENTICATION_PARAMETERS, MASTER_HTTP_PARAMETERS,
    check_master_authentication, check_master_http_authentication)
from mesos_tw.authorization.flags import AUTHORIZATION_PARAMETERS, check_authorization
from mesos_tw.collector import RecoveryHold, tune_collector
from mesos_tw.detector import DetectorError, contender_for, resolve_master
from mesos_tw.flags import (
    MesosOptions,
    parse_count,
    parse_duration,
    parse_percentage,
    parse_port,
    parse_positive_int,
)
from mesos_tw.logdir import LogDirectory, check_log_dir
from mesos_tw.master.allocator import DEFAULT_ALLOCATOR, allocator_factory
from mesos_tw.master.election import MasterElection
from mesos_tw.master.http import MasterHTTP
from mesos_tw.master._registry_gc import RegistryGcPolicy
from mesos_tw.master.master import Master, new_master_info
from mesos_tw.master.operator_api import MasterOperatorAPI
from mesos_tw.web.operator import AttachedFiles
from mesos_tw.master.registry import MemoryRemovedSlaves, ZooKeeperRemovedSlaves
from mesos_tw.master.scheduler_api import SchedulerAPI
from mesos_tw.web.json import flags_json
from mesos_tw.web.authentication import guarded, master_realm
from mesos_tw.web.site import BoundedSite
from mesos_tw.zookeeper import ZooKeeperURL
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
from mesos_tw.protocols.framing import DEFAULT_MAX_FRAME_BYTES
from mesos_tw.protocols.network import MessageNode
from mesos_tw.protocols.tls import TLS_PARAMETERS, check_tls
from mesos_tw.protocols.upid import UPID

__all__ = ["MasterService", "Options", "check_master_flags", "makeService"]


def parse_weights(text):
    """
    C{role=weight,...} as a dict of positive weights.
    """
    weights = {}
    for item in text.split(","):
        role, equals, weight = item.strip().partition("=")
        if not equals or not role:
            raise ValueError(f"expected role=weight, got {item.strip()!r}")
        try:
            weights[role] = float(weight)
        except ValueError:
            raise ValueError(f"weight of {role!r} is not a number: {weight!r}") from None
        if weights[role] <= 0:
            raise ValueError(f"weight of {role!r} must be positive")
    return weights


def parse_roles(text):
    """
    C{a,b,c} as a set of role names.
    """
    roles = {role.strip() for role in text.split(",") if role.strip()}
    if not roles:
        raise ValueError("no role named")
    return roles


def whitelist_path(value):
    """
    The file C{--whitelist} names, or L{None} for C{*}.

    @raise usage.UsageError: if it is neither, or the file cannot be read.
    """
    if value.strip() == "*":
        return None
    path = value[len("file://"):] if value.startswith("file://") else value
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        raise usage.UsageError(
            f"invalid value for --whitelist: {value!r} is not * or a readable file")
    return path


def check_allocation(options):
    """
    Check the allocation flags (shared with mesos-local): the allocator
    plugin (C{allocator_factory}), the offer timeout, and the whitelist
    file (C{whitelist_path}).
    """
    try:
        options["allocator_factory"] = allocator_factory(options["allocator"])
    except ValueError as error:
        raise usage.UsageError(f"invalid value for --allocator: {error}") from None
    if options["offer_timeout"] is not None and options["offer_timeout"] <= 0:
        raise usage.UsageError("invalid value for --offer_timeout: must be positive")
    options["whitelist_path"] = whitelist_path(options["whitelist"])


def check_registry(options):
    """
    Check the registry flags (shared with mesos-local): the deprecated
    C{--recovery_slave_removal_limit} stands for
    C{--recovery_agent_removal_limit} unless that is given too, and the
    pruning interval must be positive.
    """
    agent_limit_given = ("recovery_agent_removal_limit" in options._given
                         or "MESOS_RECOVERY_AGENT_REMOVAL_LIMIT" in options.environ)
    if options["recovery_slave_removal_limit"] is not None and not agent_limit_given:
        options["recovery_agent_removal_limit"] = options["recovery_slave_removal_limit"]
    if options["registry_gc_interval"] <= 0:
        raise usage.UsageError("invalid value for --registry_gc_interval: must be positive")


class Options(MesosOptions):
    """
    The master's flags (Mesos's names; C{MESOS_<FLAG>} works too).
    """

    synopsis = "[options]"
    longdesc = "Run a Mesos master: frames and HTTP on one port."
    optParameters = [
        ["ip", None, "127.0.0.1", "IP address to listen on and advertise."],
        ["port", None, str(constants.MASTER_PORT), "Port to listen on."],
        ["hostname", None, None, "Hostname to advertise (default: the advertised IP)."],
    ] + ENDPOINT_PARAMETERS + [
        ["allocation_interval", None, "1secs", "Time between batch allocations."],
        ["slave_ping_timeout", None, "15secs", "Time between pings of each slave."],
        ["max_slave_ping_timeouts", None, "5", "Missed pings that remove a slave."],
        ["slave_reregister_timeout", None, "10mins", "How long a newly elected master waits "
         "for the slaves the registry lists to re-register before it removes them (at least "
         "10secs)."],
        ["recovery_agent_removal_limit", None, "100%", "For failovers, the largest share of "
         "the slaves the registry lists that may be marked unreachable when "
         "--slave_reregister_timeout runs out (0% to 100%); above it the master exits instead, "
         "for a human to look."],
        ["recovery_slave_removal_limit", None, None, "Deprecated name of "
         "--recovery_agent_removal_limit."],
        ["registry_gc_interval", None, "15mins", "How often the leading master prunes "
         "unreachable slaves from the registry."],
        ["registry_max_agent_age", None, "2weeks", "How long the registry keeps an unreachable "
         "slave."],
        ["registry_max_agent_count", None, "102400", "How many unreachable slaves the registry "
         "keeps at most (the oldest go first)."],
        ["max_frame_bytes", None, str(DEFAULT_MAX_FRAME_BYTES), "Largest frame accepted."],
        ["zk", None, None, "ZooKeeper URL for leader election: zk://[user:pass@]host:port"
         "[,host:port...]/path, or file:///path holding one.  Without it this master "
         "leads alone."],
        ["zk_session_timeout", None, "10secs", "ZooKeeper session timeout: how long a "
         "leader that cannot reach ZooKeeper waits before it is replaced."],
        ["cluster", None, None, "Human-readable name of the cluster."],
        ["allocator", None, DEFAULT_ALLOCATOR, "Allocator plugin that decides offers."],
        ["roles", None, None, "Comma-separated roles frameworks may use (default: any)."],
        ["weights", None, None, "Role weights: role=weight,... (others weigh 1)."],
        ["offer_timeout", None, None, "Rescind offers unanswered for this long (default: never)."],
        ["whitelist", None, "*", "file:///path naming the slaves' hostnames that may be offered, "
         "one per line, re-read every 5 s; * for all."],
        ["log_dir", None, None, "Directory to write the log to (mesos-master.log), also served "
         "as /master/log through /files/read (default: no log file)."],
    ] + TLS_PARAMETERS + MASTER_AUTHENTICATION_PARAMETERS + HTTP_AUTHENTICATION_PARAMETERS + \
        MASTER_HTTP_PARAMETERS + AUTHORIZATION_PARAMETERS
    coercions = {
        "port": parse_port,
        "allocation_interval": parse_duration,
        "slave_ping_timeout": parse_duration,
        "max_slave_ping_timeouts": parse_positive_int,
        "slave_reregister_timeout": parse_duration,
        "recovery_agent_removal_limit": parse_percentage,
        "recovery_slave_removal_limit": parse_percentage,
        "registry_gc_interval": parse_duration,
        "registry_max_agent_age": parse_duration,
        "registry_max_agent_count": parse_count,
        "max_frame_bytes": parse_positive_int,
        "zk_session_timeout": parse_duration,
        "weights": parse_weights,
        "roles": parse_roles,
        "offer_timeout": parse_duration,
        **MASTER_AUTHENTICATION_COERCIONS,
        **HTTP_AUTHENTICATION_COERCIONS,
        "advertise_port": parse_port,
    }

    def postOptions(self):
        """
        Check the values; C{zk_url} is the L{ZooKeeperURL} C{--zk} names.
        """
        super().postOptions()
        self["zk_url"] = None
        if self["zk"]:
            try:
                location = resolve_master(self["zk"])
            except DetectorError as error:
                raise usage.UsageError(f"invalid value for --zk: {error}") from None
            if not isinstance(location, ZooKeeperURL):
                raise usage.UsageError(
                    "invalid value for --zk: expected zk://host:port[,host:port...]/path "
                    "(or file:// holding one)")
            self["zk_url"] = location
        check_master_flags(self)


def check_master_flags(options):
    """
    Check the master's parsed C{options} other than C{--zk}: the checks
    C{mesos-master} and C{mesos-local} share.

    @raise usage.UsageError: naming the flag.
    """
    if options["zk_session_timeout"] <= 0:
        raise usage.UsageError("invalid value for --zk_session_timeout: must be positive")
    try:
        check_endpoint_options(options)
        check_tls(options)
    except ValueError as error:
        raise usage.UsageError(str(error)) from None
    check_allocation(options)
    check_master_authentication(options)
    check_master_http_authentication(options)
    check_authorization(options)
    check_log_dir(options)
    if options["allocation_interval"] <= 0:
        raise usage.UsageError("invalid value for --allocation_interval: must be positive")
    if options["slave_reregister_timeout"] < constants.MIN_SLAVE_REREGISTER_TIMEOUT:
        raise usage.UsageError("invalid value for --slave_reregister_timeout: must be at "
                               "least 10secs")
    check_registry(options)


class MasterService(Service):
    """
    A master process: it listens on its port, then stands for election
    (alone without C{--zk}) and leads when elected.  Nothing happens until
    C{startService}.

    @ivar listening: fires with the listening port once bound.
    @ivar election: the L{MasterElection}, once started.
    @ivar scheduler_api: the v1 HTTP scheduler API, once started.
    @ivar operator_api: the v1 operator API, once started.
    @ivar registry: the record of removed slaves every term shares, once
        started: in ZooKeeper under the C{--zk} path, else in memory.
    @param collector_hold: the L{RecoveryHold} each term's master holds
        while it recovers (the daemon's own process), or L{None}.
    """

    logger = Logger()

    def __init__(self, options, reactor, collector_hold=None):
        self.options = options
        self.reactor = reactor
        self.collector_hold = collector_hold
        self.election = None
        self.node = None
        self.scheduler_api = None
        self.operator_api = None
        self.registry = None
        self._zookeeper = None
        self.log = None
        if options["log_dir"]:
            self.log = LogDirectory(options["log_dir"], "mesos-master.log")
        self.listening = Deferred()

    @property
    def master(self):
        """
        The L{Master} of our current term while we lead, else L{None}.
        """
        return self.election.master if self.election is not None else None

    def _make_master(self, node, info, ids):
        options = self.options
        return Master(
            self.reactor, node,
            allocation_interval=options["allocation_interval"],
            slave_ping_timeout=options["slave_ping_timeout"],
            max_slave_ping_timeouts=options["max_slave_ping_timeouts"],
            slave_reregister_timeout=options["slave_reregister_timeout"],
            hostname=options["hostname"], cluster=options["cluster"],
            info=info, ids=ids,
            allocator=options["allocator_factory"].make_allocator(
                self.reactor, options["weights"] or {}),
            roles=options["roles"], offer_timeout=options["offer_timeout"],
            whitelist=options["whitelist_path"], registry=self.registry,
            authenticator=self._authenticator(),
            authenticate_frameworks=options["authenticate_frameworks"],
            authenticate_slaves=options["authenticate_agents"],
            authorizer=options["authorizer"],
            weights=options["weights"],
            recovery_removal_limit=options["recovery_agent_removal_limit"],
            on_removal_limit=self._removal_limit_exceeded,
            registry_gc=RegistryGcPolicy(options["registry_gc_interval"],
                                         options["registry_max_agent_age"],
                                         options["registry_max_agent_count"]),
            collector_hold=self.collector_hold,
        )

    def _removal_limit_exceeded(self, reason):
        """
        Too many of the slaves the registry lists did not come back after a
        failover: exit, as Mesos does, rather than mark them unreachable
        (the reason is logged; stopping withdraws from the election, so
        another master leads).
        """
        self.logger.critical("Exiting: the post-recovery slave removal limit was exceeded "
                             "(the reason is logged above)")
        self.reactor.stop()

    def _authenticator(self):
        """
        A fresh authenticator of the C{--authenticators} plugin, with the
        C{--credentials}; L{None} (no client can authenticate) when it
        cannot take them and authentication is not required, as in Mesos.
        """
        authenticator = self.options["authenticator_factory"].make_authenticator(self.reactor)
        try:
            authenticator.initialize(self.options["credentials_message"])
        except ValueError as error:
            self.logger.warn("Only non-authenticating frameworks and slaves can register: "
                          "{error}", error=str(error))
            return None
        return authenticator

    def _client_endpoints(self):
        return ClientEndpoints(self.reactor, self.options.get("connect") or DEFAULT_CONNECT)

    def startService(self):
        """
        Bind the port, then join the election.
        """
        super().startService()
        options = self.options
        if self.log is not None:
            self.log.start()
        host, port = advertised(options)
        self.node = MessageNode(
            self.reactor, UPID("master", host, port), None, options["max_frame_bytes"],
            client_endpoints=self._client_endpoints(), tls=options["tls"],
        )
        # Mesos caps unauthenticated connections: when authentication is
        # required, a connection counts until it authenticates or registers.
        self.node.guard.until_authenticated = (
            options["authenticate_frameworks"] or options["authenticate_agents"])
        contender, detector, self._zookeeper = contender_for(
            options["zk_url"], self.reactor, options["zk_session_timeout"])
        self.registry = MemoryRemovedSlaves() if self._zookeeper is None else \
            ZooKeeperRemovedSlaves(self._zookeeper, options["zk_url"].path)
        self.election = MasterElection(
            self.reactor, self.node, contender, detector, self._make_master)
        description = listen_description(options["ip"], options["port"], options["listen"])
        endpoint = server_endpoint(self.reactor, description)
        self.scheduler_api = SchedulerAPI(
            self.reactor, self.election,
            lambda upid: MessageNode(self.reactor, upid, None, options["max_frame_bytes"],
                                     client_endpoints=self._client_endpoints(),
                                     tls=options["tls"]))
        flags = flags_json(options, [p[0] for p in Options.optParameters])
        files = AttachedFiles()
        if self.log is not None:
            files.attach(self.log.path, "/master/log")
        self.operator_api = MasterOperatorAPI(self.reactor, self.election, flags, files)
        resource = guarded(MasterHTTP(
            self.election, flags, scheduler_api=self.scheduler_api,
            operator_api=self.operator_api, authorizer=options["authorizer"], tls=options["tls"],
            log_file=self.log.path if self.log is not None else None,
            reactor=self.reactor).resource(),
            options["credentials_message"],
            options["http_authentication_required"], "mesos-master", master_realm)
        d = listened(self.node.listen(endpoint, BoundedSite(resource, self.reactor)),
                     "mesos-master", description)

        def listening(port):
            if self._zookeeper is not None:
                self._zookeeper.start()
            self.election.start(new_master_info(self.node.upid, options["hostname"]))
            return port

        d.addCallback(listening)
        d.chainDeferred(self.listening)

    @inlineCallbacks
    def stopService(self):
        """
        Leave the election (our ZooKeeper node goes at once, so another
        master can take over), then close the port and connections.
        """
        super().stopService()
        if self.election is not None:
            yield self.election.stop()
        if self._zookeeper is not None:
            yield self._zookeeper.stop()
        if self.node is not None:
            yield self.node.stop()
        if self.log is not None:
            self.log.stop()


def makeService(options, reactor=None):
    """
    The master service for parsed C{options}; no I/O happens here.
    """
    if reactor is None:
        # The command-line entry: the process is the daemon's own.
        from twisted.internet import reactor

        reactor.callWhenRunning(tune_collector)
        return MasterService(options, reactor, collector_hold=RecoveryHold(reactor))
    return MasterService(options, reactor)
