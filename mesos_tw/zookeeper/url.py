"""
ZooKeeper URLs as Mesos writes them: C{zk://host1:port1,host2:port2/path},
optionally with credentials, C{zk://user:password@host:port/path}.
"""

from dataclasses import dataclass

__all__ = ["ZooKeeperURL", "ZooKeeperURLError"]


class ZooKeeperURLError(ValueError):
    """
    A ZooKeeper URL that cannot be used; the message says why.
    """


@dataclass(frozen=True)
class ZooKeeperURL:
    """
    A parsed ZooKeeper URL.

    @ivar hosts: C{host:port,host:port} as ZooKeeper clients take them.
    @ivar path: the znode under which masters contend (no trailing C{/}).
    @ivar credentials: C{(user, password)} for digest authentication, or
        L{None}.
    """

    hosts: str
    path: str
    credentials: tuple = None

    @classmethod
    def parse(cls, text):
        """
        Parse C{zk://[user:password@]host:port[,host:port...]/path}.

        @raise ZooKeeperURLError: saying what is wrong.
        """
        text = text.strip()
        if not text.startswith("zk://"):
            raise ZooKeeperURLError(f"{text!r} is not a zk:// URL")
        rest = text[len("zk://"):]
        authority, slash, path = rest.partition("/")
        if not slash or not path.strip("/"):
            raise ZooKeeperURLError(f"{text!r} has no znode path (zk://host:port/mesos)")
        credentials = None
        if "@" in authority:
            userinfo, _, authority = authority.rpartition("@")
            user, colon, password = userinfo.partition(":")
            if not user or not colon:
                raise ZooKeeperURLError(f"{text!r}: credentials must be user:password@")
            credentials = (user, password)
        servers = [server.strip() for server in authority.split(",")]
        for server in servers:
            host, colon, port = server.rpartition(":")
            if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ZooKeeperURLError(f"{text!r}: {server!r} is not host:port")
        return cls(",".join(servers), "/" + path.strip("/"), credentials)

    def __str__(self):
        auth = f"{self.credentials[0]}:{self.credentials[1]}@" if self.credentials else ""
        return f"zk://{auth}{self.hosts}{self.path}"
