"""Cross-domain events: blinker signals whose receivers run in the order they were connected.

A domain that others react to declares its signals in its own `events.py` (orders: approved, before cancel,
cancelled; shipping: goods shipped; credit: the open-order exposure it sums). Receivers are connected in one place,
`portal.wiring.connect`, called by `create_app`: importing a module never changes what another module does, and the
order of the receivers is the order of that table, not the order modules happened to be imported in.

Receivers are called as `receiver(actor, **data)` (the actor is the signal's sender) inside the caller's
transaction; one that refuses raises a domain error and the action writes nothing.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, MutableSet

import blinker


class _OrderedSet(MutableSet):
    """A set that iterates in insertion order (blinker's default `set` does not): the receivers' call order."""

    def __init__(self, items: Iterable[Hashable] = ()):
        self._items = dict.fromkeys(items)

    def __contains__(self, item: object) -> bool:
        return item in self._items

    def __iter__(self) -> Iterator[Hashable]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: Hashable) -> None:
        self._items[item] = None

    def discard(self, item: Hashable) -> None:
        self._items.pop(item, None)

    def copy(self) -> _OrderedSet:
        return _OrderedSet(self._items)


class Signal(blinker.Signal):
    """A named signal whose receivers are called in connection order."""

    set_class = _OrderedSet

    def __init__(self, name: str, doc: str):
        super().__init__(doc)
        self.name = name

    def __repr__(self) -> str:
        return f"<Signal {self.name}>"

    def receiver_list(self) -> list:
        """The connected receivers, in call order."""
        return list(self.receivers_for(blinker.ANY))
