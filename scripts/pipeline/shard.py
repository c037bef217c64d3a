"""Shards of a set of series: which of N processes forecasts which series, by a stable hash."""

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count` (1 <= index <= count): the series whose id hashes to it."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 1 <= self.index <= self.count:
            raise ValueError(f"shard {self.index}/{self.count}: K/N needs 1 <= K <= N")

    @staticmethod
    def parse(text: str) -> "Shard":
        """A shard written K/N, e.g. 2/8; ValueError on anything else."""
        parts = text.split("/")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise ValueError(f"--shard must be K/N with whole numbers, e.g. 1/4, not {text!r}")
        return Shard(int(parts[0]), int(parts[1]))

    def owns(self, series_id: str) -> bool:
        """Whether this shard forecasts the series with this id."""
        return shard_of(series_id, self.count) == self.index


def shard_of(series_id: str, count: int) -> int:
    """The shard (1..count) a series id belongs to: the same in every process and run,
    unlike hash(), which Python salts per process."""
    digest = hashlib.sha256(series_id.encode("utf-8")).digest()
    return 1 + int.from_bytes(digest[:8], "big") % count
