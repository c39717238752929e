"""
UPIDs: the addresses of Mesos processes, ``id@host:port``.
"""

from dataclasses import dataclass

__all__ = ["UPID"]


@dataclass(frozen=True, order=True)
class UPID:
    """
    The address of one process: ``master@10.0.0.1:5050``.

    A UPID whose port is 0 names a process that does not listen (a scheduler
    or executor driver); it can only be reached over a connection it opened.

    @ivar encoded: its text as UTF-8 bytes, as envelopes carry it (made
        once: a process's address is in every frame it sends or is sent).
    """

    id: str
    host: str
    port: int

    def __post_init__(self):
        # Its text is sent with every message and it keys the nodes' maps:
        # made once, and hashed as that text (equal UPIDs have equal texts).
        text = f"{self.id}@{self.host}:{self.port}"
        object.__setattr__(self, "_text", text)
        object.__setattr__(self, "encoded", text.encode("utf-8"))

    def __hash__(self):
        return hash(self._text)

    @classmethod
    def parse(cls, text):
        """
        Parse ``id@host:port``.

        @raise ValueError: with a message saying what is wrong.
        """
        if not isinstance(text, str):
            raise ValueError(f"UPID must be a string, not {type(text).__name__}")
        ident, at, address = text.partition("@")
        host, colon, port = address.rpartition(":")
        if not (ident and at and host and colon and port.isdigit()):
            raise ValueError(f"malformed UPID {text!r}: expected id@host:port")
        port = int(port)
        if port > 65535:
            raise ValueError(f"malformed UPID {text!r}: port out of range")
        return cls(ident, host, port)

    @property
    def reachable(self):
        """
        Whether others can connect to this process (it listens on a port).
        """
        return self.port != 0

    def __str__(self):
        return self._text
