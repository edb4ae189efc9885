"""The Redis read model's sink (consumer group ``complaintops-metrics``).

Each batch is one optimistic compare-and-set: the partitions' stored
offsets, the build marker and the cases' states are read in one round trip,
the pure core runs, and one Lua script (metrics/lua/apply_batch.lua) checks
that the offsets are still those read and the marker still there, then
writes every effect and the new offsets atomically. The writes travel as
one aggregated JSON argument, so the cost does not grow with the number of
Redis commands. A redelivered record sits at or below its partition's
stored offset and is skipped, so no effect is counted twice; a writer that
lost its partitions in a rebalance finds the offsets moved and recomputes
instead of overwriting.
"""

from __future__ import annotations

import base64
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import redis
from redis.exceptions import RedisClusterException

from consumers.sink import BatchSummary, SinkNotReady, SinkUnavailable, is_fresh
from events.batch import Decoded, RawRecord, case_ids, decode_all, run_batch
from events.machine import Outcome
from events.scoring import DEFAULT_RULES, RuleSource
from metrics import keys
from metrics.codec import decode_state
from metrics.delta import MetricsDelta
from metrics.writer import delta_payload, written_keys

log = logging.getLogger(__name__)

APPLY_SCRIPT = (Path(__file__).parent / "lua" / "apply_batch.lua").read_text()
READ_SCRIPT = (Path(__file__).parent / "lua" / "read_batch.lua").read_text()
# KEYS[1] an outbox; ARGV the letters published from its head, in order.
# Trims them only if they are still its head, all of them.
TRIM_SCRIPT = """
local head = redis.call('LRANGE', KEYS[1], 0, #ARGV - 1)
if #head ~= #ARGV then
  return 0
end
for i = 1, #ARGV do
  if head[i] ~= ARGV[i] then
    return 0
  end
end
redis.call('LTRIM', KEYS[1], #ARGV, -1)
return 1
"""
REBUILD_ADVICE = "the Redis read model has no build marker (data lost?): run `complaintops rebuild`"


