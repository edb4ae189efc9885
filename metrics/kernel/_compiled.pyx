# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The compiled batch kernel: the pure core's rules for one batch, in one pass.

It gives exactly what ``metrics.kernel.reference`` gives (the form checks'
reasons, the state machine's outcomes, the scoring, the aggregated writes),
proved by tests/metrics/kernel, and does it without building the pure
core's intermediate objects (CaseEvent, Transition, RecordResult, Footprint,
Award): events and states are typed objects here, and each effect goes
straight into the batch's aggregates.

What it does not do itself, it asks the pure core, so that each rule has
one definition:
- a record the fast form checks do not accept (any breach of form, and rare
  forms such as non-ASCII ids or times after 2255) is decoded by
  ``events.decode.decode``, which gives the reason or the event;
- calendar arithmetic in the business zone (deadlines, local hours and
  days) and the rounding of points are the pure core's functions, cached;
- the payload and its keys are written by ``metrics.writer``.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdio cimport snprintf
from libc.math cimport NAN, copysign, floor, fmod, isnan, modf, nearbyint

from array import array
from datetime import datetime
from itertools import islice

import orjson

from events import contract as c
from events import scoring as s
from events.clock import _fixed_deadline
from events.decode import MAX_GROUP_SIZE, MAX_SEQ, _EARLIEST, _LATEST, decode
from events.errors import InvalidEvent
from events.timeutil import add_natural_days, hour_start, local_date
from metrics import keys
from metrics.codec import VERSION
from metrics.delta import (
    QUARTER,
    STAGE_TIME_BINS_HOURS,
    THROUGHPUT_RETENTION_DAYS,
    _award_keys,
    award_stamp,
)

cdef object _loads = orjson.loads
cdef object _dumps = orjson.dumps
cdef object _JSONDecodeError = orjson.JSONDecodeError

# -- the contract as this module uses it ---------------------------------------------

cdef enum:
    OPENED = 0
    ASSIGNED = 1
    STAGE_CHANGED = 2
    CLOCK_PAUSED = 3
    CLOCK_RESUMED = 4
    DEADLINE_EXTENDED = 5
    DECISION_MADE = 6
    FOLLOW_UP_SCHEDULED = 7
    FOLLOW_UP_DONE = 8
    ESCALATED = 9
    CLOSED_EVENT = 10
    REOPENED = 11

cdef tuple _TYPE_NAMES = (
    c.OPENED,
    c.ASSIGNED,
    c.STAGE_CHANGED,
    c.CLOCK_PAUSED,
    c.CLOCK_RESUMED,
    c.DEADLINE_EXTENDED,
    c.DECISION_MADE,
    c.FOLLOW_UP_SCHEDULED,
    c.FOLLOW_UP_DONE,
    c.ESCALATED,
    c.CLOSED,
    c.REOPENED,
)
assert _TYPE_NAMES == c.EVENT_TYPES
cdef dict _TYPE_CODES = {name: i for i, name in enumerate(_TYPE_NAMES)}

cdef str SCHEMA = c.SCHEMA
cdef Py_ssize_t MAX_EVENT_BYTES = c.MAX_EVENT_BYTES
cdef Py_ssize_t MAX_ID_LENGTH = c.MAX_ID_LENGTH
cdef Py_ssize_t MAX_OCCUPATION_LENGTH = c.MAX_OCCUPATION_LENGTH
cdef frozenset CHANNELS = c.CHANNELS
cdef frozenset CATEGORIES = c.CATEGORIES
cdef frozenset PRODUCT_LINES = c.PRODUCT_LINES
cdef frozenset PRIORITIES = c.PRIORITIES
cdef frozenset PAUSE_REASONS = c.PAUSE_REASONS
cdef frozenset OUTCOMES = c.OUTCOMES
cdef frozenset ESCALATION_TARGETS = c.ESCALATION_TARGETS
cdef frozenset RESOLUTIONS = c.RESOLUTIONS
cdef frozenset GENDERS = c.GENDERS
cdef frozenset AGE_BANDS = c.AGE_BANDS
cdef dict STAGE_INDEX = dict(c.STAGE_INDEX)
cdef frozenset STAGES = frozenset(c.STAGES)
cdef dict TIER_LIMIT_DAYS = dict(c.TIER_LIMIT_DAYS)
cdef object BASE_LIMIT_DAYS = c.BASE_LIMIT_DAYS
cdef object REOPEN_LIMIT_DAYS = c.REOPEN_LIMIT_DAYS
cdef object MAX_SEQ_INT = MAX_SEQ
cdef object MAX_GROUP_SIZE_INT = MAX_GROUP_SIZE
cdef double EARLIEST = _EARLIEST
cdef double LATEST = _LATEST

cdef str OPEN = "open"
cdef str CLOSED = "closed"
cdef str INTAKE = "intake"
cdef str INVESTIGATION = "investigation"
cdef str NORMAL = "normal"
cdef str URGENT = "urgent"
cdef str MAJOR = "major"
cdef str REGULATOR = "regulator"

cdef object STATE_VERSION = VERSION
cdef double QUARTER_SECONDS = QUARTER
cdef long long RETENTION_SECONDS = THROUGHPUT_RETENTION_DAYS * 86400
cdef tuple STAGE_TIME_BIN_NAMES = (*(f"h{b:g}" for b in STAGE_TIME_BINS_HOURS), "hmax")
cdef enum:
    N_STAGES = 6
    N_BINS = 10
assert len(c.STAGES) == N_STAGES and len(STAGE_TIME_BIN_NAMES) == N_BINS
cdef double STAGE_TIME_BOUNDS_C[N_BINS]
for _i, _bound in enumerate(STAGE_TIME_BINS_HOURS):
    STAGE_TIME_BOUNDS_C[_i] = _bound
# Per stage: its "<stage>:sum", "<stage>:n" and "<stage>:<bin>" fields.
cdef tuple STAGE_TIME_FIELDS = tuple(
    (f"{stage}:sum", f"{stage}:n", *(f"{stage}:{name}" for name in STAGE_TIME_BIN_NAMES))
    for stage in c.STAGES
)
cdef int GROUP_COMPLAINT_SIZE = c.GROUP_COMPLAINT_SIZE

# Keys that do not depend on a team, handler or case.
cdef str K_WIP = keys.WIP
cdef str K_TEAM_OPEN = keys.TEAM_OPEN
cdef str K_DEADLINES = keys.DEADLINES
cdef str K_FOLLOW_UPS = keys.FOLLOW_UPS
cdef str K_OPENED = keys.OPENED
cdef str K_PAUSED = keys.PAUSED
cdef str K_STAGE_TIME = keys.STAGE_TIME
cdef str K_EVENTS = keys.EVENT_COUNTERS
cdef str CASE_PREFIX = keys.template_prefix(keys.CASE)
assert keys.case("x") == CASE_PREFIX + "x"

# Caches keyed by a team, a handler, an hour or a quarter hour stay small in
# a live stream; a replay of years would grow them, so they are bounded.
cdef Py_ssize_t CACHE_LIMIT = 65536
# The states a kernel keeps to give back instead of decoding their stored
# form again: about 0.9 KiB each with their footprint, strings and stored form
# (tests/metrics/kernel/test_written_states.py).
cdef Py_ssize_t WRITTEN_STATES = 20000
WRITTEN_STATES_LIMIT = WRITTEN_STATES

# -- events ------------------------------------------------------------------------------

cdef double NONE = NAN  # a time that is absent (None in the pure core)


cdef inline object _time_or_none(double value):
    return None if isnan(value) else value


cdef class KEvent:
    """A form-valid event: what the state machine reads of it."""

    cdef readonly str case_id
    cdef readonly str event_id
    cdef long long seq
    cdef int etype
    cdef double occurred_at
    cdef str team_id
    cdef str handler_id
    cdef str channel
    cdef str category
    cdef str product_line
    cdef str priority
    cdef double received_at
    cdef object group_size
    cdef str to_stage
    cdef int tier
    cdef double due_at
    cdef object satisfaction
    cdef str to
    cdef bint new_facts

    @property
    def type(self):
        return _TYPE_NAMES[self.etype]


