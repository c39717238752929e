"""
Mesos's timings and limits (reference: Mesos 0.12-0.14 constants), in
seconds, megabytes and counts.  Flags override the ones operators tune.
"""

#: How often the master pings each slave, and how many missed pongs in a row
#: remove it (15 s x 5, as Mesos).
SLAVE_PING_TIMEOUT = 15.0
MAX_SLAVE_PING_TIMEOUTS = 5
#: How long a newly elected master waits for the slaves its registry lists
#: to re-register before it removes them (Mesos's default, 10 mins).
SLAVE_REREGISTER_TIMEOUT = 600.0
#: The least C{--slave_reregister_timeout} Mesos allows.
MIN_SLAVE_REREGISTER_TIMEOUT = 10.0
#: The share of those slaves a new leader may mark unreachable at that
#: timeout (Mesos's C{--recovery_agent_removal_limit}, 100%); above it the
#: master fails over instead.
RECOVERY_SLAVE_REMOVAL_LIMIT = 1.0
#: How often the leader prunes its registry's unreachable slaves, and the
#: age and count beyond which it does (Mesos's C{--registry_gc_interval},
#: C{--registry_max_agent_age}, C{--registry_max_agent_count}).
REGISTRY_GC_INTERVAL = 15 * 60.0
REGISTRY_MAX_AGENT_AGE = 14 * 24 * 3600.0
REGISTRY_MAX_AGENT_COUNT = 102400

#: Registration retries: slaves and drivers start at one second and back off
#: (doubling, with this cap) until the master answers.
REGISTRATION_RETRY_INTERVAL = 1.0
REGISTRATION_BACKOFF_MAX = 8.0

#: A slave re-sends an unacknowledged status update this often.
STATUS_UPDATE_RETRY_INTERVAL = 10.0

#: How long an executor has to exit after being asked to shut down.
EXECUTOR_SHUTDOWN_GRACE_PERIOD = 5.0

#: How long a launched executor has to register before it is killed.
EXECUTOR_REGISTRATION_TIMEOUT = 60.0

#: How long an executor whose connection broke has to subscribe again
#: before it is shut down (Mesos's --executor_reregistration_timeout).
EXECUTOR_REREGISTRATION_TIMEOUT = 2.0

#: How long an executor of a checkpointing framework waits for its slave to
#: come back (Mesos's --recovery_timeout, 15 mins).
RECOVERY_TIMEOUT = 15 * 60.0

#: Sandbox garbage collection (Mesos's --gc_delay, --disk_watch_interval,
#: --gc_disk_headroom): an ended run's sandbox goes after a week, sooner
#: as the disk fills; the disk is checked every minute.
GC_DELAY = 7 * 24 * 3600.0
DISK_WATCH_INTERVAL = 60.0
GC_DISK_HEADROOM = 0.1

#: How often the sandbox logs of live executors are checked against
#: --sandbox_log_max_size, and how many rotated copies of each are kept.
LOG_ROTATION_INTERVAL = 1.0
LOG_FILES_KEPT = 5

#: How long the slave keeps reading the connection of an executor whose
#: process has ended before it acts on the exit: what the executor sent
#: before it exited (its final status update, say) is read first.
EXECUTOR_EXIT_READ_TIMEOUT = 5.0

#: ``Filters.refuse_seconds`` when a framework passes no filter.
DEFAULT_REFUSE_SECONDS = 5.0

#: A slave is offered only when at least this much is free.
MIN_CPUS = 0.01
MIN_MEM = 32.0

#: Batch allocation interval.
ALLOCATION_INTERVAL = 1.0
#: A master retries reading or writing its registry of removed slaves
#: after this long, doubling (with this cap) while it keeps failing.
REGISTRY_RETRY_INTERVAL = 1.0
REGISTRY_RETRY_MAX = 30.0
#: How often the master re-reads its --whitelist file (Mesos: 5 s).
WHITELIST_WATCH_INTERVAL = 5.0

#: History kept for the state endpoints.
MAX_COMPLETED_FRAMEWORKS = 50
MAX_COMPLETED_TASKS_PER_FRAMEWORK = 1000
MAX_COMPLETED_EXECUTORS_PER_FRAMEWORK = 150
MAX_COMPLETED_TASKS_PER_EXECUTOR = 200

#: Default ports.
MASTER_PORT = 5050
SLAVE_PORT = 5051

#: Task states a task never leaves (Mesos's isTerminalState: TASK_UNREACHABLE
#: and TASK_UNKNOWN are not terminal, a task in them may be found again).
from mesos_tw.protocols import mesos_pb2 as _mesos_pb2  # noqa: E402

TERMINAL_STATES = frozenset({
    _mesos_pb2.TASK_FINISHED, _mesos_pb2.TASK_FAILED, _mesos_pb2.TASK_KILLED,
    _mesos_pb2.TASK_LOST, _mesos_pb2.TASK_ERROR, _mesos_pb2.TASK_DROPPED,
    _mesos_pb2.TASK_GONE, _mesos_pb2.TASK_GONE_BY_OPERATOR,
})

#: Pending connections a master or slave port queues: hundreds of executors
#: may connect to a slave at once, and thousands of slaves to a new leader
#: (a connection refused by a full queue is retried by the kernel only
#: after 1, 3, 7... seconds).  Linux caps it at net.core.somaxconn (4096
#: by default since Linux 5.4).
LISTEN_BACKLOG = 4096

#: ZooKeeper session timeout (Mesos's --zk_session_timeout default).
ZK_SESSION_TIMEOUT = 10.0

#: How many tasks a slave remembers having answered TASK_LOST for when a
#: master asked about them at re-registration (so a question asked again
#: is not answered twice).
MAX_RECONCILED_TASKS = 1000