class RedisSink:
    name = "metrics"

    def __init__(
        self,
        client: redis.Redis,
        group: str,
        tz: ZoneInfo,
        rules: RuleSource = DEFAULT_RULES,
        clock: Callable[[], float] = time.time,
        dead_letter_outbox: bool = False,
    ) -> None:
        self.client = client
        self.group = group
        self.tz = tz
        self.rules = rules
        self.clock = clock
        # Keep each batch's dead letters with its effects until the broker
        # confirmed them (see pending_dead_letters).
        self.dead_letter_outbox = dead_letter_outbox
        self._read_script = client.register_script(READ_SCRIPT)
        self._apply_script = client.register_script(APPLY_SCRIPT)
        self._trim_script = client.register_script(TRIM_SCRIPT)

    # -- positions and readiness --------------------------------------------------

    def stored_offsets(self, topic: str) -> dict[int, int]:
        try:
            names = list(
                self.client.scan_iter(
                    match=keys.OFFSET_PATTERN.format(self.group, topic), count=1000
                )
            )
            if not names:
                return {}
            values = self.client.mget(names)
        except redis.RedisError as exc:
            raise SinkUnavailable(f"Redis: {exc}") from exc
        return {
            int(_text(name).rsplit(":", 1)[1]): int(value)
            for name, value in zip(names, values, strict=True)
            if value is not None
        }

    def prepare(self, group_has_committed: bool) -> None:
        """Create the build marker on a fresh install; refuse when data was lost."""
        try:
            if self.client.exists(keys.META):
                return
            if self.client.exists(keys.REBUILDING):
                log.warning("a rebuild is running; waiting for its build marker")
                return
            if group_has_committed:
                log.error("%s", REBUILD_ADVICE)
                return
            self.client.hsetnx(keys.META, "built_at", str(self.clock()))
            self.client.hsetnx(keys.META, "source", "fresh")
        except redis.RedisError as exc:
            raise SinkUnavailable(f"Redis: {exc}") from exc

    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except redis.RedisError:
            return False

    def close(self) -> None:
        self.client.close()

    # -- the batch -------------------------------------------------------------------

    def apply(self, records: Sequence[RawRecord]) -> BatchSummary:
        if not records:
            return BatchSummary()
        partitions = sorted({(r.topic, r.partition) for r in records})
        offset_keys = [keys.offset(self.group, t, p) for t, p in partitions]
        # Form checks need no state: do them once, outside the retry loop.
        decoded = decode_all(records)
        try:
            while True:
                summary = self._attempt(decoded, partitions, offset_keys)
                if summary is not None:
                    return summary
                log.info("metrics batch raced another writer; recomputing")
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise SinkUnavailable(f"Redis: {exc}") from exc
        except redis.ResponseError as exc:
            # e.g. LOADING while Redis replays its data, or OOM: retry later.
            raise SinkUnavailable(f"Redis refused: {exc}") from exc
        except (redis.RedisError, RedisClusterException) as exc:
            # Redis Cluster: a slot in migration (TRYAGAIN until the client
            # gives up), a failover, a node down. Nothing was written: retry.
            raise SinkUnavailable(f"Redis Cluster: {exc!r}") from exc

    def _attempt(
        self,
        decoded_all: Sequence[Decoded],
        partitions: list[tuple[str, int]],
        offset_keys: list[str],
    ) -> BatchSummary | None:
        """One read round trip, the pure core, one atomic script call.

        Returns None when another writer moved the offsets meanwhile.
        """
        self.rules.refresh()
        ids = case_ids(decoded_all)
        built, values = self._read_script(
            keys=[keys.META, *offset_keys, *(keys.case(i) for i in ids)]
        )
        stored_values = values[: len(offset_keys)]
        raw_states = values[len(offset_keys) :]
        if not built:
            raise SinkNotReady(REBUILD_ADVICE)
        stored: dict[str, dict[int, int]] = {}
        for (topic, partition), value in zip(partitions, stored_values, strict=True):
            if value is not None:
                stored.setdefault(topic, {})[partition] = int(value)
        decoded = [d for d in decoded_all if is_fresh(d[0], stored)]
        skipped = len(decoded_all) - len(decoded)
        states = {
            cid: decode_state(cid, raw) if raw is not None else None
            for cid, raw in zip(ids, raw_states, strict=True)
        }
        batch = run_batch(decoded, states, self.tz, self.rules)
        delta = MetricsDelta()
        delta.add_batch(batch, self.tz, self.clock())
        if self.dead_letter_outbox:
            for r in batch.results:
                if r.outcome is Outcome.INVALID:
                    outbox = keys.dead_letter_outbox(self.group, r.record.partition)
                    delta.rpush.setdefault(outbox, []).append(
                        outbox_entry(r.record, r.reason or "invalid")
                    )

        new_offsets = [int(v) if v is not None else None for v in stored_values]
        position = {tp: i for i, tp in enumerate(partitions)}
        for record, _, _ in decoded:
            i = position[(record.topic, record.partition)]
            current = new_offsets[i]
            new_offsets[i] = record.offset if current is None else max(current, record.offset)
        expected = [_text(v) if v is not None else False for v in stored_values]
        result = self._apply_script(
            keys=[keys.META, *offset_keys, *written_keys(delta)],
            args=[
                orjson.dumps(expected),
                orjson.dumps([str(o) if o is not None else False for o in new_offsets]),
                delta_payload(delta),
                len(offset_keys),
            ],
        )
        outcome = _text(result)
        if outcome == "MOVED":
            return None
        if outcome == "NOTREADY":
            raise SinkNotReady(REBUILD_ADVICE)

        summary = BatchSummary(
            applied=batch.count(Outcome.APPLIED),
            duplicates=batch.count(Outcome.DUPLICATE),
            gaps=batch.gaps,
            skipped=skipped,
            invalid=[
                (r.record, r.reason or "invalid")
                for r in batch.results
                if r.outcome is Outcome.INVALID
            ],
        )
        summary.offsets = {
            p: o for (_, p), o in zip(partitions, new_offsets, strict=True) if o is not None
        }
        return summary

    # -- dead-letter outbox ----------------------------------------------------------

    def pending_dead_letters(self, partitions: Iterable[int]) -> list[tuple[RawRecord, str]]:
        """Dead letters of ``partitions`` stored with their batches and not yet
        cleared, oldest first per partition."""
        owned = sorted(set(partitions))
        if not self.dead_letter_outbox or not owned:
            return []
        try:
            pipe = self.client.pipeline(transaction=False)
            for partition in owned:
                pipe.lrange(keys.dead_letter_outbox(self.group, partition), 0, -1)
            lists = pipe.execute()
        except redis.RedisError as exc:
            raise SinkUnavailable(f"Redis: {exc}") from exc
        return [_from_outbox_entry(item) for raw in lists for item in raw]

    def clear_dead_letters(self, published: Sequence[tuple[RawRecord, str]]) -> None:
        """Forget ``published`` (the broker confirmed them): as many of the
        oldest letters of each partition as were published from it."""
        if not self.dead_letter_outbox or not published:
            return
        by_partition: dict[int, list[bytes]] = defaultdict(list)
        for record, reason in published:
            by_partition[record.partition].append(outbox_entry(record, reason))
        try:
            for partition, entries in sorted(by_partition.items()):
                # Trim only while the published letters still head the list:
                # after a rebalance its new owner may have cleared them already.
                self._trim_script(
                    keys=[keys.dead_letter_outbox(self.group, partition)], args=entries
                )
        except redis.RedisError as exc:
            raise SinkUnavailable(f"Redis: {exc}") from exc


def outbox_entry(record: RawRecord, reason: str) -> bytes:
    """One dead letter as the outbox keeps it (JSON: origin, key, value, reason)."""
    return orjson.dumps(
        {
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "key": base64.b64encode(record.key).decode() if record.key is not None else None,
            "value": base64.b64encode(record.value).decode() if record.value is not None else None,
            "reason": reason,
        }
    )


def _from_outbox_entry(raw: bytes | str) -> tuple[RawRecord, str]:
    item = orjson.loads(raw)
    record = RawRecord(
        item["topic"],
        item["partition"],
        item["offset"],
        base64.b64decode(item["value"]) if item["value"] is not None else None,
        base64.b64decode(item["key"]) if item["key"] is not None else None,
    )
    return record, item["reason"]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
