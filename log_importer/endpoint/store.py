"""SQLite storage (WAL): sites, tokens, visits, actions, and every tracking request received.

One connection, used under the endpoint's lock. Each bulk request is written in one
transaction with `executemany`. Tables:
  site, site_url, goal      the sites (SitesManager), their alias URLs and goals
  token                     app-specific tokens made by UsersManager.createAppSpecificTokenAuth
  run                       one row per endpoint start; `request.idrun` points at it
  request                   every tracking request processed: its params as received (JSON),
                            its outcome (stored / not_stored / invalid / rolled_back), its error,
                            and for a stored one its visit and action (type, time, url, ...)
  action (a view)           the stored requests that recorded an action or a conversion
  visit                     the visits (Matomo's log_visit). Visit rows are written behind: the
                            in-memory state is authoritative and is flushed at least once a
                            second while tracking, and before every report, received() or stop

  invalidation              CoreAdminHome.invalidateArchivedReports calls
"""
from __future__ import annotations

import sqlite3
import time

import orjson

from .actions import DETAIL_FIELDS, STORED_FIELDS
from .sites import Site
from .visits import Visit

# Visit attributes -> column names of the `visit` table (Matomo's log_visit names where short).
VISIT_COLUMNS = {
    "idvisit": "idvisit INTEGER PRIMARY KEY", "idsite": "idsite INTEGER",
    "idvisitor": "idvisitor TEXT", "config_id": "config_id TEXT", "user_id": "user_id TEXT",
    "first": "first_action_time INTEGER", "last": "last_action_time INTEGER", "day": "day TEXT",
    "actions": "total_actions INTEGER", "total_time": "total_time INTEGER", "ip": "ip TEXT",
    "ua": "user_agent TEXT", "referer": "referer_url TEXT", "entry_url": "entry_url TEXT",
    "exit_url": "exit_url TEXT", "referer_type": "referer_type INTEGER",
    "referer_name": "referer_name TEXT", "referer_keyword": "referer_keyword TEXT",
    "entry_name": "entry_name TEXT", "exit_name": "exit_name TEXT",
    "pageviews": "pageviews INTEGER", "searches": "searches INTEGER", "events": "events INTEGER",
    "interactions": "interactions INTEGER", "goals": "goals_converted TEXT",
    "buyer": "goal_buyer INTEGER", "visit_count": "visit_count INTEGER",
    "returning": "visitor_returning INTEGER", "since_first": "seconds_since_first INTEGER",
    "since_last": "seconds_since_last INTEGER", "since_order": "seconds_since_order INTEGER",
    "resolution": "resolution TEXT", "language": "language TEXT", "local_time": "local_time TEXT",
    "plugins": "plugins TEXT", "country": "country TEXT", "region": "region TEXT",
    "city": "city TEXT", "latitude": "latitude REAL", "longitude": "longitude REAL",
    "custom_variables": "custom_variables TEXT", "dimensions": "dimensions TEXT",
}
JSON_VISIT_FIELDS = ("custom_variables", "dimensions")
assert tuple(VISIT_COLUMNS) == Visit.FIELDS
ACTION_TYPES_SQL = {"revenue": "REAL", "event_value": "REAL", "subtotal": "REAL", "tax": "REAL",
                    "shipping": "REAL", "discount": "REAL", "counted": "INTEGER",
                    "idgoal": "INTEGER", "gt_ms": "INTEGER", "search_count": "INTEGER"}
REQUEST_HEAD = ("idrequest INTEGER PRIMARY KEY", "idrun INTEGER", "http INTEGER",
                "position INTEGER", "params TEXT", "outcome TEXT", "error TEXT",
                "idvisit INTEGER", "idsite INTEGER", "time INTEGER", "day TEXT")
REQUEST_COLUMNS = REQUEST_HEAD + tuple("%s %s" % (f, ACTION_TYPES_SQL.get(f, "TEXT"))
                                       for f in STORED_FIELDS)
ACTION_VIEW_COLUMNS = ", ".join(
    ("idrequest AS idaction", "idrequest", "idvisit", "idsite", "time", "day")
    + STORED_FIELDS[:-1]
    + tuple("json_extract(details, '$.%s') AS %s" % (f, f) for f in DETAIL_FIELDS))

