"""A throwaway PostgreSQL database: create, drop, and URLs whose backends can be found."""

from __future__ import annotations

_DROP_SQL = "DROP DATABASE IF EXISTS {} WITH (FORCE)"


def _admin_connect(pg: str):
    import psycopg

    return psycopg.connect(f"{pg.rstrip('/')}/postgres", autocommit=True)


def db_create(pg: str, name: str) -> str:
    """(Re)create an empty database and return its URL."""
    from psycopg import sql

    drop = sql.SQL(_DROP_SQL)
    with _admin_connect(pg) as conn:
        conn.execute(drop.format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return f"{pg.rstrip('/')}/{name}"


def db_drop(pg: str, name: str) -> None:
    from psycopg import sql

    drop = sql.SQL(_DROP_SQL)
    with _admin_connect(pg) as conn:
        conn.execute(drop.format(sql.Identifier(name)))


def app_database_url(url: str, app: str) -> str:
    """The database URL tagged with an application_name, so its backends can be found."""
    return f"{url}?application_name={app}"
