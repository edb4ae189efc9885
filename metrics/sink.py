"""The Redis read model's sink (consumer group ``complaintops-metrics``).

Each batch is stored by optimistic compare-and-set: the partitions' stored
offsets, the build marker and the cases' states are read, the batch kernel
(``metrics.kernel``) runs, and a Lua script (metrics/lua/apply_batch.lua)
checks that the offsets are still those read and the marker still there,
then writes every effect and the new offsets atomically. The writes travel
as one aggregated JSON argument, so the cost does not grow with the number
of Redis commands. A redelivered record sits at or below its partition's
stored offset and is skipped, so no effect is counted twice; a writer that
lost its partitions in a rebalance finds the offsets moved and recomputes
instead of overwriting.

A large batch is computed and stored in chunks, so that Redis works while
the kernel computes. The marker, the offsets and the states of the first
chunk's cases are read first; the states of each later chunk's new cases
(cases no earlier chunk has) are read by commands sent at once behind that
read, on one connection (``metrics.pipeline``); each chunk's script call is
sent as soon as the chunk is computed, and its answer read later, while the
next chunk is computed. Redis runs one connection's commands in the order
they were sent, so every read runs before any chunk's write, and it reads
cases no earlier chunk writes. Each chunk is its own atomic compare-and-set
that expects the offsets the chunk before it writes, so the chunks are
stored in order: once one is refused (MOVED) or fails, none after it can be
stored over other records than its own. ``apply`` returns only once every
chunk is stored. A crash, a lost connection or a refusal in the middle
leaves the chunks before it stored with their offsets (and dead letters),
like smaller batches; their records are skipped when they come again.

The consumer loop stages the next batch while the one before is stored
(``stage``): it is decoded, and its reads are sent on the same connection
behind that batch's stores, so Redis runs them after the stores and they see
every chunk of it. Only if settling that batch recomputes anything (it raced
another writer) are they given up and sent again. The reads are plain MGETs:
one command is one atomic read, and the offsets come in the same command as
the first chunk's states.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import orjson
import redis
from redis.exceptions import MovedError, RedisClusterException

from consumers.sink import BatchSummary, SinkNotReady, SinkUnavailable
from events.batch import RawRecord
from events.json_bytes import dumps_lasting
from events.scoring import DEFAULT_RULES, RuleSource
from metrics import keys
from metrics.kernel import load_kernel
from metrics.kernel.api import BatchKernel, Decoded, KernelOutput, State, case_ids
from metrics.pipeline import Pipe, learn_redirect

log = logging.getLogger(__name__)

APPLY_SCRIPT = (Path(__file__).parent / "lua" / "apply_batch.lua").read_text()
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
# A case's state key is this and the case id (metrics.keys.case, without str.format).
_CASE: Final = keys.template_prefix(keys.CASE)
assert keys.case("x") == _CASE + "x"
REBUILD_ADVICE = "the Redis read model has no build marker (data lost?): run `complaintops rebuild`"

# A batch is stored in this many chunks (see the module's docstring), each
# of at least MIN_CHUNK_RECORDS records: few enough that the writes every
# chunk repeats (the shared counters and indexes) stay few; enough that the
# first read and the last chunk's script, which nothing overlaps, are short.
# A smaller batch is one chunk, read and stored by two plain script calls.
# (Measured in process with the compiled kernel, batches of 2,000 and 500
# records: 4 chunks took the Redis wait left on the calling thread from
# 11-14 to 4-6 us an event; more chunks cost Redis more than they saved.)
DEFAULT_CHUNKS: Final = 4
MIN_CHUNK_RECORDS: Final = 100


@dataclass(slots=True)
class SinkTimings:
    """Cumulative counts of the sink's batches, for benchmarks and diagnosis."""

    batches: int = 0
    chunks: int = 0
    # Seconds the calling thread spent waiting on Redis: for the states it
    # needed (the first read, and the later cases' if not there yet), and for
    # the chunks' stores still running once every chunk was computed.
    read_wait: float = 0.0
    store_wait: float = 0.0
    # Attempts that found the offsets moved (another writer) and recomputed.
    races: int = 0
    # Batches whose reads were sent while the batch before them was stored.
    staged: int = 0