SCHEMA = """
CREATE TABLE IF NOT EXISTS site (
    idsite INTEGER PRIMARY KEY, name TEXT, main_url TEXT, ts_created TEXT, ecommerce INTEGER,
    sitesearch INTEGER, sitesearch_keyword_parameters TEXT, sitesearch_category_parameters TEXT,
    timezone TEXT, currency TEXT, exclude_unknown_urls INTEGER, excluded_ips TEXT,
    excluded_parameters TEXT, excluded_user_agents TEXT, excluded_referrers TEXT, "group" TEXT,
    type TEXT, keep_url_fragment INTEGER, creator_login TEXT);
CREATE TABLE IF NOT EXISTS site_url (idsite INTEGER, url TEXT, PRIMARY KEY (idsite, url));
CREATE TABLE IF NOT EXISTS goal (idsite INTEGER, idgoal INTEGER, PRIMARY KEY (idsite, idgoal));
CREATE TABLE IF NOT EXISTS dimension (
    idsite INTEGER, iddimension INTEGER, scope TEXT, PRIMARY KEY (idsite, iddimension));
CREATE TABLE IF NOT EXISTS token (
    token TEXT PRIMARY KEY, login TEXT, description TEXT, date_created TEXT, expires INTEGER);
CREATE TABLE IF NOT EXISTS run (idrun INTEGER PRIMARY KEY, started TEXT);
CREATE TABLE IF NOT EXISTS request (%s);
CREATE INDEX IF NOT EXISTS request_visit ON request (idvisit);
CREATE TABLE IF NOT EXISTS visit (%s);
CREATE INDEX IF NOT EXISTS visit_site_day ON visit (idsite, day);
CREATE VIEW IF NOT EXISTS action AS
    SELECT %s FROM request WHERE type IS NOT NULL AND outcome = 'stored';
CREATE TABLE IF NOT EXISTS invalidation (
    idsite INTEGER, date TEXT, period TEXT, requested TEXT);
""" % (", ".join(REQUEST_COLUMNS), ", ".join(VISIT_COLUMNS.values()), ACTION_VIEW_COLUMNS)

SITE_COLUMNS = ("idsite", "name", "main_url", "ts_created", "ecommerce", "sitesearch",
                "sitesearch_keyword_parameters", "sitesearch_category_parameters", "timezone",
                "currency", "exclude_unknown_urls", "excluded_ips", "excluded_parameters",
                "excluded_user_agents", "excluded_referrers", "group", "type",
                "keep_url_fragment", "creator_login")


# Binding None costs Python's sqlite3 a failed adapter lookup (with two attribute errors) per
# NULL cell unless NoneType has an adapter: a C callable that returns None keeps NULL and makes
# the wide, sparse request and visit rows about 2.5x cheaper to insert.
sqlite3.register_adapter(type(None), {}.get)

INSERT_REQUEST = "INSERT INTO request VALUES (%s)" % ",".join("?" * len(REQUEST_COLUMNS))
INSERT_VISIT = "INSERT OR REPLACE INTO visit VALUES (%s)" % ",".join("?" * len(VISIT_COLUMNS))
_JSON_AT = [i for i, f in enumerate(VISIT_COLUMNS) if f in JSON_VISIT_FIELDS]


def _visit_row(row: tuple) -> tuple:
    if all(row[i] is None for i in _JSON_AT):
        return row
    row = list(row)
    for i in _JSON_AT:
        if row[i] is not None:
            row[i] = orjson.dumps(row[i]).decode()
    return tuple(row)


class StoreError(Exception):
    pass


