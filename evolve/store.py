"""One SQLite database per campaign (WAL): candidates, evaluations, LLM calls, decisions.

Every write is its own transaction, so a campaign killed at any moment leaves a consistent
database: a candidate without a final evaluation is simply pending and runs again on resume.
"""
from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS candidates (
    id TEXT PRIMARY KEY,            -- c0001, c0002, ... in creation order
    seq INTEGER NOT NULL UNIQUE,
    hash TEXT NOT NULL UNIQUE,      -- normalised-AST hash: the same program is never evaluated twice
    code TEXT NOT NULL,
    parents TEXT NOT NULL,          -- JSON list of candidate ids
    operator TEXT NOT NULL,         -- seed:<name>, structural, llm_edit, ...
    note TEXT NOT NULL DEFAULT '',  -- one-line change note
    generation INTEGER NOT NULL,
    prompt_hash TEXT,
    meta TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS evaluations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    candidate_id TEXT NOT NULL REFERENCES candidates(id),
    fidelity TEXT NOT NULL,
    status TEXT NOT NULL,
    metrics TEXT NOT NULL,
    per_category TEXT NOT NULL,
    per_item TEXT NOT NULL,
    failures TEXT NOT NULL,
    resources TEXT NOT NULL,
    error TEXT NOT NULL,
    finished_at REAL NOT NULL,
    UNIQUE (candidate_id, fidelity)
);
CREATE TABLE IF NOT EXISTS llm_calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    model TEXT NOT NULL,
    purpose TEXT NOT NULL,
    prompt_hash TEXT NOT NULL,
    request TEXT NOT NULL,
    response TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    latency_s REAL NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    candidate_id TEXT,
    priced INTEGER NOT NULL DEFAULT 1  -- 0: nobody knew the price; cost_usd is 0 and escapes llm_dollars
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_kind ON events (kind, id);
CREATE INDEX IF NOT EXISTS llm_calls_prompt ON llm_calls (prompt_hash);
"""


class StoreError(RuntimeError):
    """The run directory or database is missing or not a memarch campaign."""


@dataclass(frozen=True)
class Candidate:
    id: str
    seq: int
    hash: str
    code: str
    parents: tuple[str, ...]
    operator: str
    note: str
    generation: int
    prompt_hash: str | None
    meta: dict[str, Any]
    created_at: float


@dataclass(frozen=True)
class Evaluation:
    candidate_id: str
    fidelity: str
    status: str
    metrics: dict[str, float]
    per_category: dict[str, dict[str, float]]
    per_item: dict[str, float]
    failures: list[dict[str, Any]]
    resources: dict[str, float]
    error: str
    finished_at: float


def _candidate(row: sqlite3.Row) -> Candidate:
    return Candidate(row["id"], row["seq"], row["hash"], row["code"], tuple(json.loads(row["parents"])),
                     row["operator"], row["note"], row["generation"], row["prompt_hash"],
                     json.loads(row["meta"]), row["created_at"])


def _evaluation(row: sqlite3.Row) -> Evaluation:
    return Evaluation(row["candidate_id"], row["fidelity"], row["status"], json.loads(row["metrics"]),
                      json.loads(row["per_category"]), json.loads(row["per_item"]), json.loads(row["failures"]),
                      json.loads(row["resources"]), row["error"], row["finished_at"])


class Store:
    FILE = "campaign.db"

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self.conn = conn
        self._lock = threading.RLock()  # LLM calls are written from proposal threads

    @contextmanager
    def _tx(self) -> Iterator[None]:
        with self._lock, self.conn:
            yield

    @classmethod
    def create(cls, run_dir: Path, config_yaml: str) -> "Store":
        run_dir.mkdir(parents=True, exist_ok=True)
        db = run_dir / cls.FILE
        if db.exists():
            raise StoreError(f"{run_dir} already holds a campaign; use `memarch resume {run_dir}` or another name")
        store = cls(db, cls._connect(db))
        with store.conn:
            store.conn.executescript(SCHEMA)
            store.conn.executemany("INSERT INTO meta VALUES (?, ?)", [
                ("schema_version", str(SCHEMA_VERSION)), ("config", config_yaml), ("created_at", str(time.time()))])
        return store

    @classmethod
    def open(cls, run_dir: Path) -> "Store":
        db = run_dir / cls.FILE
        if not db.is_file():
            raise StoreError(f"no campaign at {run_dir} (expected {db})")
        store = cls(db, cls._connect(db))
        try:
            version = store.meta("schema_version")
        except sqlite3.DatabaseError:
            raise StoreError(f"{db} is not a memarch campaign database") from None
        if version != str(SCHEMA_VERSION):
            raise StoreError(f"{db} has schema version {version}; this memarch reads {SCHEMA_VERSION}")
        try:  # indexes and defaulted columns added since a database was created (same schema version)
            store.conn.execute("CREATE INDEX IF NOT EXISTS events_kind ON events (kind, id)")
            store.conn.execute("CREATE INDEX IF NOT EXISTS llm_calls_prompt ON llm_calls (prompt_hash)")
            cols = {r[1] for r in store.conn.execute("PRAGMA table_info(llm_calls)")}
            if "priced" not in cols:
                store.conn.execute("ALTER TABLE llm_calls ADD COLUMN priced INTEGER NOT NULL DEFAULT 1")
        except sqlite3.OperationalError:
            pass  # a read-only copy: reads still work, more slowly
        return store

    @staticmethod
    def _connect(db: Path) -> sqlite3.Connection:
        conn = sqlite3.connect(str(db), timeout=30, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.isolation_level = "DEFERRED"
        return conn

    def close(self) -> None:
        self.conn.close()

    # meta
    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._tx():
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # the driver of the current session, so `status` can tell running from killed
    def claim_driver(self) -> None:
        self.set_meta("driver", f"{socket.gethostname()}:{os.getpid()}")

    def driver_alive(self) -> bool | None:
        """True/False when the driver ran on this host; None when it ran elsewhere or never."""
        driver = self.meta("driver") or ""
        host, _, pid = driver.rpartition(":")
        if not pid.isdigit() or host != socket.gethostname():
            return None
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    # candidates
    def add_candidate(self, code: str, hash_: str, parents: tuple[str, ...], operator: str, note: str = "",
                      prompt_hash: str | None = None, meta: dict[str, Any] | None = None) -> Candidate | None:
        """Insert a new candidate; None if a program with the same hash already exists."""
        with self._tx():
            if self.conn.execute("SELECT 1 FROM candidates WHERE hash = ?", (hash_,)).fetchone():
                return None
            seq = (self.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM candidates").fetchone()[0]) + 1
            gen = 0
            if parents:
                marks = ",".join("?" * len(parents))
                gen = 1 + (self.conn.execute(f"SELECT COALESCE(MAX(generation), -1) FROM candidates WHERE id IN ({marks})",
                                             parents).fetchone()[0])
            cid = f"c{seq:04d}"
            self.conn.execute(
                "INSERT INTO candidates VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (cid, seq, hash_, code, json.dumps(list(parents)), operator, note, gen, prompt_hash,
                 json.dumps(meta or {}), time.time()))
        return self.candidate(cid)

    def has_hash(self, hash_: str) -> bool:
        return self.conn.execute("SELECT 1 FROM candidates WHERE hash = ?", (hash_,)).fetchone() is not None

    def candidate(self, cid: str) -> Candidate:
        row = self.conn.execute("SELECT * FROM candidates WHERE id = ?", (cid,)).fetchone()
        if row is None:
            raise StoreError(f"no candidate {cid!r} in {self.path.parent}")
        return _candidate(row)

    def candidates(self) -> list[Candidate]:
        return [_candidate(r) for r in self.conn.execute("SELECT * FROM candidates ORDER BY seq")]

    def seed_ids(self) -> dict[str, str]:
        """Seed name -> the earliest candidate that seed entered the campaign as (operator `seed:NAME`)."""
        out: dict[str, str] = {}
        for cid, op in self.conn.execute("SELECT id, operator FROM candidates WHERE operator LIKE 'seed:%' ORDER BY seq"):
            out.setdefault(op[len("seed:"):], cid)
        return out

    def code_sizes(self) -> dict[str, int]:
        """Each candidate's source length, without reading the sources into Python."""
        return dict(self.conn.execute("SELECT id, length(code) FROM candidates"))

    def count_candidates(self) -> int:
        # seq runs 1..N without gaps (candidates are never deleted): an index lookup, not a scan
        return self.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM candidates").fetchone()[0]

    # evaluations
    def add_evaluation(self, cid: str, fidelity: str, result: Any) -> None:
        with self._tx():
            self.conn.execute(
                "INSERT OR REPLACE INTO evaluations (candidate_id, fidelity, status, metrics, per_category, per_item,"
                " failures, resources, error, finished_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (cid, fidelity, result.status, json.dumps(result.metrics), json.dumps(result.per_category),
                 json.dumps(result.per_item), json.dumps(result.failures), json.dumps(result.resources),
                 result.error, time.time()))

    def evaluations(self, fidelity: str | None = None) -> list[Evaluation]:
        if fidelity is None:
            rows = self.conn.execute("SELECT * FROM evaluations ORDER BY id")
        else:
            rows = self.conn.execute("SELECT * FROM evaluations WHERE fidelity = ? ORDER BY id", (fidelity,))
        return [_evaluation(r) for r in rows]

    def evaluation(self, cid: str, fidelity: str) -> Evaluation | None:
        row = self.conn.execute("SELECT * FROM evaluations WHERE candidate_id = ? AND fidelity = ?",
                                (cid, fidelity)).fetchone()
        return _evaluation(row) if row else None

    # llm calls and decisions
    def add_llm_call(self, record: dict[str, Any]) -> int:
        cols = ("time", "model", "purpose", "prompt_hash", "request", "response", "prompt_tokens",
                "completion_tokens", "cost_usd", "latency_s", "error", "candidate_id", "priced")
        values = [record.get(c) for c in cols]
        values[12] = int(bool(record.get("cost_known", True)))
        values[0] = values[0] or time.time()
        values[4] = values[4] if isinstance(values[4], str) else json.dumps(values[4])
        defaults = {5: "", 6: 0, 7: 0, 8: 0.0, 9: 0.0, 10: ""}
        for i, d in defaults.items():
            if values[i] is None:
                values[i] = d
        with self._tx():
            cur = self.conn.execute(f"INSERT INTO llm_calls ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})",
                                    values)
        return int(cur.lastrowid)

    def attach_llm_call_ids(self, cid: str, call_ids: list[int]) -> None:
        """Link exactly these calls to the candidate they made (two proposals may send the same prompt)."""
        with self._tx():
            self.conn.executemany("UPDATE llm_calls SET candidate_id = ? WHERE id = ?", [(cid, i) for i in call_ids])

    def attach_llm_calls(self, cid: str, prompt_hashes: list[str]) -> None:
        """Link the LLM calls that made a candidate to it (calls happen before the candidate exists)."""
        with self._tx():
            self.conn.executemany("UPDATE llm_calls SET candidate_id = ? WHERE prompt_hash = ? AND candidate_id IS NULL",
                                  [(cid, h) for h in prompt_hashes])

    def llm_spend(self) -> float:
        return float(self.conn.execute("SELECT COALESCE(SUM(cost_usd), 0) FROM llm_calls").fetchone()[0])

    def log(self, kind: str, **data: Any) -> None:
        with self._tx():
            self.conn.execute("INSERT INTO events (time, kind, data) VALUES (?,?,?)",
                              (time.time(), kind, json.dumps(data, sort_keys=True, default=str)))

    def events(self, kind: str | None = None) -> Iterator[tuple[float, str, dict[str, Any]]]:
        q = "SELECT * FROM events" + (" WHERE kind = ?" if kind else "") + " ORDER BY id"
        for r in self.conn.execute(q, (kind,) if kind else ()):
            yield r["time"], r["kind"], json.loads(r["data"])

    # ---- read-only queries for inspection (status, show, report) ----------------------------
    def evaluations_of(self, cid: str) -> list[Evaluation]:
        """Every stage result of one candidate, in the order they finished."""
        return [_evaluation(r) for r in self.conn.execute(
            "SELECT * FROM evaluations WHERE candidate_id = ? ORDER BY id", (cid,))]

    def llm_calls_of(self, cid: str, prompt_hash: str | None = None) -> list[dict[str, Any]]:
        """The LLM calls that made a candidate: linked by candidate_id, else by its prompt hash."""
        rows = self.conn.execute("SELECT * FROM llm_calls WHERE candidate_id = ? OR (? IS NOT NULL AND prompt_hash = ?)"
                                 " ORDER BY id", (cid, prompt_hash, prompt_hash))
        return [dict(r) for r in rows]

    def llm_totals(self) -> dict[str, float]:
        row = self.conn.execute("SELECT COUNT(*), COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0),"
                                " COALESCE(SUM(cost_usd), 0), COALESCE(SUM(error != ''), 0),"
                                " COALESCE(SUM(error = '' AND priced = 0), 0) FROM llm_calls").fetchone()
        return {"calls": row[0], "prompt_tokens": row[1], "completion_tokens": row[2], "cost_usd": float(row[3]),
                "errors": row[4], "unpriced": row[5]}
