"""Batched INSERT … ON CONFLICT of many rows in one table, at the speed of the driver.

SQLAlchemy's executemany builds each row's parameters in Python, and with RETURNING it renders one huge
multi-VALUES statement that psycopg re-parses every time; both cost more than the database's own work.
So each upsert is written once as a Core statement and run:

- on SQLite, compiled once and handed to the driver's executemany with plain tuples; ids come from one
  SELECT afterwards, the keys passed as one JSON array (executemany cannot return rows);
- on PostgreSQL, COPYed into a temporary staging table, then moved with one
  INSERT … SELECT … ON CONFLICT … RETURNING.

Rows must be de-duplicated on the conflict key by the caller (PostgreSQL refuses to update one row twice
in a statement); they are written in the order given, which callers keep sorted by key so that two
concurrent writers lock rows in the same order.
"""

from __future__ import annotations

import functools
import itertools
import json
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

# A function of the statement's `excluded` row giving the ON CONFLICT DO UPDATE SET clause; None: DO NOTHING.
Updates = Callable[[Any], dict[str, Any]] | None


@dataclass(frozen=True)
class Upsert:
    """INSERT INTO table (columns) … ON CONFLICT (key) DO UPDATE SET updates(excluded) | DO NOTHING."""

    table: sa.Table
    columns: tuple[str, ...]
    key: tuple[str, ...]
    updates: Updates = None

    def statement(self, dialect_name: str, source: sa.Select | None = None) -> Any:
        stmt = (postgresql if dialect_name == "postgresql" else sqlite).insert(self.table)
        if source is not None:
            stmt = stmt.from_select(list(self.columns), source)
        if self.updates is None:
            return stmt.on_conflict_do_nothing(index_elements=list(self.key))
        return stmt.on_conflict_do_update(index_elements=list(self.key), set_=self.updates(stmt.excluded))


def upsert(conn: sa.Connection, spec: Upsert, rows: Sequence[Mapping[str, Any]], *,
           ids: bool = False) -> dict[tuple, int]:
    """Write `rows` (mappings with spec.columns); with ids=True return {key values: row id} for every row."""
    if not rows:
        return {}
    return upsert_values(conn, spec, list(map(operator.itemgetter(*spec.columns), rows)), ids=ids)


def upsert_values(conn: sa.Connection, spec: Upsert, values: list[tuple], *, ids: bool = False) -> dict[tuple, int]:
    """Like upsert, from tuples of spec.columns in order (what hot callers build: no dict per row)."""
    if not values:
        return {}
    if conn.dialect.name == "postgresql":
        return _postgresql_upsert(conn, spec, values, ids)
    statement = _compiled_sqlite(spec, conn.dialect)
    conn.exec_driver_sql(statement.sql, statement.parameters(values))
    if not ids:
        return {}
    return _sqlite_ids(conn, spec, list(map(operator.itemgetter(*map(spec.columns.index, spec.key)), values)))


# -- SQLite ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _SQLiteStatement:
    sql: str
    converters: tuple[tuple[int, Callable[[Any], Any]], ...]  # (column position, SQLAlchemy's bind processor)
    constants: tuple  # the literals of the ON CONFLICT clause
    order: Callable[[Sequence], tuple]  # picks the "?" values from a row's columns followed by the constants

    def parameters(self, values: list[tuple]) -> list[tuple]:
        """The driver's parameters: datetimes in the format SQLAlchemy stores (converted once per distinct
        value: a batch has few), the literals appended, all in the statement's order. Column by column,
        so that the loops run in C rather than once per cell in Python."""
        columns: list[Any] = list(zip(*values))
        for position, convert in self.converters:
            column = columns[position]
            converted = {value: convert(value) for value in set(column)}
            columns[position] = map(converted.__getitem__, column)
        columns.extend(itertools.repeat(constant, len(values)) for constant in self.constants)
        return list(zip(*self.order(columns)))


_COMPILED: dict[tuple, _SQLiteStatement] = {}


