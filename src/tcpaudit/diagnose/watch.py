"""``--watch``: what changed since the first sample, and how soon the pool drains at that pace.

Each sample is a whole diagnosis; this module adds where it stands in the
series (``Sample``), the kernel counters' increase, and one sentence that
sets the measured growth against the rate the audit says exhausts the pool
(``derived.exhaustion_clients_per_second``: workers / the longest hold of a
stalled client). Growth of the accepted connections is growth of busy
workers on prefork and worker (one per connection); on event, or when it is
not known, the growth of CLOSE_WAIT stands for new stalled clients.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import Diagnosis, Sample

__all__ = ["Baseline", "busy_connections", "sample_progress", "waiting_close_wait"]


def waiting_close_wait(diagnosis: Diagnosis) -> int:
    """CLOSE_WAIT on the ports, whoever holds it."""
    c = diagnosis.connections
    return c.close_wait_unaccepted + c.close_wait_owned + c.close_wait_unknown


def busy_connections(diagnosis: Diagnosis) -> int | None:
    """Busy workers when counted, else None."""
    return diagnosis.workers.busy


def _queue(diagnosis: Diagnosis) -> int:
    return sum(listener.accept_queue for listener in diagnosis.listeners)


@dataclass(frozen=True)
class Baseline:
    """The first sample's numbers."""

    at: float
    close_wait: int
    queue: int
    busy: int | None
    listen_overflows: int | None
    listen_drops: int | None

    @classmethod
    def of(cls, diagnosis: Diagnosis, at: float) -> Baseline:
        kernel = diagnosis.kernel
        return cls(
            at=at,
            close_wait=waiting_close_wait(diagnosis),
            queue=_queue(diagnosis),
            busy=busy_connections(diagnosis),
            listen_overflows=kernel.listen_overflows if kernel else None,
            listen_drops=kernel.listen_drops if kernel else None,
        )


def _rate(now: int | None, then: int | None, seconds: float) -> float | None:
    if now is None or then is None or seconds <= 0:
        return None
    return round((now - then) / seconds, 3)


def _increase(now: int | None, then: int | None) -> int | None:
    return None if now is None or then is None else now - then


def sample_progress(
    diagnosis: Diagnosis, baseline: Baseline, at: float, index: int, count: int
) -> Diagnosis:
    """``diagnosis`` with its place in the series, the counters' increase and the growth sentence."""
    elapsed = round(at - baseline.at, 3)
    close_wait_rate = _rate(waiting_close_wait(diagnosis), baseline.close_wait, elapsed)
    queue_rate = _rate(_queue(diagnosis), baseline.queue, elapsed)
    busy_rate = _rate(busy_connections(diagnosis), baseline.busy, elapsed)
    exhaustion = diagnosis.derived.exhaustion_clients_per_second
    limit = diagnosis.workers.limit or diagnosis.derived.max_request_workers_effective
    drain = _drain_seconds(diagnosis, busy_rate, close_wait_rate, limit)
    sample = Sample(
        index=index,
        count=count,
        elapsed_seconds=elapsed,
        close_wait_per_second=close_wait_rate,
        accept_queue_per_second=queue_rate,
        held_per_second=busy_rate,
        drain_seconds=drain,
        exhaustion_clients_per_second=exhaustion,
    )
    kernel = diagnosis.kernel
    if kernel is not None:
        kernel = kernel.model_copy(
            update={
                "listen_overflows_increase": _increase(
                    kernel.listen_overflows, baseline.listen_overflows
                ),
                "listen_drops_increase": _increase(kernel.listen_drops, baseline.listen_drops),
            }
        )
    sentence = growth_sentence(
        sample, diagnosis, kernel.listen_overflows_increase if kernel else None
    )
    verdict = f"{diagnosis.verdict} {sentence}" if sentence else diagnosis.verdict
    return diagnosis.model_copy(update={"sample": sample, "kernel": kernel, "verdict": verdict})


def _drain_seconds(
    diagnosis: Diagnosis, busy_rate: float | None, close_wait_rate: float | None, limit: int | None
) -> float | None:
    """Seconds until every worker is taken at the measured pace; 0 when already drained."""
    busy = diagnosis.workers.busy
    if limit is None:
        return None
    if busy is not None and busy >= limit:
        return 0.0
    if busy is not None and busy_rate is not None and busy_rate > 0:
        return round((limit - busy) / busy_rate, 1)
    if busy is None and close_wait_rate is not None and close_wait_rate > 0:
        # No count of busy workers: each new stalled client is taken to hold one.
        return round(limit / close_wait_rate, 1)
    return None


def _per_second(rate: float) -> str:
    return f"{rate:+.2g}/s"


def growth_sentence(sample: Sample, diagnosis: Diagnosis, overflows: int | None) -> str:
    """How CLOSE_WAIT, the queue and busy workers moved since the first sample, in words."""
    if sample.index == 1 or sample.elapsed_seconds <= 0:
        return ""
    parts = []
    if sample.close_wait_per_second is not None:
        parts.append(f"CLOSE_WAIT {_per_second(sample.close_wait_per_second)}")
    if sample.accept_queue_per_second is not None and diagnosis.listeners:
        parts.append(f"accept queue {_per_second(sample.accept_queue_per_second)}")
    if sample.held_per_second is not None:
        parts.append(f"busy workers {_per_second(sample.held_per_second)}")
    text = f"Over {sample.elapsed_seconds:g} s ({sample.index} samples): " + ", ".join(parts)
    exhaustion = sample.exhaustion_clients_per_second
    growing = max(sample.close_wait_per_second or 0.0, sample.held_per_second or 0.0)
    if sample.drain_seconds == 0:
        text += "; the pool is drained"
    elif sample.drain_seconds is not None:
        text += f"; the pool drains in about {sample.drain_seconds:g} s at this rate"
    elif growing <= 0:
        text += "; nothing grows"
    if exhaustion is not None and growing > 0:
        relation = "above" if growing >= exhaustion else "below"
        text += (
            f" ({relation} the {exhaustion:.2g} stalled clients per second the audit says "
            "exhausts it)"
        )
    text += "."
    if overflows:
        text += (
            f" ListenOverflows rose by {overflows} during the watch: the kernel is dropping "
            "connection attempts now, because an accept queue is full."
        )
    return text
