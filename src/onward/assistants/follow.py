"""Following a run's events as SSE frames: what is stored, then what is live."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from .hub import DONE, STOP, RunHub, error_frame, frame
from .runstore import RunStore


async def follow(runs: RunStore, hub: RunHub, run_id: str, after: int) -> AsyncIterator[bytes]:
    """The run's events after `after`, live, up to the next stop (terminal or
    requires_action), then `done`."""
    queue = hub.subscribe(run_id)
    last = after
    catch_up = True
    try:
        while True:
            if catch_up:
                catch_up = False
                pending = [(s, n, d.encode()) for s, n, d in await runs.read_events(run_id, last)]
                pending += list(hub.backlog.get(run_id, ()))
                for seq, name, raw in pending:
                    if seq != last + 1:
                        continue
                    last = seq
                    yield frame(name, raw)
                    if name in STOP:
                        yield DONE
                        return
            if run_id in hub.running:
                try:
                    got = await asyncio.wait_for(queue.get(), timeout=1.0)
                except TimeoutError:
                    catch_up = True
                    continue
                if got is None:
                    catch_up = True
                    continue
                seq, name, raw = got
                if seq <= last:
                    continue
                if seq > last + 1:
                    catch_up = True
                    continue
                last = seq
                yield frame(name, raw)
                if name in STOP:
                    yield DONE
                    return
            else:
                if await runs.get_row(run_id) is None:
                    yield error_frame("server_error", f"Run {run_id} was deleted while streaming.")
                    yield DONE
                    return
                await asyncio.sleep(0.1)
                catch_up = True
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # never end a stream silently
        yield error_frame("server_error", f"The run's event stream failed ({type(exc).__name__}).")
        yield DONE
    finally:
        hub.unsubscribe(run_id, queue)
