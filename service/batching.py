"""In-worker dynamic batching: concurrent /forecast requests for one model share its calls.

Requests that can share a model call (the same module, horizon and internals mode, and a
state carried in all or none, scaled in all or none, exogenous inputs and series ids given
in all or none) queue in one lane, each with its own exogenous inputs. The first to find
its lane idle leads: it waits up to GATECAST_BATCH_DELAY_US for others, takes the queue in
arrival order up to GATECAST_BATCH_MAX sequences and GATECAST_MAX_REQUEST_STEPS LSTM steps,
runs them with one inference.run_parts (one model call per distinct length; a batch of one
is the unbatched inference.run), gives every request its own results and passes the lead
to the first request still queued. Requests that arrive while a call runs queue for the
next one, so calls grow with the load by themselves and a request that comes alone waits
for nothing.

No lock is held during a model call: a lane's `busy` flag keeps its calls one at a time.
When a combined call raises, its requests run again one by one, so only a bad one fails. A
leader always hands over (in a finally), and a follower that has waited `patience` seconds
runs its request on its own, so no request waits forever on a lost thread.
"""

import threading
import time
from collections import deque
from dataclasses import dataclass, field

from service import inference
from service.inference import SequenceResult
from service.metrics import Metrics
from service.request import ForecastRequest, steps_run

# Seconds a queued request waits for its results before it runs on its own: the costliest
# call GATECAST_MAX_REQUEST_STEPS allows takes under 10 s, a few queued ahead of it less
# than this, so it fires only for a lost leader.
PATIENCE = 60.0

# What must match for requests to share a call: module identity, horizon, internals mode,
# state carried, state scaled (loc and scale given), exogenous inputs given, series given.
LaneKey = tuple[int, int, str, bool, bool, bool, bool]


def lane_key(req: ForecastRequest) -> LaneKey:
    """The lane of a request: equal keys can run in one model call."""
    carried = req.state is not None
    scaled = req.state is not None and req.state.loc is not None
    exogenous, named = req.exog is not None, req.series is not None
    return (id(req.model.module), req.horizon, req.internals, carried, scaled, exogenous, named)


@dataclass(eq=False)
class Waiter:
    """One request in a lane, and what it gets back: its leader writes results or error,
    then marks it done under the batcher lock."""

    req: ForecastRequest
    part: inference.Part
    sequences: int
    steps: int  # LSTM steps it runs, for the per-call limit
    queued: float  # time.monotonic() when it joined the lane
    wake: threading.Event | None = None  # a follower's: set when done, or when it leads now
    leads: bool = False
    done: bool = False
    results: list[SequenceResult] | None = None
    error: BaseException | None = None


@dataclass(eq=False)
class Lane:
    """The requests waiting for one kind of call, and whether a leader is at work on it."""

    arrived: threading.Condition | None  # on the batcher lock, for a delay: new arrivals
    queue: deque[Waiter] = field(default_factory=deque)
    queued_sequences: int = 0  # over the queue: what a leader waiting out the delay counts
    queued_steps: int = 0
    busy: bool = False  # a leader is collecting or running a call


