"""Queries Tortoise builds once and the database runs many times.

Tortoise builds a query's SQL on every call: it resolves each filter, plans the joins and
quotes every column. For the one-row lookups on a hot path (every websocket handshake, every
room page) that cost several times the query itself. A ``Compiled`` query is built by Tortoise
once per SQL dialect, with markers where its arguments go; afterwards each call only puts the
arguments in their places, runs the SQL and makes the models from the row as Tortoise would.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from tortoise import connections
from tortoise.models import Model
from tortoise.queryset import QuerySet, QuerySetSingle


@dataclass(frozen=True, slots=True)
class _Statement:
    model: type[Model]
    sql: str
    slots: tuple[int | None, ...]  # for each parameter: which argument, or None for a constant
    constants: tuple[Any, ...]
    # For each related model: its attribute, the prefix of its columns, its model.
    related: tuple[tuple[str, str, type[Model]], ...]


class Compiled[M: Model]:
    """``build(*markers)``'s SQL, run with other arguments in the markers' places.

    ``build`` returns the query with ``select_related`` of ``related`` (names of foreign keys on
    ``M``) and ``.first()``. Each marker must be a value no constant of the query equals, of the
    type the real argument will have, and must reach the SQL as a parameter exactly once
    (checked when the SQL is built).
    """

    def __init__(
        self,
        build: Callable[..., QuerySetSingle[M | None] | QuerySet[M]],
        markers: Sequence[Any],
        related: Sequence[str] = (),
    ) -> None:
        self._build = build
        self._markers = tuple(markers)
        self._related = tuple(related)
        self._statements: dict[str, _Statement] = {}

    def _statement(self, dialect: str) -> _Statement:
        statement = self._statements.get(dialect)
        if statement is None:
            query: Any = self._build(*self._markers)
            query._make_query()
            sql, params = query.query.get_parameterized_sql()
            slots = tuple(self._slot(param) for param in params)
            for index, marker in enumerate(self._markers):
                if slots.count(index) != 1:
                    raise ValueError(f"marker {marker!r} is not one parameter of {sql}")
            pairs = zip(slots, params, strict=True)
            constants = tuple(None if slot is not None else param for slot, param in pairs)
            model: type[Model] = query.model
            fields = model._meta.fields_map
            related = tuple(
                (name, f"{model._meta.db_table}__{name}.", fields[name].related_model)  # type: ignore[attr-defined]
                for name in self._related
            )
            statement = _Statement(model, sql, slots, constants, related)
            self._statements[dialect] = statement
        return statement

    def _slot(self, param: Any) -> int | None:
        for index, marker in enumerate(self._markers):
            if type(param) is type(marker) and param == marker:
                return index
        return None

    async def first(self, *args: Any) -> M | None:
        """The first row for ``args`` as the model, its related models attached, or None."""
        client = connections.get("default")
        statement = self._statement(client.capabilities.dialect)
        values = [
            args[slot] if slot is not None else constant
            for slot, constant in zip(statement.slots, statement.constants, strict=True)
        ]
        rows = await client.execute_query_dict(statement.sql, values)
        return cast(M, _hydrate(statement, rows[0])) if rows else None


def _hydrate(statement: _Statement, row: dict[str, Any]) -> Model:
    # The related models' columns come as "table__name.column": not fields of the model.
    instance = statement.model._init_from_db(**row)
    for name, prefix, related_model in statement.related:
        values = {key[len(prefix) :]: v for key, v in row.items() if key.startswith(prefix)}
        present = any(v is not None for v in values.values())
        found = related_model._init_from_db(**values) if present else None
        object.__setattr__(instance, f"_{name}", found)  # where Tortoise keeps it too
    return instance