cdef KEvent _from_case_event(object event):
    """A KEvent from the pure core's CaseEvent (for records the fast checks left to it)."""
    cdef KEvent ev = KEvent.__new__(KEvent)
    ev.case_id = event.case_id
    ev.event_id = event.event_id
    ev.seq = event.seq
    ev.etype = _TYPE_CODES[event.type]
    ev.occurred_at = event.occurred_at
    ev.team_id = event.team_id
    ev.handler_id = event.handler_id
    ev.channel = event.channel
    ev.category = event.category
    ev.product_line = event.product_line
    ev.priority = event.priority
    ev.received_at = NONE if event.received_at is None else event.received_at
    ev.group_size = event.group_size
    ev.to_stage = event.to_stage
    ev.tier = event.tier if event.tier is not None else 0
    ev.due_at = NONE if event.due_at is None else event.due_at
    ev.satisfaction = event.satisfaction
    ev.to = event.to
    ev.new_facts = bool(event.new_facts)
    return ev


# -- fast form checks: accept only what events.decode accepts, else defer to it ----------


cdef inline bint _ascii_printable_id(object value):
    """A str of 1 to 64 printable ASCII characters (events.decode._id accepts it)."""
    if type(value) is not str:
        return False
    cdef str text = <str>value
    cdef Py_ssize_t n = len(text)
    if n < 1 or n > MAX_ID_LENGTH:
        return False
    cdef Py_UCS4 ch
    for ch in text:
        if ch < 0x20 or ch > 0x7E:
            return False
    return True


cdef inline bint _case_id_form(object value):
    """[A-Za-z0-9_-]{1,64}"""
    if type(value) is not str:
        return False
    cdef str text = <str>value
    cdef Py_ssize_t n = len(text)
    if n < 1 or n > 64:
        return False
    cdef Py_UCS4 ch
    for ch in text:
        if not (
            (ch >= 0x61 and ch <= 0x7A)
            or (ch >= 0x41 and ch <= 0x5A)
            or (ch >= 0x30 and ch <= 0x39)
            or ch == 0x5F
            or ch == 0x2D
        ):
            return False
    return True


cdef inline bint _is_int(object value):
    return type(value) is int


cdef inline int _digits(str text, Py_ssize_t at, Py_ssize_t count):
    """The number written by ``count`` ASCII digits at ``at``, or -1."""
    cdef int value = 0
    cdef Py_ssize_t i
    cdef Py_UCS4 ch
    for i in range(at, at + count):
        ch = text[i]
        if ch < 0x30 or ch > 0x39:
            return -1
        value = value * 10 + (<int>ch - 0x30)
    return value


cdef inline long long _days_from_civil(long long y, int m, int d):
    """Days since 1970-01-01 of a proleptic Gregorian date."""
    y -= m <= 2
    cdef long long era = (y if y >= 0 else y - 399) // 400
    cdef long long yoe = y - era * 400
    cdef long long mp = (m + 9) % 12
    cdef long long doy = (153 * mp + 2) // 5 + d - 1
    cdef long long doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


cdef inline int _days_in_month(int y, int m):
    if m == 2:
        return 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28
    if m == 4 or m == 6 or m == 9 or m == 11:
        return 30
    return 31


cdef double _fast_time(str text):
    """events.timeutil.parse_rfc3339 for its common forms; NaN where the pure
    core must decide (another form, a breach of form, or an instant whose
    microseconds a double does not hold exactly)."""
    cdef Py_ssize_t n = len(text)
    if n < 20:
        return NONE
    cdef int year = _digits(text, 0, 4)
    cdef int month = _digits(text, 5, 2)
    cdef int day = _digits(text, 8, 2)
    cdef int hour = _digits(text, 11, 2)
    cdef int minute = _digits(text, 14, 2)
    cdef int second = _digits(text, 17, 2)
    if year < 1 or month < 1 or day < 1 or hour < 0 or minute < 0 or second < 0:
        return NONE
    if text[4] != "-" or text[7] != "-" or text[13] != ":" or text[16] != ":":
        return NONE
    if text[10] != "T" and text[10] != "t":
        return NONE
    if month > 12 or day > _days_in_month(year, month) or hour > 23 or minute > 59 or second > 60:
        return NONE
    cdef Py_ssize_t i = 19
    cdef long long micros = 0
    cdef int fraction_digits = 0
    cdef Py_UCS4 ch
    if text[i] == ".":
        i += 1
        while i < n:
            ch = text[i]
            if ch < 0x30 or ch > 0x39:
                break
            if fraction_digits < 6:
                micros = micros * 10 + (<int>ch - 0x30)
            fraction_digits += 1
            i += 1
        if fraction_digits == 0:
            return NONE
        while fraction_digits < 6:
            micros *= 10
            fraction_digits += 1
    cdef long long offset = 0
    cdef int oh, om
    if i == n - 1 and (text[i] == "Z" or text[i] == "z"):
        offset = 0
    elif i == n - 6 and (text[i] == "+" or text[i] == "-") and text[i + 3] == ":":
        oh = _digits(text, i + 1, 2)
        om = _digits(text, i + 4, 2)
        if oh < 0 or om < 0 or oh > 23 or om > 59:
            return NONE
        offset = oh * 3600 + om * 60
        if text[i] == "-":
            offset = -offset
    else:
        return NONE
    cdef bint leap = second == 60
    if leap:
        second = 59
    cdef long long seconds = (
        _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset
    )
    cdef long long total = seconds * 1000000 + micros
    # datetime.timestamp() divides whole microseconds by 10**6, correctly
    # rounded: so does IEEE division while the microseconds are exact (2255).
    if total >= 9007199254740992 or total <= -9007199254740992:
        return NONE
    cdef double instant = <double>total / 1000000.0
    if leap:
        instant = instant + 1.0
    return instant


cdef inline bint _time_field(object value, double* out):
    """A required form-valid time: its instant into ``out``; False: defer."""
    if type(value) is not str:
        return False
    cdef double instant = _fast_time(<str>value)
    if isnan(instant) or not (EARLIEST <= instant < LATEST):
        return False
    out[0] = instant
    return True


cdef inline bint _enum_field(object value, frozenset allowed):
    return type(value) is str and value in allowed


cdef inline bint _optional_enum(object value, frozenset allowed):
    return value is None or (type(value) is str and value in allowed)


cdef inline bint _satisfaction_field(object value):
    return value is None or (type(value) is int and 1 <= value <= 5)


cdef bint _complainant_field(object value):
    if value is None:
        return True
    if type(value) is not dict:
        return False
    cdef dict d = <dict>value
    if not _optional_enum(d.get("gender"), GENDERS):
        return False
    if not _optional_enum(d.get("age_band"), AGE_BANDS):
        return False
    occupation = d.get("occupation")
    if occupation is not None and (
        type(occupation) is not str or len(<str>occupation) > MAX_OCCUPATION_LENGTH
    ):
        return False
    repeat = d.get("repeat")
    return repeat is None or type(repeat) is bool