def _compiled_sqlite(spec: Upsert, dialect: sa.Dialect) -> _SQLiteStatement:
    cache_key = (type(dialect), dialect.paramstyle, spec)
    if cache_key not in _COMPILED:
        compiled = spec.statement(dialect.name).compile(dialect=dialect, column_keys=list(spec.columns))
        converters, constants, order = {}, [], []
        for name in compiled.positiontup:
            bind = compiled.binds[name]
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if name in spec.columns:
                order.append(spec.columns.index(name))
                if processor is not None:
                    converters[spec.columns.index(name)] = processor
            elif name in spec.table.c:
                # a column with a Python-side default: SQLAlchemy fills it only on its own executemany path
                raise ValueError(f"{spec.table.name}.{name} has a default: give it in the rows' columns")
            else:
                order.append(len(spec.columns) + len(constants))
                constants.append(processor(bind.value) if processor else bind.value)
        _COMPILED[cache_key] = _SQLiteStatement(str(compiled), tuple(converters.items()), tuple(constants),
                                                operator.itemgetter(*order))
    return _COMPILED[cache_key]


def _sqlite_ids(conn: sa.Connection, spec: Upsert, keys: list[tuple]) -> dict[tuple, int]:
    """The ids of `keys`, looked up in one statement whose only parameter is the keys as a JSON array: a
    VALUES list or an IN list of bound parameters costs SQLite more to compile than to run."""
    sql = _sqlite_ids_sql(spec, conn.dialect.identifier_preparer)
    return _ids_by_key(conn.exec_driver_sql(sql, (json.dumps(keys, ensure_ascii=False),)).all())


@functools.lru_cache(maxsize=64)
def _sqlite_ids_sql(spec: Upsert, preparer: Any) -> str:
    """SELECT the ids of the keys given as a JSON array of arrays, joining from the keys to the table's
    unique index."""
    columns = ", ".join(f"stored.{preparer.quote(name)}" for name in spec.key)
    matches = " AND ".join(f"stored.{preparer.quote(name)} = json_extract(wanted.value, '$[{number}]')"
                           for number, name in enumerate(spec.key))
    return (f"SELECT stored.id, {columns} FROM json_each(?) AS wanted "
            f"CROSS JOIN {preparer.quote(spec.table.name)} AS stored ON {matches}")


# -- PostgreSQL ------------------------------------------------------------------------------------

def _postgresql_upsert(conn: sa.Connection, spec: Upsert, values: list[tuple], ids: bool) -> dict[tuple, int]:
    quote = conn.dialect.identifier_preparer.quote
    stage = f"netwatch_stage_{spec.table.name}"
    columns = ", ".join(quote(name) for name in spec.columns)
    # Kept per connection (created once, emptied after each use): creating it per batch churns the catalog.
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} AS "
                         f"SELECT {columns} FROM {quote(spec.table.name)} WITH NO DATA")
    copy_sql = f"COPY {stage} ({columns}) FROM STDIN"
    try:
        with conn.connection.driver_connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
            for row in values:
                copy.write_row(row)
    except conn.dialect.loaded_dbapi.Error as exc:  # so that translate_errors and the retry see it
        raise sa.exc.DBAPIError.instance(copy_sql, None, exc, conn.dialect.loaded_dbapi.Error) from exc
    staged = sa.table(stage, *(sa.column(name) for name in spec.columns))
    source = sa.select(*staged.c).order_by(*(staged.c[name] for name in spec.key))  # the lock order
    stmt = spec.statement("postgresql", source)
    if ids:
        stmt = stmt.returning(spec.table.c.id, *(spec.table.c[name] for name in spec.key))
    result = conn.execute(stmt)
    found = _ids_by_key(result.all()) if ids else {}
    conn.exec_driver_sql(f"TRUNCATE {stage}")
    return found


def _ids_by_key(rows: list[tuple]) -> dict[tuple, int]:
    """{key values: id} from rows of (id, *key values)."""
    return dict(zip(map(operator.itemgetter(slice(1, None)), rows), map(operator.itemgetter(0), rows)))
