"""Batched INSERT … ON CONFLICT of many rows in one table, at the speed of the driver.

SQLAlchemy's executemany builds each row's parameters in Python, and with RETURNING it renders one huge
multi-VALUES statement that psycopg re-parses every time; both cost more than the database's own work.
So each upsert is written once as a Core statement and run:

- on SQLite, compiled once and handed to the driver's executemany with plain tuples; ids come from one
  SELECT afterwards, the keys passed as one JSON array (executemany cannot return rows);
- on PostgreSQL, COPYed in binary into a temporary staging table (text COPY makes psycopg format every
  cell in Python: several times the cost), then moved with one INSERT … SELECT … ON CONFLICT … RETURNING.
  Each connection makes its staging tables when it opens; PostgreSQL empties them at commit.

A row may name another table's row by that row's unique key instead of its id (a Reference): the database
looks the id up while inserting, so the caller need not read back ids it has just written. Columns whose
value is the same for every row of a call (a run id, a time) are given once, as `constants`.

Rows must be de-duplicated on the conflict key by the caller (PostgreSQL refuses to update one row twice
in a statement). On PostgreSQL they are inserted in conflict-key order, so two concurrent writers lock rows
in the same order; SQLite has one writer at a time.
"""

from __future__ import annotations

import functools
import json
import operator
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

# A function of the statement's `excluded` row giving the ON CONFLICT DO UPDATE SET clause; None: DO NOTHING.
Updates = Callable[[Any], dict[str, Any]] | None
_SPECS: list[Upsert] = []  # every Upsert declared: PostgreSQL connections make their stages when they open
# keys of a PostgreSQL connection's info: stages made, stages filled in this transaction, stages' column types
_STAGES, _FILLED, _TYPES = "netwatch_stages", "netwatch_filled_stages", "netwatch_stage_types"


@dataclass(frozen=True)
class Reference:
    """Column `column` holds the id of the row of `table` whose unique `key` columns the row gives."""

    column: str
    table: sa.Table
    key: tuple[str, ...]


@dataclass(frozen=True)
class Upsert:
    """INSERT INTO table (columns, constants) … ON CONFLICT (key) DO UPDATE SET updates(excluded) | DO NOTHING.

    `columns` are the values of each row, in order; with a reference, its key's columns stand in each row
    for the reference's column. `constants` are columns given once per call."""

    table: sa.Table
    columns: tuple[str, ...]
    key: tuple[str, ...]
    updates: Updates = None
    constants: tuple[str, ...] = ()
    reference: Reference | None = None
    # a function of `excluded` giving the condition for DO UPDATE: the rows it leaves alone are not rewritten
    update_where: Callable[[Any], Any] | None = None

    def __post_init__(self) -> None:
        if self.reference and set(self.reference.key) & set(self.table.c.keys()):
            raise ValueError(f"{self.table.name}: a reference's key must not share names with the table's columns")
        _SPECS.append(self)

    @property
    def inserted(self) -> list[str]:
        """The table's columns the statement inserts, in order."""
        own = [name for name in self.columns if name in self.table.c]
        return ([self.reference.column] if self.reference else []) + own + list(self.constants)

    @property
    def order(self) -> list[str]:
        """The rows' columns that sort them in conflict-key order (constants sort nothing)."""
        names: list[str] = []
        for name in self.key:
            if self.reference and name == self.reference.column:
                names += self.reference.key
            elif name not in self.constants:
                names.append(name)
        return names

    def statement(self, dialect_name: str, source: sa.Select | None = None) -> Any:
        """With `source`: INSERT … SELECT (its columns in self.inserted's order); else INSERT … VALUES with
        a parameter per column, named as the column (a reference's key columns by their own names)."""
        stmt = (postgresql if dialect_name == "postgresql" else sqlite).insert(self.table)
        if source is not None:
            stmt = stmt.from_select(self.inserted, source)
        elif self.reference:
            referred = self.reference.table
            lookup = sa.select(referred.c.id).where(*(referred.c[name] == sa.bindparam(name)
                                                      for name in self.reference.key))
            stmt = stmt.values({self.reference.column: lookup.scalar_subquery()})
        if self.updates is None:
            return stmt.on_conflict_do_nothing(index_elements=list(self.key))
        return stmt.on_conflict_do_update(
            index_elements=list(self.key), set_=self.updates(stmt.excluded),
            where=self.update_where(stmt.excluded) if self.update_where else None)

    def column_type(self, name: str) -> sa.types.TypeEngine:
        return (self.table.c[name] if name in self.table.c else self.reference.table.c[name]).type