cdef KEvent _fast_decode(object raw):
    """The event, when the fast checks accept the record; None: defer to the pure core."""
    if type(raw) is not bytes or len(<bytes>raw) > MAX_EVENT_BYTES:
        return None
    try:
        value = _loads(raw)
    except _JSONDecodeError:
        return None
    if type(value) is not dict:
        return None
    cdef dict obj = <dict>value
    if obj.get("schema") != SCHEMA:
        return None
    event_id = obj.get("event_id")
    if not _ascii_printable_id(event_id):
        return None
    case_id = obj.get("case_id")
    if not _case_id_form(case_id):
        return None
    seq = obj.get("seq")
    if not _is_int(seq) or seq < 1 or seq > MAX_SEQ_INT:
        return None
    type_name = obj.get("type")
    code = _TYPE_CODES.get(type_name) if type(type_name) is str else None
    if code is None:
        return None
    cdef int etype = code
    if etype == OPENED and seq != 1:
        return None
    cdef double occurred_at
    if not _time_field(obj.get("occurred_at"), &occurred_at):
        return None
    actor = obj.get("actor")
    if actor is not None and type(actor) is not str:
        return None

    cdef KEvent ev = KEvent.__new__(KEvent)
    ev.case_id = case_id
    ev.event_id = event_id
    ev.seq = seq
    ev.etype = etype
    ev.occurred_at = occurred_at
    ev.received_at = NONE
    ev.due_at = NONE
    cdef double when
    if etype == OPENED:
        group_size = obj.get("group_size")
        if group_size is not None and (
            not _is_int(group_size) or group_size < 1 or group_size > MAX_GROUP_SIZE_INT
        ):
            return None
        team_id = obj.get("team_id")
        handler_id = obj.get("handler_id")
        channel = obj.get("channel")
        category = obj.get("category")
        product_line = obj.get("product_line")
        priority = obj.get("priority")
        if not (
            _ascii_printable_id(team_id)
            and _ascii_printable_id(handler_id)
            and _enum_field(channel, CHANNELS)
            and _enum_field(category, CATEGORIES)
            and _enum_field(product_line, PRODUCT_LINES)
            and _optional_enum(priority, PRIORITIES)
            and _complainant_field(obj.get("complainant"))
        ):
            return None
        received = obj.get("received_at")
        if received is not None:
            if not _time_field(received, &when):
                return None
            ev.received_at = when
        ev.team_id = team_id
        ev.handler_id = handler_id
        ev.channel = channel
        ev.category = category
        ev.product_line = product_line
        ev.priority = priority if priority is not None else NORMAL
        ev.group_size = group_size
    elif etype == ASSIGNED:
        team_id = obj.get("team_id")
        handler_id = obj.get("handler_id")
        if not (_ascii_printable_id(team_id) and _ascii_printable_id(handler_id)):
            return None
        ev.team_id = team_id
        ev.handler_id = handler_id
    elif etype == STAGE_CHANGED:
        to_stage = obj.get("to_stage")
        if not _enum_field(to_stage, STAGES):
            return None
        ev.to_stage = to_stage
    elif etype == CLOCK_PAUSED:
        if not _enum_field(obj.get("reason"), PAUSE_REASONS):
            return None
    elif etype == DEADLINE_EXTENDED:
        tier = obj.get("tier")
        if not _is_int(tier) or not (tier == 1 or tier == 2):
            return None
        approved_by = obj.get("approved_by")
        if approved_by is None:
            if tier == 2:
                return None
        elif not _ascii_printable_id(approved_by):
            return None
        ev.tier = tier
    elif etype == DECISION_MADE:
        if not _optional_enum(obj.get("outcome"), OUTCOMES):
            return None
    elif etype == FOLLOW_UP_SCHEDULED:
        if not _time_field(obj.get("due_at"), &when):
            return None
        ev.due_at = when
    elif etype == FOLLOW_UP_DONE:
        satisfaction = obj.get("satisfaction")
        if not _satisfaction_field(satisfaction):
            return None
        ev.satisfaction = satisfaction
    elif etype == ESCALATED:
        to = obj.get("to")
        if not _enum_field(to, ESCALATION_TARGETS):
            return None
        ev.to = to
    elif etype == CLOSED_EVENT:
        satisfaction = obj.get("satisfaction")
        if not (_enum_field(obj.get("resolution"), RESOLUTIONS) and _satisfaction_field(satisfaction)):
            return None
        ev.satisfaction = satisfaction
    elif etype == REOPENED:
        new_facts = obj.get("new_facts")
        if new_facts is not None and type(new_facts) is not bool:
            return None
        ev.new_facts = new_facts is True
    return ev


# -- states ------------------------------------------------------------------------------


cdef class KFoot:
    """What an open case contributes to the live metrics (events.projection.Footprint)."""

    cdef str stage
    cdef str team
    cdef str handler
    cdef double deadline
    cdef bint has_paused
    cdef double paused_base
    cdef double paused_since
    cdef double follow_up_due
    cdef bint major
    cdef bint urgent
    cdef bint regulator
    cdef double opened_at


cdef inline bint _same_time(double a, double b):
    """Equal as the pure core's optional floats compare (None equals only None)."""
    if isnan(a) or isnan(b):
        return isnan(a) and isnan(b)
    return a == b


cdef bint _same_foot(KFoot a, KFoot b):
    if a is None or b is None:
        return a is b
    return (
        a.stage == b.stage
        and a.team == b.team
        and a.handler == b.handler
        and _same_time(a.deadline, b.deadline)
        and a.has_paused == b.has_paused
        and (not a.has_paused or (a.paused_base == b.paused_base and a.paused_since == b.paused_since))
        and _same_time(a.follow_up_due, b.follow_up_due)
        and a.major == b.major
        and a.urgent == b.urgent
        and a.regulator == b.regulator
        and a.opened_at == b.opened_at
    )


cdef class KState:
    """What the pipeline knows of a case (events.state.CaseState)."""

    cdef readonly str case_id
    cdef long long last_seq
    cdef str status
    cdef str stage
    cdef double stage_entered_at
    cdef str team_id
    cdef str handler_id
    cdef double opened_at
    cdef str channel
    cdef str category
    cdef str product_line
    cdef str priority
    cdef object group_size
    # the decision clock
    cdef double start
    cdef object limit_days
    cdef double paused_total
    cdef double paused_since
    cdef double decided_at
    cdef double follow_up_due
    cdef bint follow_up_done
    cdef bint satisfaction_given
    cdef bint escalated_to_regulator
    cdef double closed_at
    cdef object reopen_count
    cdef object rework_count
    # The deadline of its clock while not paused (events.clock._fixed_deadline),
    # once computed: NaN until then, and again when start, limit or paused time change.
    cdef double fixed_deadline
    # Its footprint, once computed (a state is never changed after a run).
    cdef KFoot foot
    cdef object foot_tz  # the zone ``foot`` was computed in (None: not yet)
    # Its stored form, once a run wrote it (see CompiledKernel.decode_state).
    cdef bytes encoded

    cdef KState copy(self):
        cdef KState new = KState.__new__(KState)
        new.case_id = self.case_id
        new.last_seq = self.last_seq
        new.status = self.status
        new.stage = self.stage
        new.stage_entered_at = self.stage_entered_at
        new.team_id = self.team_id
        new.handler_id = self.handler_id
        new.opened_at = self.opened_at
        new.channel = self.channel
        new.category = self.category
        new.product_line = self.product_line
        new.priority = self.priority
        new.group_size = self.group_size
        new.start = self.start
        new.limit_days = self.limit_days
        new.paused_total = self.paused_total
        new.paused_since = self.paused_since
        new.decided_at = self.decided_at
        new.follow_up_due = self.follow_up_due
        new.follow_up_done = self.follow_up_done
        new.satisfaction_given = self.satisfaction_given
        new.escalated_to_regulator = self.escalated_to_regulator
        new.closed_at = self.closed_at
        new.reopen_count = self.reopen_count
        new.rework_count = self.rework_count
        new.fixed_deadline = self.fixed_deadline
        return new

    def encode(self):
        """The stored form (metrics.codec.encode_state)."""
        return _encode_state(self)


cdef inline bytes _lasting(bytes data):
    """events.json_bytes.lasting: a copy in an allocation of its own size (orjson
    hands back its bytes in a buffer of at least 4 KiB)."""
    return PyBytes_FromStringAndSize(PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))


cdef bytes _encode_state(KState st):
    return _dumps(
        [
            STATE_VERSION,
            st.last_seq,
            st.status,
            st.stage,
            st.stage_entered_at,
            st.team_id,
            st.handler_id,
            st.opened_at,
            st.channel,
            st.category,
            st.product_line,
            st.priority,
            st.group_size,
            st.start,
            st.limit_days,
            st.paused_total,
            _time_or_none(st.paused_since),
            _time_or_none(st.decided_at),
            _time_or_none(st.follow_up_due),
            st.follow_up_done,
            st.satisfaction_given,
            st.escalated_to_regulator,
            _time_or_none(st.closed_at),
            st.reopen_count,
            st.rework_count,
        ]
    )


