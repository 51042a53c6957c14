"""Hot statements run straight on the driver: a Core statement compiled once per dialect,
its parameters and result values converted by the same SQLAlchemy type processors as
`Connection.execute` would, on the Connection's own DBAPI connection (same transaction).

The chat path runs three statements per update (record the update id, read the identity
with the state row, write the state back); SQLAlchemy's execution machinery around each
cost 30-60 us, the ORM's loading of the user another 60-80 us, against ~10 us for the
statement itself on SQLite. A driver error goes through the Connection's own error handling
(wrapped in a sqlalchemy.exc.DBAPIError, `handle_error` listeners called, a lost connection
invalidated), and while anything listens to `before_cursor_execute`/`after_cursor_execute`
(tracing, statement counting in tests) every statement runs through `Connection.execute`
instead, so that they see it.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapper, Session, make_transient_to_detached
from sqlalchemy.orm.base import instance_state
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.expression import Executable


class _Compiled:
    __slots__ = ("names", "positional", "processors", "result_processors", "result_types",
                 "sources", "sql")

    def __init__(self, statement: Executable, dialect: Dialect) -> None:
        compiled: Any = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError("a statement with expanding or literal-execute parameters")
        self.sql: str = compiled.string
        processors = compiled._bind_processors
        escaped = compiled.escaped_bind_names
        self.positional: bool = bool(dialect.positional)
        names: Sequence[str] = (compiled.positiontup if self.positional
                                else list(compiled.bind_names.values()))
        # Per parameter: its name for the driver, where its value comes from (the caller's
        # key, or None and the statement's own literal value) and its type's processor.
        self.names: list[str] = []
        self.sources: list[tuple[str | None, Any]] = []
        self.processors: list[tuple[int, Callable[[Any], Any]]] = []
        for i, name in enumerate(names):
            bind: BindParameter[Any] = compiled.binds[name]
            key = None if bind.unique else str(bind.key)  # unique: a literal in the statement
            self.names.append(escaped.get(name, name))
            self.sources.append((key, None if key is not None else bind.effective_value))
            if processors.get(name) is not None:
                self.processors.append((i, processors[name]))
        self.result_types = [c[3] for c in compiled._result_columns or ()]
        self.result_processors: list[tuple[int, Callable[[Any], Any]]] | None = None

    def parameters(self, params: Mapping[str, Any]) -> Any:
        values = [params[key] if key is not None else fixed for key, fixed in self.sources]
        for i, proc in self.processors:
            values[i] = proc(values[i])
        return tuple(values) if self.positional else dict(zip(self.names, values, strict=True))


class Prepared:
    """One statement (bound parameters named with `bindparam`) for the hot path."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: weakref.WeakKeyDictionary[Dialect, _Compiled] = (
            weakref.WeakKeyDictionary())

    def _for(self, conn: Connection) -> _Compiled | None:
        """The compiled form, or None when a cursor listener wants Connection.execute."""
        dispatch = conn.dispatch  # the engine's listeners joined with the connection's
        if dispatch.before_cursor_execute or dispatch.after_cursor_execute:
            return None
        dialect = conn.dialect
        compiled = self._compiled.get(dialect)
        if compiled is None:
            compiled = self._compiled[dialect] = _Compiled(self.statement, dialect)
        return compiled

    def _run(self, conn: Connection, compiled: _Compiled, params: Mapping[str, Any]) -> Any:
        args = compiled.parameters(params)
        cursor = None
        try:
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            cursor.execute(compiled.sql, args)
        except Exception as exc:
            if cursor is not None:
                cursor.close()
            conn._handle_dbapi_exception(exc, compiled.sql, args, cursor, None)
        return cursor

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Run an INSERT/UPDATE/DELETE; the number of rows it matched."""
        compiled = self._for(conn)
        if compiled is None:
            result = conn.execute(self.statement.execution_options(  # type: ignore[attr-defined]
                preserve_rowcount=True), dict(params))
            return int(result.rowcount)
        cursor = self._run(conn, compiled, params)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def first(self, conn: Connection, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """Run a SELECT; its first row with values as Connection.execute returns them."""
        compiled = self._for(conn)
        if compiled is None:
            found = conn.execute(self.statement, dict(params)).first()
            return None if found is None else tuple(found)
        cursor = self._run(conn, compiled, params)
        try:
            raw = cursor.fetchone()
            if raw is None:
                return None
            processors = compiled.result_processors
            if processors is None:
                dialect = conn.dialect
                processors = compiled.result_processors = [
                    (i, proc) for i, (type_, description) in enumerate(zip(
                        compiled.result_types, cursor.description, strict=True))
                    if (proc := type_._cached_result_processor(dialect, description[1]))
                    is not None]
            row = list(raw)
            for i, proc in processors:
                row[i] = proc(row[i])
            return tuple(row)
        except Exception as exc:
            conn._handle_dbapi_exception(exc, compiled.sql, None, cursor, None)
        finally:
            cursor.close()


class Hydrator:
    """Makes a mapped class's persistent object from its table's column values read by a
    Prepared query, in a session, as the ORM's loading does (the object already in the
    session's identity map is returned as it is)."""

    def __init__(self, mapper: Mapper[Any]) -> None:
        table = mapper.local_table
        self.mapper = mapper
        self.columns = list(table.columns)  # type: ignore[attr-defined]
        index: dict[Any, int] = {column: i for i, column in enumerate(self.columns)}
        self.attributes: list[tuple[str, int]] = []
        for prop in mapper.column_attrs:
            if len(prop.columns) != 1 or prop.columns[0] not in index:
                raise ValueError(f"{prop.key} is not one column of {table}")
            self.attributes.append((prop.key, index[prop.columns[0]]))
        self.primary_key = [index[c] for c in mapper.primary_key]
        self._new = mapper.class_manager.new_instance

    def __call__(self, session: Session, values: Sequence[Any]) -> Any:
        key = self.mapper.identity_key_from_primary_key(
            tuple(values[i] for i in self.primary_key))
        existing = session.identity_map.get(key)
        if existing is not None:
            return existing
        obj = self._new()
        state = instance_state(obj)
        state.dict.update({name: values[i] for name, i in self.attributes})
        attach = getattr(session, "_update_impl", None)
        if attach is None:  # pragma: no cover - the public way, 3x the cost
            make_transient_to_detached(obj)
            session.add(obj)
        else:
            # What make_transient_to_detached + Session.add do for an object whose every
            # column is loaded and no relationship is, without the cascade walk over the
            # mapper's relationships (18 -> 6 us an object); the session's attach events run.
            state.key = key
            attach(state)
        return obj


def autoflush(session: Session) -> None:
    """Flush pending changes first, as the session does before a query of its own."""
    if session.autoflush and (session.new or session.dirty or session.deleted):
        session.flush()