@dataclass(slots=True)
class _Chunk:
    """One chunk of an attempt: its records' place in the attempt, what they did."""

    start: int
    end: int
    summary: BatchSummary
    offsets: list[int]  # the partitions' offsets once it is stored (-1: none)


_NOTHING: Final = b"OK"  # the answer of a chunk with nothing to store


@dataclass(slots=True)
class _Sent:
    """One attempt's chunks, computed and sent, their answers not all read."""

    decoded: Sequence[Decoded]
    partitions: list[tuple[str, int]]
    count: int  # the chunks the attempt was cut into
    stores: _Stores


@dataclass(slots=True)
class _Reads:
    """An attempt's chunks and the reads of their cases, sent on ``pipe``.

    ``marker`` asks whether the build marker is there; ``first`` reads the
    offsets and the states of the first chunk's cases; each of ``later``
    (chunk index, cases, ticket) the states of a later chunk's cases that no
    earlier chunk has.
    """

    pipe: Pipe
    offset_keys: list[str]  # the stored-offset keys of the attempt's partitions
    bounds: list[int]  # chunk i is decoded[bounds[i] : bounds[i + 1]]
    chunk_ids: list[list[str]]  # each chunk's cases
    first_ids: list[str]
    marker: int
    first: int
    later: deque[tuple[int, list[str], int]]

    def discard(self) -> None:
        """Give up the replies still to come (the attempt will not use them)."""
        self.pipe.discard(self.marker)
        self.pipe.discard(self.first)
        for _, _, ticket in self.later:
            self.pipe.discard(ticket)
        self.later.clear()


@dataclass(slots=True)
class _Staged:
    """The next batch, decoded, and its reads sent while the batch before it
    is stored (see RedisSink.stage)."""

    records: Sequence[RawRecord]
    decoded: list[Decoded]
    reads: _Reads | None  # None: not sent (submit reads)


@dataclass(slots=True)
class _Pending:
    """A batch submitted and not settled yet."""

    partitions: list[tuple[str, int]]
    done: BatchSummary  # what its chunks stored so far did
    sent: _Sent | None  # None: nothing to store