cdef inline double _optional_time(object value):
    return NONE if value is None else <double>value


cdef KState _decode_state(str case_id, object raw):
    cdef list v = _loads(raw)
    if v[0] != STATE_VERSION:
        raise ValueError(f"case {case_id}: unknown state layout version {v[0]}")
    cdef KState st = KState.__new__(KState)
    st.case_id = case_id
    st.last_seq = v[1]
    st.status = v[2]
    st.stage = v[3]
    st.stage_entered_at = v[4]
    st.team_id = v[5]
    st.handler_id = v[6]
    st.opened_at = v[7]
    st.channel = v[8]
    st.category = v[9]
    st.product_line = v[10]
    st.priority = v[11]
    st.group_size = v[12]
    st.start = v[13]
    st.limit_days = v[14]
    st.paused_total = v[15]
    st.paused_since = _optional_time(v[16])
    st.decided_at = _optional_time(v[17])
    st.follow_up_due = _optional_time(v[18])
    st.follow_up_done = v[19]
    st.satisfaction_given = v[20]
    st.escalated_to_regulator = v[21]
    st.closed_at = _optional_time(v[22])
    st.reopen_count = v[23]
    st.rework_count = v[24]
    st.fixed_deadline = NONE
    return st


# -- the zone's UTC offsets, for the deadline arithmetic ----------------------------------

# Offsets are read at every UTC midnight from 1970 to 2100: a day whose
# offset at its start differs from the next day's holds a change of offset.
# Between changes the zone keeps one offset, and the calendar arithmetic of
# events.timeutil reduces to whole seconds; near a change, and outside those
# years, the pure core's own functions are used.
cdef long long DAY = 86400
cdef long long HORIZON_DAYS = 47482  # 2100-01-01
cdef long long EXACT_MICROS = 9007199254740992  # 2**53
cdef dict _ZONES = {}


cdef class _ZoneOffsets:
    cdef long long[:] offsets  # per UTC day: the offset at its midnight, in seconds
    cdef long long[:] changes  # the days within which the offset changes, ascending

    def __cinit__(self, tz):
        offsets = array("q")
        changes = array("q")
        previous = None
        for day in range(HORIZON_DAYS):
            offset = int(datetime.fromtimestamp(day * DAY, tz).utcoffset().total_seconds())
            offsets.append(offset)
            if previous is not None and offset != previous:
                changes.append(day - 1)
            previous = offset
        changes.append(HORIZON_DAYS)  # a sentinel: nothing is known beyond
        self.offsets = offsets
        self.changes = changes

    cdef bint steady(self, long long first_day, long long last_day):
        """True when the offset stays the same from first_day to last_day (UTC days)."""
        if first_day < 0 or last_day >= HORIZON_DAYS - 1:
            return False
        cdef Py_ssize_t lo = 0, hi = self.changes.shape[0], mid
        while lo < hi:  # the first change at or after first_day
            mid = (lo + hi) // 2
            if self.changes[mid] < first_day:
                lo = mid + 1
            else:
                hi = mid
        return self.changes[lo] > last_day


cdef _ZoneOffsets _zone_offsets(object tz):
    found = _ZONES.get(tz)
    if found is None:
        found = _ZONES[tz] = _ZoneOffsets(tz)
    return found


cdef inline long long _floor_div(long long a, long long b):
    cdef long long q = a // b
    if (a % b != 0) and ((a < 0) != (b < 0)):
        q -= 1
    return q


cdef inline bint _whole_seconds(double t, long long* seconds, long long* micros):
    """datetime.fromtimestamp's split of ``t`` (not negative) into seconds and
    microseconds, rounded half to even."""
    cdef double whole
    cdef double us = nearbyint(modf(t, &whole) * 1e6)
    if us >= 1e6:
        us -= 1e6
        whole += 1.0
    seconds[0] = <long long>whole
    micros[0] = <long long>us
    return True


cdef double _steady_add_days(_ZoneOffsets zone, double start, long long days):
    """events.timeutil.add_natural_days where the offset is steady; NaN elsewhere."""
    if not (0.0 <= start < HORIZON_DAYS * DAY) or days < 0 or days > 100000:
        return NONE
    cdef long long seconds, micros
    _whole_seconds(start, &seconds, &micros)
    cdef long long total = (seconds + days * DAY) * 1000000 + micros
    if total >= EXACT_MICROS:
        return NONE
    if not zone.steady(_floor_div(seconds, DAY) - 2, _floor_div(seconds, DAY) + days + 2):
        return NONE
    return <double>total / 1000000.0


cdef double _steady_end_of_day(_ZoneOffsets zone, double at):
    """events.timeutil.end_of_local_day where the offset is steady; NaN elsewhere."""
    if not (0.0 <= at < (HORIZON_DAYS - 3) * DAY):
        return NONE
    cdef long long seconds, micros
    _whole_seconds(at, &seconds, &micros)
    cdef long long utc_day = _floor_div(seconds, DAY)
    if not zone.steady(utc_day - 2, utc_day + 2):
        return NONE
    cdef long long offset = zone.offsets[utc_day]
    cdef long long local_day = _floor_div(seconds + offset, DAY)
    return <double>((local_day + 1) * DAY - offset)


# -- per-quarter-hour calendar look-ups (metrics.delta._per_quarter) --------------------


cdef inline object _quarter(double at):
    """metrics.delta._quarter: Python's divmod(at, 900) for a float, then the edge test."""
    cdef double mod = fmod(at, QUARTER_SECONDS)
    cdef double div = (at - mod) / QUARTER_SECONDS
    cdef double floordiv
    if mod != 0.0:
        if (QUARTER_SECONDS < 0) != (mod < 0):
            mod += QUARTER_SECONDS
            div -= 1.0
    else:
        mod = copysign(0.0, QUARTER_SECONDS)
    if div != 0.0:
        floordiv = floor(div)
        if div - floordiv > 0.5:
            floordiv += 1.0
    else:
        floordiv = copysign(0.0, at / QUARTER_SECONDS)
    if 1e-6 < mod < QUARTER_SECONDS - 1e-6:
        return int(floordiv)
    return None


cdef object _MISSING = object()


cdef class _PerQuarter:
    """``compute(at, tz)`` looked up once per UTC quarter hour, computed directly
    where it changes within the quarter or ``at`` lies on the quarter's edge."""

    cdef object compute
    cdef object tz
    cdef dict cache

    def __cinit__(self, compute, tz):
        self.compute = compute
        self.tz = tz
        self.cache = {}

    cdef object lookup(self, double at):
        quarter = _quarter(at)
        if quarter is None:
            return self.compute(at, self.tz)
        cached = self.cache.get(quarter, _MISSING)
        if cached is _MISSING:
            if len(self.cache) >= CACHE_LIMIT:
                self.cache.clear()
            first = self.compute(quarter * QUARTER, self.tz)
            cached = first if self.compute(quarter * QUARTER + QUARTER - 1, self.tz) == first else None
            self.cache[quarter] = cached
        if cached is None:
            return self.compute(at, self.tz)
        return cached


# -- the batch ---------------------------------------------------------------------------


cdef class _TeamFlows:
    cdef long long counts[2][N_STAGES]


cdef class _HourFlows:
    """Stage entries (0) and exits (1) of one local hour, in all and per team."""

    cdef long long hour
    cdef long long counts[2][N_STAGES]
    cdef dict teams
    cdef str last_team
    cdef _TeamFlows last

    def __cinit__(self, long long hour):
        self.hour = hour
        self.teams = {}

    cdef void add(self, int direction, int stage, str team):
        cdef _TeamFlows flows
        self.counts[direction][stage] += 1
        if self.last is not None and (team is self.last_team or team == self.last_team):
            flows = self.last
        else:
            flows = self.teams.get(team)
            if flows is None:
                flows = _TeamFlows()
                self.teams[team] = flows
            self.last = flows
            self.last_team = team
        flows.counts[direction][stage] += 1