def upsert(conn: sa.Connection, spec: Upsert, rows: Sequence[Mapping[str, Any]], *,
           ids: bool = False) -> dict[tuple, int]:
    """Write `rows` (mappings with spec.columns); with ids=True return {key values: row id} for every row."""
    if not rows:
        return {}
    return upsert_values(conn, spec, list(map(operator.itemgetter(*spec.columns), rows)), ids=ids)


def upsert_values(conn: sa.Connection, spec: Upsert, values: Sequence[Sequence], *, ids: bool = False,
                  constants: Mapping[str, Any] | None = None) -> dict[tuple, int]:
    """Like upsert, from sequences of spec.columns in order (what hot callers build: no dict per row), with
    the values of spec.constants."""
    if not values:
        return {}
    _check_constants(spec, constants)
    constants = constants or {}
    if ids and (spec.reference or not set(spec.key) <= set(spec.columns)):
        raise ValueError(f"{spec.table.name}: ids are read back by a key whose columns every row gives")
    if conn.dialect.name == "postgresql":
        return _postgresql_upsert(conn, spec, values, constants, ids)
    statement = _compiled_sqlite(spec, conn.dialect)
    conn.exec_driver_sql(statement.sql(constants), statement.parameters(values))
    if not ids:
        return {}
    return _sqlite_ids(conn, spec, list(map(operator.itemgetter(*map(spec.columns.index, spec.key)), values)))


def upsert_with_referring(conn: sa.Connection, parent: Upsert, parent_values: Sequence[Sequence],
                          child: Upsert, child_values: Sequence[Sequence], *,
                          parent_constants: Mapping[str, Any] | None = None,
                          child_constants: Mapping[str, Any] | None = None) -> None:
    """Upsert parent rows and child rows whose reference names a parent by its key. On PostgreSQL in one
    statement: the children join the parents' RETURNING rows instead of looking each id up in the index."""
    if not (child.reference and child.reference.table is parent.table and child.reference.key == parent.key):
        raise ValueError(f"{child.table.name} does not refer to {parent.table.name} by the key it upserts")
    if parent.updates is None or parent.update_where is not None:  # else RETURNING misses parents left alone
        raise ValueError(f"{parent.table.name}: the parents' upsert must update the rows it finds")
    if conn.dialect.name != "postgresql" or not parent_values or not child_values:
        upsert_values(conn, parent, parent_values, constants=parent_constants)
        upsert_values(conn, child, child_values, constants=child_constants)
        return
    _check_constants(parent, parent_constants)
    _check_constants(child, child_constants)
    parents = _staged_source(parent, _filled_stage(conn, parent, parent_values), parent_constants)
    upserted = parent.statement("postgresql", parents).returning(
        parent.table.c.id, *(parent.table.c[name] for name in parent.key)).cte("upserted")
    children = _staged_source(child, _filled_stage(conn, child, child_values), child_constants, referred=upserted)
    conn.execute(child.statement("postgresql", children))


def _check_constants(spec: Upsert, constants: Mapping[str, Any] | None) -> None:
    if set(constants or ()) != set(spec.constants):
        raise ValueError(f"{spec.table.name}: give the constants {', '.join(spec.constants) or '(none)'}")


# -- SQLite ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _SQLiteStatement:
    pieces: tuple[str, ...]  # the SQL around its parameters
    # per parameter, in order: the row column giving it, or the name of the constant written in its place
    parameter_sources: tuple[int | str, ...]
    # SQLAlchemy's bind processors of the row columns that have one (datetimes: SQLite stores them as text)
    converters: tuple[tuple[int, Callable[[Any], Any]], ...]
    # the literal processors of the constants (the value written into the SQL, escaped)
    renderers: Mapping[str, Callable[[Any], str]]

    def sql(self, constants: Mapping[str, Any]) -> str:
        """The statement with the constants written in: as parameters, every row would bind them."""
        parts = [self.pieces[0]]
        for source, piece in zip(self.parameter_sources, self.pieces[1:]):
            if isinstance(source, int):
                parts.append("?")
            else:
                parts.append("NULL" if constants[source] is None else self.renderers[source](constants[source]))
            parts.append(piece)
        return "".join(parts)

    def parameters(self, values: Sequence[Sequence]) -> Sequence[Sequence]:
        """The driver's parameters, in the statement's order. Converted cells (few distinct values a batch)
        are looked up once per value and appended to each row, then picked in order with itemgetter: loops
        in C, not once per cell in Python."""
        positions = [source for source in self.parameter_sources if isinstance(source, int)]
        if not self.converters:
            return values if positions == list(range(len(positions))) else list(map(_getter(positions), values))
        width = len(values[0])
        converted = []
        for number, (position, convert) in enumerate(self.converters):
            column = list(map(operator.itemgetter(position), values))
            lookup = {value: convert(value) for value in set(column)}
            converted.append(map(lookup.__getitem__, column))
            positions = [width + number if source == position else source for source in positions]
        return list(map(_getter(positions), map(operator.add, map(tuple, values), zip(*converted))))


