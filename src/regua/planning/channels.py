"""Channel resolution: which channels may carry an occurrence to a contact, in what order."""

from __future__ import annotations

from typing import TYPE_CHECKING

from regua.records import Contact

if TYPE_CHECKING:
    from regua.planning.compiled import CompiledCadence, CompiledStep
    from regua.planning.conditions import Context

__all__ = ["resolve_channels"]


def resolve_channels(
    compiled: CompiledCadence, cstep: CompiledStep, contact: Contact, ctx: Context | None
) -> tuple[tuple[str, ...], str]:
    """The channels to try, best first, and (when there are none) why.

    Candidates are the channels of the first `Route` whose condition holds (evaluated on
    `ctx`, which may be None for a step without routes), else the step's `channels`.
    Channels without an address, or (for marketing steps) without the contact's consent to
    the channel or to the step's topic on it, are dropped. The rest are ordered by the
    contact's preferences, then by the step's order, or by cost with ``prefer="cheapest"``.
    """
    step = cstep.step
    names = step.channels
    if cstep.routes:
        assert ctx is not None, "a step with routes needs a context"
        for predicate, channels in cstep.routes:
            if predicate(ctx):
                names = channels
                break
    transactional, topic = not step.marketing, step.topic
    reachable = [
        name
        for name in names
        if contact.can_receive(name, transactional=transactional, topic=topic)
    ]
    if not reachable:
        if not names:
            return (), "no channel: no route matched and the step lists no channels"
        missing = []
        for name in names:
            if not contact.addresses.get(name):
                missing.append(f"{name}: no address")
            elif topic is not None:
                missing.append(f"{name}: no consent, to it or to topic {topic!r} on it")
            else:
                missing.append(f"{name}: no consent")
        return (), "no reachable channel (" + ", ".join(missing) + ")"
    if len(reachable) == 1:
        return (reachable[0],), ""  # nothing to order
    preferences = contact.preferences
    unranked = len(preferences)

    def rank(name: str) -> tuple[int, float, int]:
        preference = preferences.index(name) if name in preferences else unranked
        cost = compiled.channels[name].cost if step.prefer == "cheapest" else 0.0
        return preference, cost, names.index(name)

    return tuple(sorted(reachable, key=rank)), ""
