"""
ZooKeeper support: URLs, a Twisted-friendly kazoo client, and the layout
masters use to elect a leader (see L{mesos_tw.detector}).
"""

from mesos_tw.zookeeper.client import (
    CONNECTED,
    EXPIRED,
    SUSPENDED,
    IZooKeeper,
    ZooKeeperClient,
    ZooKeeperTimeout,
)
from mesos_tw.zookeeper.url import ZooKeeperURL, ZooKeeperURLError

__all__ = [
    "CONNECTED",
    "EXPIRED",
    "IZooKeeper",
    "SUSPENDED",
    "ZooKeeperClient",
    "ZooKeeperTimeout",
    "ZooKeeperURL",
    "ZooKeeperURLError",
]
