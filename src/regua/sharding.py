"""Shards: a stable partition of the contacts, so that N workers split the base between them.

Every contact has a **bucket**, a 32-bit number derived from its id alone
(`bucket_of`: BLAKE2b of the UTF-8 id, the first four bytes, big-endian), which repositories
store with the contact. It never depends on the process, the platform or the Python version
(Python's own ``hash()`` of a string changes with every process), so every worker computes
the same bucket for the same contact, today and after an upgrade.

``Shard(index, count)`` is one of `count` equal, contiguous ranges of buckets: shard ``i`` of
``N`` holds the buckets ``b`` with ``b * N // 2**32 == i``. A contiguous range lets a database
filter it inside the wake-up index (``bucket >= lo AND bucket < hi``), so a sharded tick still
costs what is due, never a scan.

Workers with distinct shards of one `count` split the due contacts without talking to each
other. Changing `count` is safe while workers with the old and the new count overlap: their
shards then overlap too, and the contact leases and occurrence claims every worker takes
anyway decide who handles what, exactly as between unsharded workers.

>>> from regua.sharding import Shard, bucket_of
>>> shards = Shard.all(4)
>>> [str(shard) for shard in shards]
['0/4', '1/4', '2/4', '3/4']
>>> [shard.index for shard in shards if bucket_of("ana") in shard]
[0]
>>> Shard.of("ana", 4) == shards[0]
True
"""

from __future__ import annotations

import hashlib

import attrs

from regua.errors import ConfigurationError

__all__ = ["BUCKETS", "Shard", "bucket_of"]

BUCKETS = 2**32
"""The number of buckets: a bucket is in ``range(BUCKETS)``."""


def bucket_of(contact_id: str) -> int:
    """The contact's bucket, in ``range(BUCKETS)``: stable across processes and versions."""
    digest = hashlib.blake2b(contact_id.encode("utf-8"), digest_size=4).digest()
    return int.from_bytes(digest, "big")


def _check(index: int, count: int) -> None:
    # bool is an int, but Shard(True, 2) is a mistake.
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ConfigurationError(f"Shard count must be a positive integer, got {count!r}")
    if count > BUCKETS:
        raise ConfigurationError(
            f"Shard count must be at most {BUCKETS} (one bucket each), got {count}"
        )
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < count:
        raise ConfigurationError(f"Shard index must be an integer in [0, {count}), got {index!r}")


@attrs.frozen(slots=True)
class Shard:
    """Shard `index` of `count`: the contacts whose bucket lies in `range(lo, hi)`.

    Attributes:
        index: Which shard, from 0 to ``count - 1``.
        count: How many shards the contacts are split into.

    Raises:
        ConfigurationError: `count` is not a positive integer, or `index` not in ``[0, count)``.

    """

    index: int
    count: int

    def __attrs_post_init__(self) -> None:
        _check(self.index, self.count)

    @classmethod
    def all(cls, count: int) -> list[Shard]:
        """Every shard of `count`, in order: together they hold every contact exactly once."""
        _check(0, count)
        return [cls(index, count) for index in range(count)]

    @classmethod
    def of(cls, contact_id: str, count: int) -> Shard:
        """The shard of `count` holding the contact."""
        _check(0, count)
        return cls(bucket_of(contact_id) * count // BUCKETS, count)

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"1/4"`` -> ``Shard(1, 4)`` (for command lines and environment variables)."""
        index, slash, count = text.strip().partition("/")
        try:
            if not slash:
                raise ValueError
            return cls(int(index), int(count))
        except ValueError as exc:
            detail = f": {exc}" if str(exc) else ""
            raise ConfigurationError(
                f"a shard is written INDEX/COUNT, like '0/4'; got {text!r}{detail}"
            ) from None

    @property
    def lo(self) -> int:
        """The first bucket of the shard."""
        return -(-self.index * BUCKETS // self.count)  # ceil(index * BUCKETS / count)

    @property
    def hi(self) -> int:
        """One past the last bucket of the shard."""
        return -(-(self.index + 1) * BUCKETS // self.count)

    def __contains__(self, bucket: object) -> bool:
        """Whether `bucket` (an int from `bucket_of`) belongs to this shard."""
        return isinstance(bucket, int) and self.lo <= bucket < self.hi

    def holds(self, contact_id: str) -> bool:
        """Whether the contact belongs to this shard."""
        return bucket_of(contact_id) in self

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"
