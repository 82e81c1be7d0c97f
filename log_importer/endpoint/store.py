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

from .sites import Site
from .visits import Visit

SCHEMA = """
CREATE TABLE IF NOT EXISTS site (
    idsite INTEGER PRIMARY KEY, name TEXT, main_url TEXT, ts_created TEXT, ecommerce INTEGER,
    sitesearch INTEGER, sitesearch_keyword_parameters TEXT, sitesearch_category_parameters TEXT,
    timezone TEXT, currency TEXT, exclude_unknown_urls INTEGER, excluded_ips TEXT,
    excluded_parameters TEXT, excluded_user_agents TEXT, excluded_referrers TEXT, "group" TEXT,
    type TEXT, keep_url_fragment INTEGER, creator_login TEXT);
CREATE TABLE IF NOT EXISTS site_url (idsite INTEGER, url TEXT, PRIMARY KEY (idsite, url));
CREATE TABLE IF NOT EXISTS goal (idsite INTEGER, idgoal INTEGER, PRIMARY KEY (idsite, idgoal));
CREATE TABLE IF NOT EXISTS token (
    token TEXT PRIMARY KEY, login TEXT, description TEXT, date_created TEXT, expires INTEGER);
CREATE TABLE IF NOT EXISTS run (idrun INTEGER PRIMARY KEY, started TEXT);
CREATE TABLE IF NOT EXISTS request (
    idrequest INTEGER PRIMARY KEY, idrun INTEGER, http INTEGER, position INTEGER,
    params TEXT, outcome TEXT, error TEXT, idvisit INTEGER, idsite INTEGER,
    time INTEGER, day TEXT, type TEXT, counted INTEGER, url TEXT, name TEXT, urlref TEXT,
    idgoal INTEGER, ec_id TEXT, revenue REAL);
CREATE TABLE IF NOT EXISTS visit (
    idvisit INTEGER PRIMARY KEY, idsite INTEGER, idvisitor TEXT, config_id TEXT, user_id TEXT,
    first_action_time INTEGER, last_action_time INTEGER, day TEXT, total_actions INTEGER,
    total_time INTEGER, ip TEXT, user_agent TEXT, referer_url TEXT, entry_url TEXT,
    exit_url TEXT);
CREATE VIEW IF NOT EXISTS action AS
    SELECT idrequest AS idaction, idrequest, idvisit, idsite, time, day, type, counted, url,
           name, urlref, idgoal, ec_id, revenue
    FROM request WHERE type IS NOT NULL AND outcome = 'stored';
CREATE TABLE IF NOT EXISTS invalidation (
    idsite INTEGER, date TEXT, period TEXT, requested TEXT);
"""

SITE_COLUMNS = ("idsite", "name", "main_url", "ts_created", "ecommerce", "sitesearch",
                "sitesearch_keyword_parameters", "sitesearch_category_parameters", "timezone",
                "currency", "exclude_unknown_urls", "excluded_ips", "excluded_parameters",
                "excluded_user_agents", "excluded_referrers", "group", "type",
                "keep_url_fragment", "creator_login")


class StoreError(Exception):
    pass


class Store:
    def __init__(self, path: str):
        try:
            self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self.conn.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;")
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
        """The latest visit of each visitor id and of each fingerprint, oldest first."""
        rows = self.conn.execute(
            "SELECT idvisit, idsite, idvisitor, config_id, user_id, first_action_time, "
            "last_action_time, day, total_actions, total_time, ip, user_agent, referer_url, "
            "entry_url, exit_url FROM visit WHERE idvisit IN ("
            " SELECT max(idvisit) FROM visit GROUP BY idsite, idvisitor"
            " UNION SELECT max(idvisit) FROM visit GROUP BY idsite, ip, user_agent)"
            " ORDER BY last_action_time, idvisit").fetchall()
        return [Visit.from_row(r) for r in rows]

    def max_visit_id(self) -> int:
        return self.conn.execute("SELECT max(idvisit) FROM visit").fetchone()[0] or 0

    def load_orders(self) -> set[tuple]:
        return set(self.conn.execute(
            "SELECT idsite, ec_id FROM action WHERE ec_id IS NOT NULL").fetchall())

    # Tracking writes -------------------------------------------------------------------------
    def write_batch(self, requests: list[tuple], visits: list[tuple] = ()) -> None:
        """One transaction: request rows (REQUEST_COLUMNS, without idrequest's action columns
        for requests that stored no action) and visit rows to write."""
        c = self.conn
        c.execute("BEGIN")
        try:
            if requests:
                c.executemany("INSERT INTO request VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                              requests)
            if visits:
                c.executemany("INSERT OR REPLACE INTO visit VALUES "
                              "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", visits)
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