def _getter(positions: list[int]) -> Callable[[Sequence], tuple]:
    if len(positions) == 1:  # itemgetter of one item returns the item, not a tuple
        return lambda row: (row[positions[0]],)
    return operator.itemgetter(*positions)


_COMPILED: dict[tuple, _SQLiteStatement] = {}


def _compiled_sqlite(spec: Upsert, dialect: sa.Dialect) -> _SQLiteStatement:
    cache_key = (type(dialect), dialect.paramstyle, spec)
    if cache_key not in _COMPILED:
        own = [name for name in spec.columns if name in spec.table.c]
        compiled = spec.statement(dialect.name).compile(dialect=dialect, column_keys=own + list(spec.constants))
        pieces = str(compiled).split("?")
        if len(pieces) != len(compiled.positiontup) + 1:
            raise ValueError(f"{spec.table.name}: cannot tell the parameters of {compiled}")
        kept, sources, converters, renderers = [pieces[0]], [], {}, {}
        for name, piece in zip(compiled.positiontup, pieces[1:]):
            bind = compiled.binds[name]
            impl = bind.type.dialect_impl(dialect)
            if name in spec.columns:
                sources.append(spec.columns.index(name))
                if (convert := impl.bind_processor(dialect)) is not None:
                    converters[spec.columns.index(name)] = convert
            elif name in spec.constants:
                if (render := impl.literal_processor(dialect)) is None:
                    raise ValueError(f"{spec.table.name}.{name} cannot be a constant: its type has no SQL literal")
                sources.append(name)
                renderers[name] = render
            elif name in spec.table.c:
                # a column with a Python-side default: SQLAlchemy fills it only on its own executemany path
                raise ValueError(f"{spec.table.name}.{name} has a default: give it in the rows' columns")
            else:  # a literal of the ON CONFLICT clause: written into the SQL
                kept[-1] += compiled.render_literal_value(bind.value, bind.type) + piece
                continue
            kept.append(piece)
        _COMPILED[cache_key] = _SQLiteStatement(tuple(kept), tuple(sources), tuple(converters.items()), renderers)
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

@functools.lru_cache(maxsize=64)
def _stage(spec: Upsert) -> sa.Table:
    """The spec's temporary staging table: one column per row column, typed as the column it fills. Named
    by its columns, since two specs may stage rows of one table with different columns. PostgreSQL empties it
    at each commit (in place: TRUNCATE would give it a new file and a catalog row each time)."""
    digest = zlib.crc32(",".join(spec.columns).encode())
    return sa.Table(f"netwatch_stage_{spec.table.name}_{digest:08x}", sa.MetaData(),
                    *(sa.Column(name, spec.column_type(name)) for name in spec.columns), prefixes=["TEMPORARY"],
                    postgresql_on_commit="DELETE ROWS")


def prepare_postgresql(engine: sa.Engine) -> None:
    """Give each of the engine's connections its staging tables when it opens, and note which stages the
    current transaction has filled (a stage used twice in one transaction is emptied first)."""

    @sa.event.listens_for(engine, "connect")
    def _create_stages(dbapi_connection: Any, record: Any) -> None:
        stages = {_stage(spec) for spec in _SPECS}
        try:
            with dbapi_connection.cursor() as cursor:
                for stage in stages:
                    create = sa.schema.CreateTable(stage, if_not_exists=True)
                    cursor.execute(str(create.compile(dialect=engine.dialect)))
            dbapi_connection.commit()
        except engine.dialect.loaded_dbapi.Error:  # e.g. a read-only server: writes will say what is wrong
            dbapi_connection.rollback()
            return
        record.info[_STAGES] = {stage.name for stage in stages}

    @sa.event.listens_for(engine, "commit")
    @sa.event.listens_for(engine, "rollback")
    def _stages_emptied(conn: sa.Connection) -> None:
        # An invalidated connection (a write interrupted by Ctrl-C) has lost its info with it; reading it
        # would raise PendingRollbackError in place of the KeyboardInterrupt.
        if not conn.invalidated:
            conn.info.pop(_FILLED, None)