cdef class _TeamKeys:
    cdef str wip
    cdef str handlers
    cdef str deadlines
    cdef str follow_ups
    cdef str opened
    cdef str paused
    cdef tuple flow_fields  # "<in|out>:<stage>|<team>", in by stage, then out


cdef class _HandlerKeys:
    cdef str load
    cdef str follow_ups


cdef class CompiledKernel:
    """metrics.kernel.api.BatchKernel, compiled."""

    cdef readonly str name
    cdef readonly object tz
    cdef readonly object rules
    cdef _PerQuarter hour_start
    cdef _PerQuarter local_day
    cdef dict team_keys
    cdef dict handler_keys
    cdef dict hour_keys
    cdef dict award_keys
    cdef dict points
    cdef dict written  # case id -> the last state a run of this kernel wrote for it
    cdef tuple flow_fields
    cdef long long last_quarter
    cdef long long last_hour
    cdef _ZoneOffsets zone

    def __init__(self, tz, rules=s.DEFAULT_RULES):
        self.name = "compiled"
        self.tz = tz
        self.rules = rules
        self.hour_start = _PerQuarter(hour_start, tz)
        self.local_day = _PerQuarter(local_date, tz)
        self.team_keys = {}
        self.handler_keys = {}
        self.hour_keys = {}
        self.award_keys = {}
        self.points = {}
        self.written = {}
        self.flow_fields = tuple(
            f"{direction}:{stage}" for direction in ("in", "out") for stage in c.STAGES
        )
        self.last_quarter = -1
        self.last_hour = 0
        self.zone = _zone_offsets(tz)

    def cache_fill(self):
        """How full each bounded cache is (entries), for memory benchmarks."""
        return {
            "written_states": len(self.written),
            "team_keys": len(self.team_keys),
            "handler_keys": len(self.handler_keys),
            "hour_keys": len(self.hour_keys),
            "award_keys": len(self.award_keys),
            "points": len(self.points),
            "hour_start": len(self.hour_start.cache),
            "local_day": len(self.local_day.cache),
        }

    def forget_written(self):
        """Empty the cache of written states: the next runs decode their states
        again. For memory benchmarks, which compare snapshots with the cache at
        the same (empty) fill."""
        self.written.clear()

    # -- the interface -----------------------------------------------------------------

    def decode_all(self, records):
        cdef list out = []
        cdef KEvent ev
        for record in records:
            ev = _fast_decode(record.value)
            if ev is not None:
                out.append((record, ev, None))
                continue
            try:
                out.append((record, _from_case_event(decode(record.value)), None))
            except InvalidEvent as exc:
                out.append((record, None, exc.reason))
        return out

    def decode_state(self, str case_id, raw):
        """The state stored as ``raw``. When it is the very form a run of this
        kernel wrote, the state that run left is given back (it is never
        changed after its run), with the deadline and footprint it knows."""
        cdef KState last = self.written.get(case_id)
        if last is not None and type(raw) is bytes and last.encoded == raw:
            return last
        return _decode_state(case_id, raw)

    cdef void remember(self, KState st):
        """Keep ``st`` as its case's last written state. The cache keeps the
        states written last: when full, the quarter written longest ago goes
        (a case comes back after thousands of other events; emptying it all
        would decode every case again)."""
        cdef dict written = self.written
        written.pop(st.case_id, None)  # re-inserted last: the order is of writing
        if len(written) >= WRITTEN_STATES:
            for case_id in list(islice(written, WRITTEN_STATES // 4)):
                del written[case_id]
        written[st.case_id] = st

    def run(self, decoded, states, double now):
        cdef _Run run = _Run(self, now)
        cdef dict current = dict(states)
        cdef dict initial = dict(current)
        cdef KEvent ev
        cdef KState before
        for item in decoded:
            record = item[0]
            if item[1] is None:
                run.invalid.append((record, item[2] or "invalid"))
                continue
            ev = <KEvent>item[1]
            before = current.get(ev.case_id)
            after = run.apply(before, ev, record)
            if after is not None:
                current[ev.case_id] = after
        run.count_events()
        cdef KState old, new
        for case_id, state in current.items():
            old = initial.get(case_id)
            if state is old:
                continue
            new = <KState>state
            run.move_case(case_id, old, new)
            run.new_states[case_id] = new
        run.expand()
        return run.output()

    # -- keys --------------------------------------------------------------------------

    cdef _TeamKeys keys_of_team(self, str team):
        cdef _TeamKeys k = self.team_keys.get(team)
        if k is not None:
            return k
        if len(self.team_keys) >= CACHE_LIMIT:
            self.team_keys.clear()
        k = _TeamKeys()
        k.wip = keys.TEAM_WIP.format(team)
        k.handlers = keys.TEAM_HANDLERS.format(team)
        k.deadlines = keys.TEAM_DEADLINES.format(team)
        k.follow_ups = keys.TEAM_FOLLOW_UPS.format(team)
        k.opened = keys.TEAM_OPENED.format(team)
        k.paused = keys.TEAM_PAUSED.format(team)
        k.flow_fields = tuple(
            f"{direction}:{stage}|{team}" for direction in ("in", "out") for stage in c.STAGES
        )
        self.team_keys[team] = k
        return k

    cdef _HandlerKeys keys_of_handler(self, str handler):
        cdef _HandlerKeys k = self.handler_keys.get(handler)
        if k is not None:
            return k
        if len(self.handler_keys) >= CACHE_LIMIT:
            self.handler_keys.clear()
        k = _HandlerKeys()
        k.load = keys.HANDLER_LOAD.format(handler)
        k.follow_ups = keys.HANDLER_FOLLOW_UPS.format(handler)
        self.handler_keys[handler] = k
        return k

    cdef inline str flow_field(self, int direction, int stage):
        return self.flow_fields[direction * N_STAGES + stage]

    cdef long long hour_of(self, double at):
        """metrics.delta._hour_start, with the last quarter hour's answer at hand."""
        cdef double quarter = floor(at / QUARTER_SECONDS)
        cdef double into = at - quarter * QUARTER_SECONDS
        if (
            <long long>quarter == self.last_quarter
            and 1e-5 < into < QUARTER_SECONDS - 1e-5
        ):
            return self.last_hour
        cdef long long hour = self.hour_start.lookup(at)
        q = _quarter(at)
        if q is not None and self.hour_start.cache.get(q) is not None:
            self.last_quarter = q
            self.last_hour = hour
        return hour

    cdef str hour_key(self, object hour):
        key = self.hour_keys.get(hour)
        if key is None:
            if len(self.hour_keys) >= CACHE_LIMIT:
                self.hour_keys.clear()
            key = keys.throughput_hour(hour)
            self.hour_keys[hour] = key
        return key

    cdef tuple keys_of_awards(self, double at):
        day = self.local_day.lookup(at)
        found = self.award_keys.get(day)
        if found is None:
            if len(self.award_keys) >= CACHE_LIMIT:
                self.award_keys.clear()
            found = _award_keys(day)
            self.award_keys[day] = found
        return found

    # -- scoring -----------------------------------------------------------------------

    cdef object weighted_points(self, object rules, str rule, object satisfaction, str category):
        """events.scoring: the rule's points (for satisfaction, those of the score)
        times the category's weight, normalised; cached per rule set."""
        key = (id(rules), rule, satisfaction, category)
        cached = self.points.get(key)
        if cached is not None and cached[0] is rules:
            return cached[1]
        if rule == s.SATISFACTION:
            points = rules.satisfaction.get(satisfaction, 0)
        else:
            points = getattr(rules, rule)
        weighted = s.normalise_points(points * rules.weight(category))
        if len(self.points) >= CACHE_LIMIT:
            self.points.clear()
        self.points[key] = (rules, weighted)
        return weighted

    # -- calendar ----------------------------------------------------------------------

    cdef double fixed_deadline(self, KState st):
        """events.clock._fixed_deadline of the state's clock, kept with the state."""
        if not isnan(st.fixed_deadline):
            return st.fixed_deadline
        cdef double added = NONE, due = NONE
        if type(st.limit_days) is int:
            added = _steady_add_days(self.zone, st.start, st.limit_days)
        if not isnan(added):
            due = _steady_end_of_day(self.zone, added + st.paused_total)
        if isnan(due):
            due = _fixed_deadline(st.start, st.limit_days, st.paused_total, self.tz)
        st.fixed_deadline = due
        return due

    cdef double deadline_base(self, KState st):
        """events.clock.deadline_base: start + the limit in natural days + paused time."""
        cdef double added = NONE
        if type(st.limit_days) is int:
            added = _steady_add_days(self.zone, st.start, st.limit_days)
        if isnan(added):
            added = add_natural_days(st.start, st.limit_days, self.tz)
        return added + st.paused_total

    cdef KFoot footprint(self, KState st):
        """events.projection.footprint, kept with the state."""
        if st is None:
            return None
        if st.foot_tz is self.tz:
            return st.foot
        cdef KFoot fp = None
        if st.status == OPEN:
            fp = KFoot.__new__(KFoot)
            fp.stage = st.stage
            fp.team = st.team_id
            fp.handler = st.handler_id
            if isnan(st.paused_since) and isnan(st.decided_at):
                fp.deadline = self.fixed_deadline(st)
            else:
                fp.deadline = NONE
            fp.has_paused = isnan(st.decided_at) and not isnan(st.paused_since)
            if fp.has_paused:
                fp.paused_base = self.deadline_base(st)
                fp.paused_since = st.paused_since
            fp.follow_up_due = st.follow_up_due if not st.follow_up_done else NONE
            fp.major = st.priority == MAJOR or (
                st.group_size is not None and st.group_size >= GROUP_COMPLAINT_SIZE
            )
            fp.urgent = st.priority == URGENT
            fp.regulator = st.escalated_to_regulator
            fp.opened_at = st.opened_at
        st.foot = fp
        st.foot_tz = self.tz
        return fp


cdef inline void _close_pause(KState st, double at):
    if not isnan(st.paused_since) and isnan(st.decided_at):
        st.paused_total += max(0.0, at - st.paused_since)
        st.fixed_deadline = NONE
    st.paused_since = NONE


cdef inline double _max0(double x):
    # max(0.0, x) as Python computes it: 0.0 unless x is greater.
    return x if x > 0.0 else 0.0


cdef class _Run:
    """One run of a batch: the aggregates it builds (metrics.delta.MetricsDelta)."""

    cdef CompiledKernel kernel
    cdef double now
    cdef dict zincr
    cdef dict zadd
    cdef dict zrem
    cdef dict expire_at
    cdef dict teams
    cdef dict states
    cdef dict counters  # key -> field -> amount
    cdef dict flows  # hour -> _HourFlows
    cdef _HourFlows last_flows
    cdef long long stage_seconds[N_STAGES]
    cdef long long stage_exits[N_STAGES]
    cdef long long stage_bins[N_STAGES][N_BINS]
    cdef long applied
    cdef long duplicates
    cdef long gaps
    cdef list invalid
    cdef dict new_states

    def __cinit__(self, CompiledKernel kernel, double now):
        self.kernel = kernel
        self.now = now
        self.zincr = {}
        self.zadd = {}
        self.zrem = {}
        self.expire_at = {}
        self.teams = {}
        self.states = {}
        self.counters = {}
        self.flows = {}
        self.invalid = []
        self.new_states = {}

    cdef CompiledOutput output(self):
        cdef CompiledOutput out = CompiledOutput.__new__(CompiledOutput)
        out.applied = self.applied
        out.duplicates = self.duplicates
        out.gaps = self.gaps
        out.invalid = self.invalid
        out.states = self.new_states
        out.counters = self.counters
        out.zincr = self.zincr
        out.zadd = self.zadd
        out.zrem = self.zrem
        out.expire_at = self.expire_at
        out.teams = self.teams
        out.encoded = self.states
        return out

    # -- the state machine (events.machine) ------------------------------------------------

    cdef KState apply(self, KState before, KEvent ev, object record):
        """Checks 2 to 4 of one event; the new state, or None if not applied."""
        if before is not None and ev.seq <= before.last_seq:
            self.duplicates += 1
            return None
        reason = _state_breach(before, ev)
        if reason is not None:
            self.invalid.append((record, reason))
            return None
        self.applied += 1
        cdef KState new
        cdef double at = ev.occurred_at
        if before is None:
            new = _open(ev)
            self.flow(True, INTAKE, new.team_id, at)
            return new
        new = before.copy()
        if ev.seq - before.last_seq - 1 > 0:
            self.gaps += 1
        new.last_seq = ev.seq
        cdef int etype = ev.etype
        cdef str team = before.team_id
        cdef str to_stage
        if etype == ASSIGNED:
            new.team_id = ev.team_id
            new.handler_id = ev.handler_id
        elif etype == STAGE_CHANGED:
            to_stage = ev.to_stage
            new.stage = to_stage
            new.stage_entered_at = at
            self.flow(True, to_stage, team, at)
            self.exit(before, at)
            if STAGE_INDEX[to_stage] < STAGE_INDEX[before.stage]:
                new.rework_count = new.rework_count + 1
                self.award(before, ev, s.REWORK)
        elif etype == CLOCK_PAUSED:
            new.paused_since = at
        elif etype == CLOCK_RESUMED:
            _close_pause(new, at)
        elif etype == DEADLINE_EXTENDED:
            if isnan(before.decided_at):
                limit = TIER_LIMIT_DAYS[ev.tier]
                new.limit_days = max(new.limit_days, limit)
                new.fixed_deadline = NONE
        elif etype == DECISION_MADE:
            if isnan(before.decided_at):
                _close_pause(new, at)
                new.decided_at = at
                if at <= self.kernel.fixed_deadline(new):
                    self.award(before, ev, s.DECISION_ON_TIME)
                else:
                    self.award(before, ev, s.DECISION_LATE)
        elif etype == FOLLOW_UP_SCHEDULED:
            new.follow_up_due = ev.due_at
            new.follow_up_done = False
        elif etype == FOLLOW_UP_DONE:
            if not isnan(before.follow_up_due) and not before.follow_up_done:
                new.follow_up_done = True
                if at <= before.follow_up_due:
                    self.award(before, ev, s.FOLLOW_UP_ON_TIME)
                else:
                    self.award(before, ev, s.FOLLOW_UP_LATE)
            self.satisfaction(before, new, ev)
        elif etype == ESCALATED:
            if ev.to == REGULATOR:
                new.escalated_to_regulator = True
                self.award(before, ev, s.ESCALATED_TO_REGULATOR)
        elif etype == CLOSED_EVENT:
            self.exit(before, at)
            new.status = CLOSED
            new.closed_at = at
            _close_pause(new, at)
            self.satisfaction(before, new, ev)
        elif etype == REOPENED:
            new.status = OPEN
            new.closed_at = NONE
            new.reopen_count = new.reopen_count + 1
            if ev.new_facts:
                new.start = at
                new.limit_days = REOPEN_LIMIT_DAYS
                new.paused_total = 0.0
                new.paused_since = NONE
                new.decided_at = NONE
                new.fixed_deadline = NONE
            else:
                new.decided_at = NONE
            new.stage = INVESTIGATION
            new.stage_entered_at = at
            self.flow(True, INVESTIGATION, team, at)
            self.award(before, ev, s.REOPENED)
        return new

    cdef void satisfaction(self, KState before, KState new, KEvent ev):
        """Rule 5: only the first satisfaction given for a case scores."""
        value = ev.satisfaction
        if value is None or before.satisfaction_given:
            return
        new.satisfaction_given = True
        self.award(before, ev, s.SATISFACTION, value)

    cdef void award(self, KState before, KEvent ev, str rule, object satisfaction=None):
        """The handler the case is assigned to when the event happens earns the
        rule's points (for satisfaction, those of the score given), weighted by
        the case's category, by the rules in force when it happens."""
        rules = self.kernel.rules.rules_at(ev.occurred_at)
        weighted = self.kernel.weighted_points(rules, rule, satisfaction, before.category)
        if weighted == 0:
            return
        cdef str handler = before.handler_id
        cdef str team = before.team_id
        latest = (_award_stamp(ev.occurred_at, ev.event_id), team)
        zincr = self.zincr
        for handler_board, team_board, teams_keys in self.kernel.keys_of_awards(ev.occurred_at):
            k = (handler_board, handler)
            zincr[k] = zincr.get(k, 0.0) + weighted
            k = (team_board, team)
            zincr[k] = zincr.get(k, 0.0) + weighted
            handlers = self.teams.get(teams_keys)
            if handlers is None:
                handlers = self.teams[teams_keys] = {}
            current = handlers.get(handler)
            if current is None or latest > current:
                handlers[handler] = latest

    # -- flows (metrics.delta.MetricsDelta.add_flows) -------------------------------------

    cdef void flow(self, bint entering, str stage, str team, double at):
        cdef long long hour = self.kernel.hour_of(at)
        cdef long long expires = hour + RETENTION_SECONDS
        if <double>expires <= self.now:
            return
        cdef int direction = 0 if entering else 1
        cdef object index = STAGE_INDEX.get(stage)
        cdef _HourFlows flows
        if index is None:
            # A stage outside the contract's (a state written by other means).
            key = self.kernel.hour_key(hour)
            name = "in" if entering else "out"
            self.incr(key, f"{name}:{stage}", 1)
            self.incr(key, f"{name}:{stage}|{team}", 1)
            self.expire_at[key] = expires
            return
        if self.last_flows is not None and self.last_flows.hour == hour:
            flows = self.last_flows
        else:
            flows = self.flows.get(hour)
            if flows is None:
                flows = _HourFlows(hour)
                self.flows[hour] = flows
            self.last_flows = flows
        flows.add(direction, <int>index, team)

    cdef void exit(self, KState before, double at):
        cdef double spent = _max0(at - before.stage_entered_at)
        cdef str stage = before.stage
        self.flow(False, stage, before.team_id, at)
        cdef object index = STAGE_INDEX.get(stage)
        cdef long long rounded = <long long>nearbyint(spent)
        cdef int i
        if index is None:
            self.incr(K_STAGE_TIME, stage + ":sum", rounded)
            self.incr(K_STAGE_TIME, stage + ":n", 1)
            self.incr(K_STAGE_TIME, stage + ":" + STAGE_TIME_BIN_NAMES[_stage_time_bin(spent)], 1)
            return
        i = <int>index
        self.stage_seconds[i] += rounded
        self.stage_exits[i] += 1
        self.stage_bins[i][_stage_time_bin(spent)] += 1

    cdef void incr(self, str key, str field, long long amount):
        cdef dict fields = self.counters.get(key)
        if fields is None:
            fields = self.counters[key] = {}
        fields[field] = fields.get(field, 0) + amount

    cdef void expand(self):
        """The batch's counts as the pure core aggregates them: (key, field) -> amount."""
        cdef _HourFlows flows
        cdef _TeamFlows team_flows
        cdef int d, i, b
        kernel = self.kernel
        for hour, flows in self.flows.items():
            key = kernel.hour_key(hour)
            for d in range(2):
                for i in range(N_STAGES):
                    if flows.counts[d][i]:
                        self.incr(key, kernel.flow_field(d, i), flows.counts[d][i])
            for team, team_flows in flows.teams.items():
                fields = kernel.keys_of_team(team).flow_fields
                for d in range(2):
                    for i in range(N_STAGES):
                        if team_flows.counts[d][i]:
                            self.incr(key, fields[d * N_STAGES + i], team_flows.counts[d][i])
            self.expire_at[key] = flows.hour + RETENTION_SECONDS
        for i in range(N_STAGES):
            if self.stage_exits[i]:
                names = STAGE_TIME_FIELDS[i]
                self.incr(K_STAGE_TIME, names[0], self.stage_seconds[i])
                self.incr(K_STAGE_TIME, names[1], self.stage_exits[i])
                for b in range(N_BINS):
                    if self.stage_bins[i][b]:
                        self.incr(K_STAGE_TIME, names[2 + b], self.stage_bins[i][b])

    cdef void count_events(self):
        for name, n in (
            ("applied", self.applied),
            ("duplicates", self.duplicates),
            ("invalid", len(self.invalid)),
            ("gaps", self.gaps),
        ):
            if n:
                self.incr(K_EVENTS, name, n)

    # -- live contributions (metrics.delta.MetricsDelta.move_case) -------------------------

    cdef void move_case(self, str case_id, KState before, KState after):
        cdef KFoot old = self.kernel.footprint(before)
        cdef KFoot new = self.kernel.footprint(after)
        if not _same_foot(old, new):
            self.move_counters(old, new)
            self.move_indexes(case_id, old, new)
        encoded = _lasting(_encode_state(after))  # kept with the state in ``written``
        after.encoded = encoded
        self.states[CASE_PREFIX + case_id] = encoded
        self.kernel.remember(after)

    cdef void move_counters(self, KFoot old, KFoot new):
        cdef _TeamKeys ot, nt
        cdef _HandlerKeys oh, nh
        cdef bint same_team = False, same_handler = False, same_stage = False
        if old is not None and new is not None:
            same_team = old.team == new.team
            same_handler = old.handler == new.handler
            same_stage = old.stage == new.stage
        if old is not None:
            ot = self.kernel.keys_of_team(old.team)
            oh = self.kernel.keys_of_handler(old.handler)
            if not same_stage:
                self.incr(K_WIP, old.stage, -1)
            if not same_team:
                self.incr(K_TEAM_OPEN, old.team, -1)
            if not (same_team and same_stage):
                self.incr(ot.wip, old.stage, -1)
            if not (same_team and same_handler):
                self.incr(ot.handlers, old.handler, -1)
            if not same_handler:
                self.incr(oh.load, "open", -1)
            if old.urgent and not (same_handler and new.urgent):
                self.incr(oh.load, "urgent", -1)
            if old.major and not (same_handler and new.major):
                self.incr(oh.load, "major", -1)
            if old.regulator and not (same_handler and new.regulator):
                self.incr(oh.load, "regulator", -1)
        if new is not None:
            nt = self.kernel.keys_of_team(new.team)
            nh = self.kernel.keys_of_handler(new.handler)
            if not same_stage:
                self.incr(K_WIP, new.stage, 1)
            if not same_team:
                self.incr(K_TEAM_OPEN, new.team, 1)
            if not (same_team and same_stage):
                self.incr(nt.wip, new.stage, 1)
            if not (same_team and same_handler):
                self.incr(nt.handlers, new.handler, 1)
            if not same_handler:
                self.incr(nh.load, "open", 1)
            if new.urgent and not (same_handler and old.urgent):
                self.incr(nh.load, "urgent", 1)
            if new.major and not (same_handler and old.major):
                self.incr(nh.load, "major", 1)
            if new.regulator and not (same_handler and old.regulator):
                self.incr(nh.load, "regulator", 1)

    cdef void move_indexes(self, str case_id, KFoot old, KFoot new):
        cdef _TeamKeys ot = None, nt = None
        cdef _HandlerKeys oh = None, nh = None
        cdef bint o = old is not None
        cdef bint n = new is not None
        if o:
            ot = self.kernel.keys_of_team(old.team)
            oh = self.kernel.keys_of_handler(old.handler)
        if n:
            nt = self.kernel.keys_of_team(new.team)
            nh = self.kernel.keys_of_handler(new.handler)
        self.index(
            case_id,
            K_OPENED, o, old.opened_at if o else NONE,
            K_OPENED, n, new.opened_at if n else NONE,
        )
        self.index(
            case_id,
            ot.opened if o else None, o, old.opened_at if o else NONE,
            nt.opened if n else None, n, new.opened_at if n else NONE,
        )
        cdef bint od = o and not isnan(old.deadline)
        cdef bint nd = n and not isnan(new.deadline)
        self.index(
            case_id,
            K_DEADLINES, od, old.deadline if od else NONE,
            K_DEADLINES, nd, new.deadline if nd else NONE,
        )
        self.index(
            case_id,
            ot.deadlines if o else None, od, old.deadline if od else NONE,
            nt.deadlines if n else None, nd, new.deadline if nd else NONE,
        )
        cdef bint of = o and not isnan(old.follow_up_due)
        cdef bint nf = n and not isnan(new.follow_up_due)
        self.index(
            case_id,
            K_FOLLOW_UPS, of, old.follow_up_due if of else NONE,
            K_FOLLOW_UPS, nf, new.follow_up_due if nf else NONE,
        )
        self.index(
            case_id,
            ot.follow_ups if o else None, of, old.follow_up_due if of else NONE,
            nt.follow_ups if n else None, nf, new.follow_up_due if nf else NONE,
        )
        self.index(
            case_id,
            oh.follow_ups if o else None, of, old.follow_up_due if of else NONE,
            nh.follow_ups if n else None, nf, new.follow_up_due if nf else NONE,
        )
        cdef bint op = o and old.has_paused
        cdef bint np = n and new.has_paused
        cdef double od_ = old.paused_base - old.paused_since if op else NONE
        cdef double nd_ = new.paused_base - new.paused_since if np else NONE
        self.index(case_id, K_PAUSED, op, od_, K_PAUSED, np, nd_)
        self.index(
            case_id,
            ot.paused if o else None, op, od_,
            nt.paused if n else None, np, nd_,
        )

    cdef void index(
        self,
        str case_id,
        str old_key, bint old_has, double old_score,
        str new_key, bint new_has, double new_score,
    ):
        """One index entry of a case moves from (old_key, old_score) to (new_key, new_score)."""
        cdef bint same_key = old_has and new_has and old_key == new_key
        if old_has and not same_key:
            members = self.zrem.get(old_key)
            if members is None:
                members = self.zrem[old_key] = set()
            members.add(case_id)
        if new_has and not (same_key and old_score == new_score):
            scores = self.zadd.get(new_key)
            if scores is None:
                scores = self.zadd[new_key] = {}
            scores[case_id] = new_score


cdef object _award_stamp(double occurred_at, str event_id):
    """metrics.delta.award_stamp: occurred_at in whole microseconds, 18 digits,
    a colon, the event id."""
    cdef double micros = nearbyint(occurred_at * 1000000.0)
    if not (0.0 <= micros < 1e18):
        return award_stamp(occurred_at, event_id)  # its error
    cdef char digits[24]
    snprintf(digits, sizeof(digits), "%018lld:", <long long>micros)
    return digits[:19].decode("ascii") + event_id


cdef int _stage_time_bin(double seconds):
    """metrics.delta.stage_time_bin, as an index into STAGE_TIME_BIN_NAMES."""
    cdef double hours = seconds / 3600
    cdef int i
    for i in range(N_BINS - 1):
        if hours < STAGE_TIME_BOUNDS_C[i]:
            return i
    return N_BINS - 1


cdef object _state_breach(KState st, KEvent ev):
    """events.machine._check_state: the reason an event breaks the case's state rules."""
    cdef int etype = ev.etype
    cdef str name = _TYPE_NAMES[etype]
    if st is None:
        if etype != OPENED:
            return f"unknown case '{ev.case_id}': {name} before case.opened"
        return None
    if etype == OPENED:
        return f"case '{ev.case_id}' is already opened"
    if st.status == CLOSED and etype != REOPENED:
        return f"case '{ev.case_id}' is closed: {name} needs case.reopened first"
    if etype == REOPENED and st.status == OPEN:
        return f"case '{ev.case_id}' is open and cannot be reopened"
    if etype == CLOCK_PAUSED and not isnan(st.paused_since):
        return f"the decision clock of case '{ev.case_id}' is already paused"
    if etype == CLOCK_RESUMED and isnan(st.paused_since):
        return f"the decision clock of case '{ev.case_id}' is not paused"
    if etype == STAGE_CHANGED and ev.to_stage == st.stage:
        return f"case '{ev.case_id}' is already in stage '{st.stage}'"
    return None


cdef class CompiledOutput:
    """metrics.kernel.api.KernelOutput: what a run did, and its writes as the
    apply script takes them (metrics.writer.delta_payload, state_writes and
    written_keys, for the aggregates this kernel keeps)."""

    cdef readonly long applied
    cdef readonly long duplicates
    cdef readonly long gaps
    cdef readonly list invalid
    cdef readonly dict states
    cdef dict counters  # key -> field -> amount
    cdef dict zincr  # (key, member) -> points
    cdef dict zadd  # key -> member -> score
    cdef dict zrem  # key -> members
    cdef dict expire_at  # key -> epoch seconds
    cdef dict teams  # (teams key, stamps key) -> handler -> (stamp, team)
    cdef dict encoded  # state key -> stored form

    def payload(self, rpush):
        cdef list hincr = []
        cdef list flat
        for key, fields in self.counters.items():
            for field, amount in (<dict>fields).items():
                if amount:
                    hincr.append([key, field, str(amount)])
        zadd = {}
        for key, scores in self.zadd.items():
            if scores:
                flat = []
                for member, score in (<dict>scores).items():
                    flat.append(repr(score))
                    flat.append(member)
                zadd[key] = flat
        teams = []
        for pair, handlers in self.teams.items():
            if handlers:
                flat = list(pair)
                for handler, latest in (<dict>handlers).items():
                    flat.append(handler)
                    flat.append(latest[0])
                    flat.append(latest[1])
                teams.append(flat)
        return _dumps(
            {
                "zrem": {key: sorted(members) for key, members in self.zrem.items() if members},
                "zadd": zadd,
                "hdel": {},
                "hset": {},
                "hincr": hincr,
                "zincr": [[key, member, repr(points)] for (key, member), points in self.zincr.items()],
                "expireat": [[key, str(when)] for key, when in self.expire_at.items()],
                "teams": teams,
                "rpush": {
                    key: [value.decode() for value in values]
                    for key, values in rpush.items()
                    if values
                },
            }
        )

    def written_keys(self, rpush):
        cdef set touched = set()
        for key, members in self.zrem.items():
            if members:
                touched.add(key)
        for key, scores in self.zadd.items():
            if scores:
                touched.add(key)
        for key, values in rpush.items():
            if values:
                touched.add(key)
        for key, fields in self.counters.items():
            for amount in (<dict>fields).values():
                if amount:
                    touched.add(key)
                    break
        for key, _ in self.zincr:
            touched.add(key)
        touched.update(self.expire_at)
        for pair, handlers in self.teams.items():
            if handlers:
                touched.update(pair)
        return sorted(touched)

    def states_written(self):
        return list(self.encoded), list(self.encoded.values())


cdef KState _open(KEvent ev):
    cdef KState st = KState.__new__(KState)
    st.case_id = ev.case_id
    st.last_seq = ev.seq
    st.status = OPEN
    st.stage = INTAKE
    st.stage_entered_at = ev.occurred_at
    st.team_id = ev.team_id
    st.handler_id = ev.handler_id
    st.opened_at = ev.occurred_at
    st.channel = ev.channel
    st.category = ev.category
    st.product_line = ev.product_line
    st.priority = ev.priority
    st.group_size = ev.group_size
    st.start = ev.occurred_at if isnan(ev.received_at) else ev.received_at
    st.limit_days = BASE_LIMIT_DAYS
    st.paused_total = 0.0
    st.paused_since = NONE
    st.decided_at = NONE
    st.follow_up_due = NONE
    st.follow_up_done = False
    st.satisfaction_given = False
    st.escalated_to_regulator = False
    st.closed_at = NONE
    st.reopen_count = 0
    st.rework_count = 0
    st.fixed_deadline = NONE
    return st
