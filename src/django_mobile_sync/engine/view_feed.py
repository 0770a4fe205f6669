"""The multi-domain feed when some of its domains have a view (docs/views.md).

A :class:`ViewFeed` reads like a :class:`~.pull.ChangeFeed`, in windows of the change clock
and parents first, with three additions for each domain with a view:

- its records are those of the user's keys;
- after its records of a window, the moves of the window out of the keys the device holds
  (removals; for an inherited view, also the children that enter);
- before the window goes on, a change of the user's keys is served as in a one-domain pull:
  removals of the keys given up, then the records of the keys gained.

The cursor adds, per domain with a view, a :class:`~.view_cursor.ViewPosition` (its keys,
the keys it gave up, its phase, its position in the moves), and is bound to the user.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from django.core import signing

from ..conf import sync_settings
from ..exceptions import InvalidCursor, ReadOnPrimary
from ..records.view_keys import key_q, view_rule
from .cursor import FEED_START, FeedPosition, decode_feed_cursor, encode_feed_cursor
from .pull import Budget, ChangeFeed, FeedPage, check_not_purged, fetch, open_page
from .view_cursor import GAIN, LOST, ViewPosition, read_payload, view_payload
from .view_pull import LAST_ID, ViewRead

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from .hooks import SyncHooks


class ViewFeed(ChangeFeed):
    """A :class:`~.pull.ChangeFeed` over domains some of which have a view."""

    def __init__(self, services: Sequence[SyncHooks]) -> None:
        super().__init__(services)
        self.user = services[0].user

    @property
    def scopes(self) -> dict[str, dict[str, Any]]:
        """Each domain's tenant scope, and the user for a domain with a view."""
        return {
            service.domain.name: {
                **service.scope,
                **({"#user": getattr(self.user, "pk", None)} if service.domain.view else {}),
            }
            for service in self.services
        }

    def encode(self, position: FeedPosition, views: Mapping[str, ViewPosition]) -> str:
        base = signing.loads(
            encode_feed_cursor(self.scopes, position), salt=sync_settings.CURSOR_SALT
        )
        base["vw"] = {name: view_payload(state) for name, state in views.items()}
        return signing.dumps(base, salt=sync_settings.CURSOR_SALT, compress=True)

    def decode(self, token: str | None) -> tuple[FeedPosition, dict[str, ViewPosition]]:
        """The feed position and the view states of ``token`` (the start if none).

        Raises:
            InvalidCursor: forged, malformed, or minted for other domains, tenant or user.
        """
        if not token:
            return FEED_START, {}
        position = decode_feed_cursor(token, self.scopes)
        payload = signing.loads(token, salt=sync_settings.CURSOR_SALT)
        names = {s.domain.name for s in self.services if s.domain.view is not None}
        views = payload.get("vw")
        if not isinstance(views, dict) or set(views) != (names if position.started else set()):
            raise InvalidCursor("The cursor is malformed.")
        try:
            return position, {name: read_payload(state) for name, state in views.items()}
        except (ValueError, TypeError, KeyError) as exc:
            raise InvalidCursor("The cursor is malformed.") from exc

    def read_views(
        self, position: FeedPosition, views: Mapping[str, ViewPosition], limit: int
    ) -> tuple[FeedPage, dict[str, ViewPosition]]:
        """The next page, and the view states after it."""
        from .replicas import read_with_fallback

        reader = self.services[0].get_pull_database()
        return read_with_fallback(
            self.using, reader, lambda alias: self.read_views_on(alias, position, views, limit)
        )

    def read_views_on(
        self, alias: str, position: FeedPosition, views: Mapping[str, ViewPosition], limit: int
    ) -> tuple[FeedPage, dict[str, ViewPosition]]:
        opened = open_page(alias, self.using, position)
        horizon = opened.horizon
        seen = self.seen(position)
        changes: dict[str, list[dict[str, Any]]] = {s.domain.name: [] for s in self.services}
        readers = {s.domain.name: ViewRead(alias, s, {}) for s in self.services if s.domain.view}
        states = dict(views)
        if not position.started:
            position = FeedPosition(0, horizon, 0, -1, None, position.purge)
            states = {name: ViewPosition(keys=read.keys) for name, read in readers.items()}
        elif position.index >= len(self.services):
            upper: int = position.upper  # type: ignore[assignment]  # started
            position = FeedPosition(upper, max(horizon, upper), 0, upper - 1, None, position.purge)
            states = {name: self.next_window(state, upper) for name, state in states.items()}
        elif position.upper is not None and position.upper > horizon:
            if opened.reading.standby:
                raise ReadOnPrimary("the feed's window ends above the standby's horizon")
            return FeedPage(changes, True, position, opened.started), states
        budget, has_more = Budget(limit), False
        for index, service in enumerate(self.services):  # a change of a user's keys first
            name = service.domain.name
            if name not in readers:
                continue
            current = self.reconcile(readers[name], states[name], self.served(position, index))
            states[name], has_more = self.phases(readers[name], current, budget, changes[name])
            if has_more:
                break
        while not has_more and position.index < len(self.services):
            service = self.services[position.index]
            name = service.domain.name
            state = states.get(name)
            last = position.upper - 1  # type: ignore[operator]  # started
            # A view's records of the window all served: (last, None), then its moves.
            if state is None or (position.seq, position.pk) != (last, None):
                position, has_more = self.rows(alias, service, position, budget, changes)
                if has_more:
                    break
            if state is not None:
                position = replace(position, seq=last, pk=None)
                state, done = self.window_moves(readers[name], state, position, budget, changes)
                states[name] = state
                if not done:
                    has_more = True
                    break
            position = replace(position, index=position.index + 1, seq=position.lower - 1, pk=None)
        check_not_purged(alias, position.purge, seen)
        page = FeedPage(changes, has_more, opened.close(position), opened.started, budget.taken)
        return page, states

    @staticmethod
    def next_window(state: ViewPosition, lower: int) -> ViewPosition:
        """A domain's view state at the start of the window from ``lower``: its moves from
        there, the keys it gave up whose moves are all served forgotten."""
        retired = tuple((keys, until) for keys, until in state.retired if until > lower)
        return replace(state, mseq=lower - 1, mid=LAST_ID, cpk=None, retired=retired)

    def served(self, position: FeedPosition, index: int) -> int:
        """The ``change_seq`` up to which the domain ``index``'s records were served."""
        if not position.started:
            return -1
        upper: int = position.upper  # type: ignore[assignment]
        if index < position.index:
            return upper - 1
        if index == position.index:
            return position.seq
        return position.lower - 1

    @staticmethod
    def reconcile(read: ViewRead, state: ViewPosition, served: int) -> ViewPosition:
        """Start (or restart) serving a change of the user's keys."""
        state = replace(state, seq=served, pk=None)
        if not state.phase:
            if state.keys == read.keys:
                return state
            return replace(state, phase=LOST, target=read.keys, ppk=None)
        if state.target != read.keys:  # changed again meanwhile
            held = state.keys.union(state.target)  # type: ignore[union-attr, arg-type]
            return replace(state, keys=held, phase=LOST, target=read.keys, ppk=None)
        return state

    @staticmethod
    def phases(
        read: ViewRead, state: ViewPosition, budget: Budget, items: list[dict[str, Any]]
    ) -> tuple[ViewPosition, bool]:
        """Serve the phases of a change of keys; ``True`` if the page filled up first."""
        has_more = False
        if state.phase == LOST:
            state, has_more = read.lost(state, budget, items)
        if not has_more and state.phase == GAIN:
            state, has_more = read.gain(state, budget, items)
        return state, has_more

    def rows(
        self,
        alias: str,
        service: SyncHooks,
        position: FeedPosition,
        budget: Budget,
        changes: dict[str, list[dict[str, Any]]],
    ) -> tuple[FeedPosition, bool]:
        """The domain's records of the window after the position (of the user's keys)."""
        wanted = budget.items
        reader = service.row_reader()  # engine/rows.py: columns when it can
        rows = fetch(reader.select(self.window(service, position, alias)), wanted + 1)
        if wanted <= 0 and rows:
            return position, True
        for row in rows[:wanted]:
            item = reader.serialize(row)
            if not budget.take(item):
                return position, True
            changes[service.domain.name].append(item)
            seq, pk = reader.position(row)
            position = replace(position, seq=seq, pk=pk)
        return position, len(rows) > wanted

    def window(
        self, service: SyncHooks, position: FeedPosition, using: str | None = None
    ) -> QuerySet[Any]:
        queryset = super().window(service, position, using)
        rule = view_rule(service.domain)
        if rule is None:
            return queryset
        return queryset.filter(key_q(rule.path, service.get_view_keys()))

    @staticmethod
    def window_moves(
        read: ViewRead,
        state: ViewPosition,
        position: FeedPosition,
        budget: Budget,
        changes: dict[str, list[dict[str, Any]]],
    ) -> tuple[ViewPosition, bool]:
        """The domain's moves of the window (none in the first: its records are current)."""
        if position.lower == 0:
            return state, True
        upper: int = position.upper  # type: ignore[assignment]
        state = replace(state, seq=upper - 1, pk=None)  # the window's records are served
        items = changes[read.service.domain.name]
        while True:
            moves = read.moves(state, upper, max(budget.items, 1) + 1)
            gone = read.gone(moves, state.keys)  # type: ignore[arg-type]
            for move in moves:
                state, done = read.serve_move(move, gone, state, budget, items)
                if not done:
                    return state, False
            if len(moves) <= max(budget.items, 1):
                return state, True
