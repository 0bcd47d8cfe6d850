"""Loading sqlite-vec (the `sqlite-vec` wheel's vec0 extension) into each SQLite connection.

Python's sqlite3 offers `enable_load_extension` only when CPython was built with
`--enable-loadable-sqlite-extensions`; pyenv's and python.org's macOS builds are not, by
default. The SQLite library itself can still load extensions, so without that method the
extension is loaded through the library's C API (ctypes) on the connection's own handle: the
first field after the object header of CPython's `pysqlite_Connection` is its `sqlite3 *db`
(Modules/_sqlite/connection.h, unchanged from 3.6 to 3.14). Where neither works (a SQLite
compiled with SQLITE_OMIT_LOAD_EXTENSION), vectors are unavailable and `load_error` says why;
keyword search is unaffected.
"""

from __future__ import annotations

import ctypes
import logging
import sqlite3
from typing import Any

log = logging.getLogger("onward.store")

try:
    from sqlalchemy.util.concurrency import await_
except ImportError:  # SQLAlchemy 2.0
    from sqlalchemy.util.concurrency import await_only as await_

_state: dict[str, Any] = {"error": None, "warned": False}


def load_error() -> str | None:
    """Why sqlite-vec could not be loaded into the last connection opened (None: it was)."""
    return _state["error"]


def _path() -> str:
    import sqlite_vec

    return str(sqlite_vec.loadable_path())


def _load_by_handle(conn: sqlite3.Connection, path: str) -> None:
    """Load the extension at `path` into `conn` with sqlite3_load_extension on its handle."""
    import _sqlite3

    lib = ctypes.CDLL(_sqlite3.__file__)  # resolves the very SQLite library the module uses
    lib.sqlite3_enable_load_extension.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.sqlite3_load_extension.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p)]
    lib.sqlite3_load_extension.restype = ctypes.c_int
    handle = ctypes.c_void_p.from_address(id(conn) + object.__basicsize__).value
    if not handle:
        raise RuntimeError("the connection has no SQLite handle")
    error = ctypes.c_char_p()
    if lib.sqlite3_enable_load_extension(handle, 1) != 0:
        raise RuntimeError("this SQLite library cannot load extensions")
    try:
        rc = lib.sqlite3_load_extension(handle, path.encode(), None, ctypes.byref(error))
    finally:
        lib.sqlite3_enable_load_extension(handle, 0)
    if rc != 0:
        raise RuntimeError((error.value or b"sqlite3_load_extension failed").decode(errors="replace"))


def load_sqlite_vec(dbapi_conn: Any) -> None:
    """Load sqlite-vec into a new SQLAlchemy aiosqlite connection (from a `connect` event).
    A failure is recorded (see load_error) and logged once, never raised: a database without
    vectors needs no extension."""
    driver = dbapi_conn.driver_connection  # aiosqlite.Connection
    try:
        path = _path()
        raw = driver._conn  # the sqlite3.Connection; SQLAlchemy's own adapter reaches it so too
        if hasattr(raw, "enable_load_extension"):
            await_(driver.enable_load_extension(True))
            try:
                await_(driver.load_extension(path))
            finally:
                await_(driver.enable_load_extension(False))
        else:
            _load_by_handle(raw, path)
    except Exception as exc:  # ImportError, sqlite3.OperationalError, RuntimeError, OSError
        _state["error"] = f"sqlite-vec could not be loaded into SQLite: {exc}"
        if not _state["warned"]:
            _state["warned"] = True
            log.warning("%s; vector search is unavailable (keyword search works). Install the `sqlite-vec` package.", _state["error"])
    else:
        _state["error"] = None