class _Stores:
    """The chunks of one attempt and the answers of their script calls.

    A chunk's answer is known at once (nothing to store, or stored on the
    calling thread) or comes with its ticket on the pipe. Each chunk expects
    the offsets the chunk before it writes, so a chunk refused (MOVED) stops
    the attempt: the chunks not computed yet are not sent. The answers of
    those already sent are still read: one of them stored if, meanwhile,
    another writer stored exactly the records before it (the offsets say
    which records a partition's state holds, whoever stored them). A lost
    connection loses the answers not read yet: the attempt fails.
    """

    def __init__(self, pipe: Pipe, timings: SinkTimings) -> None:
        self.pipe = pipe
        self.timings = timings
        self.chunks: list[tuple[_Chunk, int | None, Any]] = []
        self.stored: list[_Chunk] = []
        self.refused: list[_Chunk] = []
        self.not_ready = False
        self.error: BaseException | None = None
        self._next = 0

    @property
    def stopped(self) -> bool:
        """True once a chunk was not stored: compute no more."""
        return bool(self.refused) or self.not_ready or self.error is not None

    def add(self, chunk: _Chunk, ticket: int | None, answer: Any = _NOTHING) -> None:
        self.chunks.append((chunk, ticket, answer))

    def collect(self, wait: bool) -> None:
        """Take the answers that have arrived (``wait``: every answer)."""
        started = time.perf_counter()
        while self._next < len(self.chunks):
            chunk, ticket, answer = self.chunks[self._next]
            if ticket is not None:
                try:
                    if not wait and not self.pipe.ready(ticket):
                        break
                    answer = self.pipe.reply(ticket)
                except redis.ResponseError as exc:
                    # Refused before it wrote (OOM, a redirection, ...); the
                    # connection is fine, the answers after it still come.
                    self.error = self.error or exc
                    self._next += 1
                    continue
                except Exception as exc:
                    self.error = self.error or exc
                    self._next = len(self.chunks)  # the rest is lost
                    break
            self._next += 1
            self._take(chunk, _text(answer))
        if wait:
            self.timings.store_wait += time.perf_counter() - started

    def _take(self, chunk: _Chunk, answer: str) -> None:
        if answer == "OK":
            self.stored.append(chunk)
        elif answer == "MOVED":
            self.refused.append(chunk)
        elif answer == "NOTREADY":
            self.not_ready = True
        else:  # pragma: no cover - the script answers nothing else
            self.error = self.error or RuntimeError(
                f"unexpected answer of the apply script: {answer!r}"
            )


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
        kernel: BatchKernel | None = None,
        chunk_records: int | None = None,
    ) -> None:
        self.client = client
        self.group = group
        self.tz = tz
        self.rules = rules
        self.clock = clock
        # Keep each batch's dead letters with its effects until the broker
        # confirmed them (see pending_dead_letters).
        self.dead_letter_outbox = dead_letter_outbox
        self.kernel = kernel if kernel is not None else load_kernel(tz, rules)
        # Records per chunk; None: DEFAULT_CHUNKS chunks a batch (see above).
        self.chunk_records = chunk_records
        self.timings = SinkTimings()
        self._trim_script = client.register_script(TRIM_SCRIPT)
        # What chunks stored by a batch that then failed did: reported with
        # the next batch that succeeds (their records will not come again).
        self._carried: BatchSummary | None = None
        # The batch submitted and not settled yet (see submit).
        self._pending: _Pending | None = None
        # The next batch, staged while the one submitted is stored (see stage).
        self._staged: _Staged | None = None
        # The connection of the reads and the chunks' stores: kept from a
        # batch to the next while the next batch's reads wait on it.
        self._pipe: Pipe | None = None

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
        self._drop_pipe()
        self.client.close()

    # -- the batch -------------------------------------------------------------------

    def apply(self, records: Sequence[RawRecord]) -> BatchSummary:
        """Store the batch; return once every chunk is stored."""
        self.submit(records)
        summary = self.settle()
        assert summary is not None
        return summary

    def submit(self, records: Sequence[RawRecord]) -> None:
        """Compute the batch and send every chunk's store, without waiting for
        the last ones: ``settle`` does, and only then are the records stored
        (and their offsets to be committed). Raises as ``apply`` does; then
        nothing is left to settle."""
        if self._pending is not None:
            raise RuntimeError("the batch submitted before is not settled")
        self.timings.batches += 1
        partitions = _partitions(records)
        staged, self._staged = self._staged, None
        reads: _Reads | None = None
        if staged is not None and staged.records is records:
            decoded, reads = staged.decoded, staged.reads
        else:
            if staged is not None and staged.reads is not None:
                # Its reads are not wanted: start again on a connection from
                # the pool (checked there) with no reply pending.
                _discard(staged)
                self._drop_pipe()
            # Form checks need no state: do them once, outside the retry loop.
            decoded = self.kernel.decode_all(records) if records else []
        done = BatchSummary()
        with self._failing(done):
            sent = self._send(decoded, partitions, done, reads) if decoded else None
        self._pending = _Pending(partitions, done, sent)

    def stage(self, records: Sequence[RawRecord]) -> None:
        """Begin the next batch while the one submitted is being stored: decode
        it and send its reads behind that batch's stores, on their
        connection. Redis runs a connection's commands in order, so the reads
        see every chunk of that batch stored; if settling it recomputes
        anything, they are given up and ``submit`` reads again. Changes
        nothing; ``submit`` with the same records (the same sequence) takes
        it up, with others drops it. A Redis failure here is left for
        ``settle`` and ``submit`` to meet and report."""
        if self._staged is not None:
            _discard(self._staged)
        decoded = self.kernel.decode_all(records) if records else []
        staged = self._staged = _Staged(records, decoded, None)
        if decoded:
            with contextlib.suppress(redis.RedisError, RedisClusterException):
                staged.reads = self._send_reads(decoded, _partitions(records))

    def settle(self) -> BatchSummary | None:
        """Wait until the batch submitted is stored, recomputing what another
        writer moved meanwhile; its summary (None: nothing was submitted).
        Raises SinkUnavailable or SinkNotReady as ``apply`` does: then what
        was not stored is not, and the batch is settled all the same."""
        pending, self._pending = self._pending, None
        if pending is None:
            return None
        done, sent = pending.done, pending.sent
        with self._failing(done):
            while sent is not None:
                rest = self._conclude(sent, done)
                if rest is None:
                    break
                self.timings.races += 1
                log.info("metrics batch raced another writer; recomputing")
                if self._staged is not None:
                    _discard(self._staged)  # read before what is stored now
                sent = self._send(rest, pending.partitions, done)
        return self._with_carried(done)

    @contextlib.contextmanager
    def _failing(self, done: BatchSummary) -> Iterator[None]:
        """Redis failures as the loop knows them; what stored chunks did is
        reported with the next batch that succeeds."""
        try:
            yield
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            self._failed(done)
            raise SinkUnavailable(f"Redis: {exc}") from exc
        except redis.ResponseError as exc:
            # e.g. LOADING while Redis replays its data, or OOM: retry later;
            # on Redis Cluster, a slot that moved: retry on its new primary.
            learn_redirect(self.client, exc)
            self._failed(done)
            raise SinkUnavailable(f"Redis refused: {exc}") from exc
        except (redis.RedisError, RedisClusterException) as exc:
            # Redis Cluster: a slot in migration (TRYAGAIN until the client
            # gives up), a failover, a node down. Nothing of the failed chunk
            # was written: retry.
            self._failed(done)
            raise SinkUnavailable(f"Redis Cluster: {exc!r}") from exc
        except BaseException:
            self._failed(done)
            raise

    def _failed(self, done: BatchSummary) -> None:
        """A batch failed: carry what its stored chunks did, and give up its
        connection (replies may be lost or still to come on it)."""
        self._carry(done)
        self._drop_pipe()

    def _open_pipe(self) -> Pipe:
        if self._pipe is None:
            self._pipe = Pipe(self.client)
        return self._pipe

    def _release_pipe(self) -> None:
        """Give the connection back to its pool (see Pipe.close), unless the
        next batch's reads wait on it."""
        staged = self._staged
        if staged is None or staged.reads is None:
            self._drop_pipe()

    def _drop_pipe(self) -> None:
        pipe, self._pipe = self._pipe, None
        if self._staged is not None:
            self._staged.reads = None
        if pipe is not None:
            pipe.close()

    def _send_reads(self, decoded: Sequence[Decoded], partitions: list[tuple[str, int]]) -> _Reads:
        """Cut ``decoded`` into chunks and send the reads of their cases.

        The first read takes the offsets and the first chunk's cases in one
        MGET (one atomic read: the states hold what the offsets say), behind
        a look at the marker; each later chunk's read, sent at once behind
        it, the cases no earlier chunk has. Every read runs before any of the
        chunks' writes, and no earlier chunk writes the cases a read takes.
        (The apply script checks the marker and the offsets again.)
        """
        size = len(decoded)
        if self.chunk_records is not None:
            count = -(-size // max(1, self.chunk_records))
        else:
            count = max(1, min(DEFAULT_CHUNKS, size // MIN_CHUNK_RECORDS))
        bounds = [size * i // count for i in range(count + 1)]
        chunk_ids = [case_ids(decoded[bounds[i] : bounds[i + 1]]) for i in range(count)]
        new_ids: list[list[str]] = []
        seen: set[str] = set()
        for ids in chunk_ids:
            new_ids.append([i for i in ids if i not in seen])
            seen.update(ids)
        offset_keys = [keys.offset(self.group, t, p) for t, p in partitions]
        pipe = self._open_pipe()
        marker = pipe.send("EXISTS", keys.META)
        first = pipe.send("MGET", *offset_keys, *[_CASE + i for i in new_ids[0]])
        reads = _Reads(pipe, offset_keys, bounds, chunk_ids, new_ids[0], marker, first, deque())
        for index in range(1, count):
            if new_ids[index]:
                ticket = pipe.send("MGET", *[_CASE + i for i in new_ids[index]])
                reads.later.append((index, new_ids[index], ticket))
        return reads

    def _send(
        self,
        decoded: Sequence[Decoded],
        partitions: list[tuple[str, int]],
        done: BatchSummary,
        reads: _Reads | None = None,
    ) -> _Sent:
        """Compute and send the stores of ``decoded`` chunk by chunk, from the
        reads sent for them (``reads``; None: sent now).

        If it fails, the answers of the chunks sent are read first, and what
        the stored ones did is added to ``done``.
        """
        self.rules.refresh()
        now = self.clock()
        kernel = self.kernel
        if reads is None or reads.pipe is not self._pipe:
            reads = self._send_reads(decoded, partitions)
        else:
            self.timings.staged += 1
        # The first read: marker, offsets and the first chunk's cases.
        started = time.perf_counter()
        try:
            built = reads.pipe.reply(reads.marker)
        except MovedError as exc:
            # Redis Cluster: the model's slot moved (nothing is written yet):
            # read again, from its new primary.
            learn_redirect(self.client, exc)
            self._drop_pipe()
            reads = self._send_reads(decoded, partitions)
            built = reads.pipe.reply(reads.marker)
        values = reads.pipe.reply(reads.first)
        self.timings.read_wait += time.perf_counter() - started
        if not built:
            raise SinkNotReady(REBUILD_ADVICE)
        pipe, bounds, chunk_ids, later = reads.pipe, reads.bounds, reads.chunk_ids, reads.later
        offset_keys = reads.offset_keys
        count = len(bounds) - 1
        stores = _Stores(pipe, self.timings)
        sent = _Sent(decoded, partitions, count, stores)
        try:
            stored_values = values[: len(offset_keys)]
            raw_states: dict[str, bytes | None] = dict(
                zip(reads.first_ids, values[len(offset_keys) :], strict=True)
            )
            # Per partition (in the order of ``partitions``): the stored offset,
            # and the one stored once the chunks so far are (-1: none).
            floor = [int(v) if v is not None else -1 for v in stored_values]
            position = {tp: i for i, tp in enumerate(partitions)}
            offsets = floor
            expected = orjson.dumps([_text(v) if v is not None else False for v in stored_values])
            known: dict[str, State | None] = {}
            for index in range(count):
                stores.collect(wait=False)
                if stores.stopped:
                    break
                first, last = bounds[index], bounds[index + 1]
                fresh: list[Decoded] = []
                keep = fresh.append
                new_offsets = offsets.copy()
                for item in decoded[first:last]:
                    record = item[0]
                    i = position[record.topic, record.partition]
                    offset = record.offset
                    if offset > floor[i]:
                        keep(item)
                        if offset > new_offsets[i]:
                            new_offsets[i] = offset
                chunk = _Chunk(
                    first, last, BatchSummary(skipped=last - first - len(fresh)), new_offsets
                )
                if not fresh:
                    stores.add(chunk, None)
                    continue
                while later and later[0][0] <= index:
                    _, ids, ticket = later.popleft()
                    started = time.perf_counter()
                    read_values = pipe.reply(ticket)
                    self.timings.read_wait += time.perf_counter() - started
                    raw_states.update(zip(ids, read_values, strict=True))
                states: dict[str, State | None] = {}
                for case_id in chunk_ids[index] if len(fresh) == last - first else case_ids(fresh):
                    if case_id in known:
                        states[case_id] = known[case_id]
                    else:
                        raw = raw_states[case_id]
                        state = kernel.decode_state(case_id, raw) if raw is not None else None
                        known[case_id] = states[case_id] = state
                out = kernel.run(fresh, states, now)
                known.update(out.states)
                _summarize(out, chunk.summary)
                script_keys, args = self._store_args(out, offset_keys, expected, new_offsets)
                stores.add(
                    chunk, pipe.send("EVAL", APPLY_SCRIPT, len(script_keys), *script_keys, *args)
                )
                expected = _offsets_arg(new_offsets)
                offsets = new_offsets
            reads.discard()  # the later reads of chunks not computed (stopped)
        except BaseException:
            # Learn which chunks sent so far were stored, then give up.
            with contextlib.suppress(Exception):
                stores.collect(wait=True)
            self._close(sent, done)
            raise
        return sent

    def _close(self, sent: _Sent, done: BatchSummary) -> None:
        self._release_pipe()
        for chunk in sent.stores.stored:
            _add(done, chunk.summary)
        self.timings.chunks += len(sent.stores.chunks)

    def _conclude(self, sent: _Sent, done: BatchSummary) -> list[Decoded] | None:
        """Wait for the stores sent; add what the stored chunks did to ``done``.

        Returns None when every chunk is stored, or the records to recompute
        (from the first chunk refused because another writer moved the
        offsets meanwhile).
        """
        stores, decoded, count = sent.stores, sent.decoded, sent.count
        try:
            stores.collect(wait=True)
        finally:
            self._close(sent, done)
        if stores.error is not None:
            raise stores.error
        if stores.not_ready:
            raise SinkNotReady(REBUILD_ADVICE)
        stored = {chunk.start for chunk in stores.stored}
        computed = [chunk for chunk, _, _ in stores.chunks]
        if len(stored) < len(computed) or len(computed) < count:
            # Recompute what is not stored, from the offsets as they are now.
            end = computed[-1].end if computed else 0
            rest = [
                item for c in computed if c.start not in stored for item in decoded[c.start : c.end]
            ]
            return rest + list(decoded[end:])
        done.offsets = {
            p: o for (_, p), o in zip(sent.partitions, computed[-1].offsets, strict=True) if o >= 0
        }
        return None

    def _store_args(
        self,
        out: KernelOutput,
        offset_keys: list[str],
        expected: bytes,
        new_offsets: list[int],
    ) -> tuple[list[str], list[bytes | int]]:
        """The keys and arguments of the apply script that stores one chunk."""
        rpush: dict[str, list[bytes]] = {}
        if self.dead_letter_outbox:
            for record, reason in out.invalid:
                outbox = keys.dead_letter_outbox(self.group, record.partition)
                rpush.setdefault(outbox, []).append(outbox_entry(record, reason))
        state_keys, state_values = out.states_written()
        script_keys = [keys.META, *offset_keys, *state_keys, *out.written_keys(rpush)]
        args: list[bytes | int] = [
            expected,
            _offsets_arg(new_offsets),
            len(offset_keys),
            len(state_keys),
            *state_values,
            out.payload(rpush),
        ]
        return script_keys, args

    def _carry(self, done: BatchSummary) -> None:
        if done.applied or done.duplicates or done.gaps or done.skipped or done.invalid:
            if self._carried is None:
                self._carried = BatchSummary()
            _add(self._carried, done)

    def _with_carried(self, summary: BatchSummary) -> BatchSummary:
        carried, self._carried = self._carried, None
        if carried is None:
            return summary
        _add(carried, summary)
        carried.offsets = summary.offsets
        return carried

    # -- dead-letter outbox ----------------------------------------------------------

    def pending_dead_letters(self, partitions: Iterable[int]) -> list[tuple[RawRecord, str]]:
        """Dead letters of ``partitions`` stored with their batches and not yet
        cleared, oldest first per partition."""
        owned = sorted(set(partitions))
        if not self.dead_letter_outbox or not owned:
            return []
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.exists(keys.META)
            for partition in owned:
                pipe.lrange(keys.dead_letter_outbox(self.group, partition), 0, -1)
            built, *lists = pipe.execute()
        except redis.RedisError as exc:
            raise SinkUnavailable(f"Redis: {exc}") from exc
        if not built:
            # Redis lost the read model, and with it the letters stored with
            # the batches: `rebuild` queues them again.
            raise SinkNotReady(REBUILD_ADVICE)
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
    """One dead letter as the outbox keeps it (JSON: origin, key, value, reason); in
    its own size, as a rebuild may queue any number of them at once."""
    return dumps_lasting(
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


def _partitions(records: Sequence[RawRecord]) -> list[tuple[str, int]]:
    return sorted({(r.topic, r.partition) for r in records})


def _discard(staged: _Staged) -> None:
    """Give up the reads of ``staged`` (stale, or for other records)."""
    if staged.reads is not None:
        staged.reads.discard()
        staged.reads = None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _offsets_arg(offsets: list[int]) -> bytes:
    """Offsets as the apply script takes them: strings, false for none."""
    return orjson.dumps([str(o) if o >= 0 else False for o in offsets])


def _summarize(out: KernelOutput, into: BatchSummary) -> None:
    into.applied += out.applied
    into.duplicates += out.duplicates
    into.gaps += out.gaps
    into.invalid.extend(out.invalid)


def _add(into: BatchSummary, part: BatchSummary) -> None:
    into.applied += part.applied
    into.duplicates += part.duplicates
    into.gaps += part.gaps
    into.skipped += part.skipped
    into.invalid.extend(part.invalid)