class Store:
    def __init__(self, path: str):
        try:
            self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self.conn.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;")
            old = [r[1] for r in self.conn.execute("PRAGMA table_info(request)")]
            wanted = [c.split()[0] for c in REQUEST_COLUMNS]
            old_visit = [r[1] for r in self.conn.execute("PRAGMA table_info(visit)")]
            wanted_visit = [c.split()[0] for c in VISIT_COLUMNS.values()]
            if (old and old != wanted) or (old_visit and old_visit != wanted_visit):
                raise StoreError("the database %s was written by an older version of the "
                                 "endpoint; give a new --db file" % path)
            self.conn.executescript(SCHEMA)
        except sqlite3.Error as e:
            raise StoreError("cannot open the database %s: %s" % (path, e)) from None
        c = self.conn
        c.execute("INSERT INTO run (started) VALUES (?)", (time.strftime("%Y-%m-%d %H:%M:%S"),))
        self.idrun = c.execute("SELECT max(idrun) FROM run").fetchone()[0]
        self.next_request = (c.execute("SELECT max(idrequest) FROM request").fetchone()[0] or 0) + 1

    def close(self) -> None:
        try:
            self.conn.close()
        except sqlite3.Error:
            pass

    # Sites -----------------------------------------------------------------------------------
    def load_sites(self) -> dict[int, Site]:
        sites = {}
        cols = ", ".join('"%s"' % c for c in SITE_COLUMNS)
        for row in self.conn.execute("SELECT %s FROM site ORDER BY idsite" % cols):
            kw = dict(zip(SITE_COLUMNS, row))
            kw["aliases"] = []
            sites[kw["idsite"]] = Site(**kw)
        for idsite, url in self.conn.execute("SELECT idsite, url FROM site_url ORDER BY rowid"):
            s = sites.get(idsite)
            if s is not None and url != s.main_url:
                s.aliases.append(url)
        for idsite, idgoal in self.conn.execute("SELECT idsite, idgoal FROM goal"):
            if idsite in sites:
                sites[idsite].goals.add(idgoal)
        for idsite, iddimension, scope in self.load_dimensions():
            if idsite in sites:
                sites[idsite].dimensions[iddimension] = scope
        for s in sites.values():
            s.refresh()
        return sites

    def save_site(self, site: Site) -> None:
        c = self.conn
        values = [getattr(site, c_) for c_ in SITE_COLUMNS]
        c.execute("BEGIN")
        c.execute('INSERT OR REPLACE INTO site (%s) VALUES (%s)' % (
            ", ".join('"%s"' % x for x in SITE_COLUMNS), ", ".join("?" * len(SITE_COLUMNS))), values)
        c.execute("DELETE FROM site_url WHERE idsite = ?", (site.idsite,))
        c.executemany("INSERT OR IGNORE INTO site_url VALUES (?, ?)",
                      [(site.idsite, u) for u in site.all_urls()])
        c.execute("DELETE FROM goal WHERE idsite = ?", (site.idsite,))
        c.executemany("INSERT INTO goal VALUES (?, ?)", [(site.idsite, g) for g in site.goals])
        c.execute("DELETE FROM dimension WHERE idsite = ?", (site.idsite,))
        c.executemany("INSERT INTO dimension VALUES (?, ?, ?)",
                      [(site.idsite, d, scope) for d, scope in site.dimensions.items()])
        c.execute("COMMIT")

    def update_ts_created(self, changes: dict[int, str]) -> None:
        self.conn.executemany("UPDATE site SET ts_created = ? WHERE idsite = ?",
                              [(ts, idsite) for idsite, ts in changes.items()])

    # Tokens ----------------------------------------------------------------------------------
    def load_tokens(self) -> list[tuple]:
        return self.conn.execute("SELECT token, login, expires FROM token").fetchall()

    def save_token(self, token: str, login: str, description: str, expires: int | None) -> None:
        self.conn.execute("INSERT OR REPLACE INTO token VALUES (?, ?, ?, ?, ?)",
                          (token, login, description, time.strftime("%Y-%m-%d %H:%M:%S"), expires))

    # Visits and orders -----------------------------------------------------------------------
    def load_visits(self) -> list[Visit]:
        """Every visit, oldest first."""
        cols = ", ".join(c.split()[0] for c in VISIT_COLUMNS.values())
        visits = []
        json_at = [i for i, f in enumerate(VISIT_COLUMNS) if f in JSON_VISIT_FIELDS]
        for row in self.conn.execute("SELECT %s FROM visit ORDER BY last_action_time, idvisit"
                                     % cols):
            row = list(row)
            for i in json_at:
                if row[i] is not None:
                    row[i] = orjson.loads(row[i])
            visits.append(Visit.from_row(row))
        return visits

    def load_dimensions(self) -> list[tuple]:
        return self.conn.execute("SELECT idsite, iddimension, scope FROM dimension").fetchall()

    def max_visit_id(self) -> int:
        return self.conn.execute("SELECT max(idvisit) FROM visit").fetchone()[0] or 0

    def load_orders(self) -> set[tuple]:
        return set(self.conn.execute(
            "SELECT idsite, ec_id FROM action WHERE ec_id IS NOT NULL").fetchall())

    # Tracking writes -------------------------------------------------------------------------
    def write_batch(self, requests: list[tuple], visits: list[tuple] = (),
                    performance: list[tuple] = ()) -> None:
        """One transaction: request rows (REQUEST_COLUMNS), visit rows (Visit.row()) to write,
        and page performance updates (pf_* JSON, idvisit, pv_id) for the pageview of that
        pageview id in that visit (PagePerformance/Tracker/PerformanceDataProcessor.php)."""
        c = self.conn
        c.execute("BEGIN")
        try:
            if requests:
                c.executemany(INSERT_REQUEST, requests)
            if performance:
                c.executemany(
                    "UPDATE request SET performance = json_patch(coalesce(performance, '{}'), ?) "
                    "WHERE idvisit = ? AND json_extract(details, '$.pv_id') = ? AND type = 'pageview' "
                    "AND outcome = 'stored'",
                    performance)
            if visits:
                c.executemany(INSERT_VISIT, [_visit_row(v) for v in visits])
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise

    def received(self, idrun: int | None = None) -> list[dict]:
        rows = self.conn.execute(
            "SELECT params, outcome, http FROM request WHERE idrun = ? ORDER BY idrequest",
            (self.idrun if idrun is None else idrun,)).fetchall()
        loads = orjson.loads
        return [{"params": loads(p), "outcome": o, "http": h} for p, o, h in rows]

    def save_invalidations(self, rows: list[tuple]) -> None:
        self.conn.executemany("INSERT INTO invalidation VALUES (?, ?, ?, ?)", rows)

    def invalidations(self) -> list[tuple]:
        return self.conn.execute(
            "SELECT idsite, date, period FROM invalidation ORDER BY rowid").fetchall()

    # Report queries --------------------------------------------------------------------------
    def query(self, sql: str, args=()) -> list[tuple]:
        return self.conn.execute(sql, args).fetchall()