def _postgresql_upsert(conn: sa.Connection, spec: Upsert, values: Sequence[Sequence], constants: Mapping[str, Any],
                       ids: bool) -> dict[tuple, int]:
    stage = _filled_stage(conn, spec, values)
    stmt = spec.statement("postgresql", _staged_source(spec, stage, constants))
    stored = (spec.table.c.id, *(spec.table.c[name] for name in spec.key))
    if not ids:
        conn.execute(stmt)
        return {}
    if spec.update_where is None:
        return _ids_by_key(conn.execute(stmt.returning(*stored)).all())
    # RETURNING leaves out the rows the condition did not update: read every id back by the staged keys.
    conn.execute(stmt)
    on_key = sa.and_(*(spec.table.c[name] == stage.c[name] for name in spec.key))
    return _ids_by_key(conn.execute(sa.select(*stored).select_from(stage.join(spec.table, on_key))).all())


def _filled_stage(conn: sa.Connection, spec: Upsert, values: Sequence[Sequence]) -> sa.Table:
    """The spec's stage on this connection, holding `values` (COPYed in binary) and nothing else."""
    stage = _stage(spec)
    if stage.name not in conn.info.get(_STAGES, ()):  # an engine without prepare_postgresql, or a late spec
        conn.execute(sa.schema.CreateTable(stage, if_not_exists=True))
    filled = conn.info.setdefault(_FILLED, set())
    if stage.name in filled:
        conn.exec_driver_sql(f"TRUNCATE {stage.name}")
    filled.add(stage.name)
    quote = conn.dialect.identifier_preparer.quote
    copy_sql = f"COPY {stage.name} ({', '.join(quote(name) for name in spec.columns)}) FROM STDIN (FORMAT BINARY)"
    try:
        with conn.connection.driver_connection.cursor() as cursor:
            types = _column_types(conn, cursor, stage.name)
            with cursor.copy(copy_sql) as copy:
                copy.set_types(types)
                for row in values:
                    copy.write_row(row)
    except conn.dialect.loaded_dbapi.Error as exc:  # so that translate_errors and the retry see it
        raise sa.exc.DBAPIError.instance(copy_sql, None, exc, conn.dialect.loaded_dbapi.Error) from exc
    return stage


def _staged_source(spec: Upsert, stage: sa.Table, constants: Mapping[str, Any],
                   referred: sa.FromClause | None = None) -> sa.Select:
    """SELECT the stage's rows as spec.inserted, in conflict-key order (the lock order); a reference's id
    found by joining `referred` (default: the referenced table) on its key."""
    selected: list[Any] = [stage.c[name] for name in spec.columns if name in spec.table.c]
    selected += [sa.bindparam(f"constant_{name}", constants[name], type_=spec.table.c[name].type)
                 for name in spec.constants]
    rows: sa.FromClause = stage
    if spec.reference:
        referred = spec.reference.table if referred is None else referred
        rows = stage.join(referred, sa.and_(*(referred.c[name] == stage.c[name] for name in spec.reference.key)))
        selected.insert(0, referred.c.id)
    return sa.select(*selected).select_from(rows).order_by(*(stage.c[name] for name in spec.order))


def _column_types(conn: sa.Connection, cursor: Any, stage: str) -> list[int]:
    """The type oids of the stage's columns, which binary COPY needs (read once per connection)."""
    known = conn.info.setdefault(_TYPES, {})
    if stage not in known:
        cursor.execute("SELECT atttypid FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
                       "AND NOT attisdropped ORDER BY attnum", (stage,))
        known[stage] = [oid for (oid,) in cursor.fetchall()]
    return known[stage]


def _ids_by_key(rows: list[tuple]) -> dict[tuple, int]:
    """{key values: id} from rows of (id, *key values)."""
    return dict(zip(map(operator.itemgetter(slice(1, None)), rows), map(operator.itemgetter(0), rows)))