class Batcher:
    """Runs the forecasts of one app's request threads, batching those that can share."""

    def __init__(
        self,
        max_sequences: int,
        delay_us: int,
        max_steps: int,
        metrics: Metrics | None = None,
        patience: float = PATIENCE,
    ) -> None:
        if max_sequences < 1:
            raise ValueError(f"max_sequences must be at least 1, got {max_sequences}")
        self._max_sequences = max_sequences
        self._delay = delay_us / 1e6
        self._max_steps = max_steps
        self._metrics = metrics
        self._patience = patience
        self._lock = threading.Lock()
        self._lanes: dict[LaneKey, Lane] = {}

    def run(self, req: ForecastRequest) -> list[SequenceResult]:
        """The request's results, from a model call it may share; raises what its own
        unbatched call would raise."""
        lengths = [len(seq) for seq in req.sequences]
        steps = sum(steps_run(lengths, req.state is not None, req.horizon, req.model))
        part = inference.Part(
            req.sequences, req.state, req.offsets, req.return_state, req.exog, req.series
        )
        me = Waiter(req, part, len(lengths), steps, time.monotonic())
        key = lane_key(req)
        with self._lock:
            lane = self._lanes.get(key)
            if lane is None:
                arrived = threading.Condition(self._lock) if self._delay > 0 else None
                lane = self._lanes[key] = Lane(arrived)
            lane.queue.append(me)
            lane.queued_sequences += me.sequences
            lane.queued_steps += me.steps
            if lane.busy:
                me.wake = threading.Event()
                if lane.arrived is not None:
                    lane.arrived.notify()
            else:
                lane.busy = me.leads = True
        if not me.leads and not self._follow(lane, me):
            return self._alone(me)
        if not me.done:
            self._lead(key, lane, me)
        if me.error is not None:
            raise me.error
        assert me.results is not None  # done without an error
        return me.results

    def _follow(self, lane: Lane, me: Waiter) -> bool:
        """Wait until a leader has run this request or passed it the lead; False when it has
        waited too long and left the lane (its results, if they come, are dropped)."""
        assert me.wake is not None  # every follower has one
        me.wake.wait(self._patience)
        with self._lock:
            if me.done or me.leads:
                return True
            if me in lane.queue:
                lane.queue.remove(me)
                lane.queued_sequences -= me.sequences
                lane.queued_steps -= me.steps
            return False

    def _alone(self, me: Waiter) -> list[SequenceResult]:
        """Run one request on its own: the unbatched call."""
        return run_alone(me.req)

    def _lead(self, key: LaneKey, lane: Lane, me: Waiter) -> None:
        """Take a batch from the front of the lane, run it, and pass the lead on."""
        batch = [me]
        try:
            batch = self._take(lane, me)
            self._call(batch)
        finally:
            self._hand_over(key, lane, batch)

    def _take(self, lane: Lane, me: Waiter) -> list[Waiter]:
        """The leader and the requests queued after it, within the per-call limits, after
        waiting out the delay (or until the queue would fill a call)."""
        with self._lock:
            lane.queue.remove(me)  # the leader is at the front: the first queued, or alone
            lane.queued_sequences -= me.sequences
            lane.queued_steps -= me.steps
            if lane.arrived is not None:
                deadline = time.monotonic() + self._delay
                while (
                    me.sequences + lane.queued_sequences < self._max_sequences
                    and me.steps + lane.queued_steps < self._max_steps
                ):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    lane.arrived.wait(left)
            batch, sequences, steps = [me], me.sequences, me.steps
            while lane.queue:
                nxt = lane.queue[0]
                sequences += nxt.sequences
                steps += nxt.steps
                if sequences > self._max_sequences or steps > self._max_steps:
                    break
                batch.append(lane.queue.popleft())
                lane.queued_sequences -= nxt.sequences
                lane.queued_steps -= nxt.steps
            return batch

    def _call(self, batch: list[Waiter]) -> None:
        """Run a batch as one call; if it raises, run each request alone, so only the ones
        that fail alone get an error."""
        first = batch[0].req
        model = first.model
        started = time.monotonic()
        try:
            if len(batch) == 1:
                outputs = [self._alone(batch[0])]
            else:
                parts = [w.part for w in batch]
                outputs = inference.run_parts(
                    model.module, parts, first.horizon, first.internals, model.traits
                )
        except Exception as err:
            if len(batch) == 1:
                batch[0].error = err
            else:
                for w in batch:
                    try:
                        w.results = self._alone(w)
                    except Exception as own:
                        w.error = own
        else:
            for w, results in zip(batch, outputs, strict=True):
                w.results = results
        if self._metrics is not None:
            self._metrics.batch_ran(
                len(batch),
                sum(w.sequences for w in batch),
                time.monotonic() - started,
                [started - w.queued for w in batch],
            )

    def _hand_over(self, key: LaneKey, lane: Lane, batch: list[Waiter]) -> None:
        """Wake the batch's requests, and pass the lead to the first one queued (or leave
        the lane idle)."""
        with self._lock:
            for w in batch:
                if w.results is None and w.error is None:  # the leader was interrupted
                    w.error = RuntimeError("the batched model call did not finish")
                w.done = True
                if w.wake is not None:
                    w.wake.set()
            if lane.queue:
                nxt = lane.queue[0]
                nxt.leads = True
                assert nxt.wake is not None  # queued behind a leader: a follower
                nxt.wake.set()
            else:
                lane.busy = False
                del self._lanes[key]


def run_alone(req: ForecastRequest) -> list[SequenceResult]:
    """One request's results from its own model call: the unbatched path."""
    return inference.run(
        req.model.module,
        req.sequences,
        req.horizon,
        req.internals,
        req.state,
        req.offsets,
        req.return_state,
        req.model.traits,
        req.exog,
        req.series,
    )
