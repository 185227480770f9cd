"""The SQLite store: WAL mode, dedupe by program hash, generations, evaluations round-trip."""
import sqlite3

import pytest

from evolve.store import Store, StoreError
from sandboxes.job import Result


def test_create_open_roundtrip(tmp_path):
    store = Store.create(tmp_path / "r", "name: r\n")
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    a = store.add_candidate("code-a", "h-a", (), "seed:x", "seed x")
    b = store.add_candidate("code-b", "h-b", (a.id,), "structural", "TOP_K 10 → 5")
    assert (a.id, a.generation, b.generation) == ("c0001", 0, 1)
    assert store.add_candidate("code-a again", "h-a", (), "seed:y") is None
    res = Result(status="ok", metrics={"recall": 0.5}, per_category={"x": {"recall": 1.0}}, per_item={"q": 1.0})
    store.add_evaluation(b.id, "full", res)
    store.close()
    again = Store.open(tmp_path / "r")
    ev = again.evaluation("c0002", "full")
    assert ev.metrics == {"recall": 0.5} and ev.per_item == {"q": 1.0}
    assert again.candidate("c0002").parents == ("c0001",)
    assert again.meta("config") == "name: r\n"


def test_create_refuses_existing_and_open_refuses_missing(tmp_path):
    Store.create(tmp_path / "r", "x")
    with pytest.raises(StoreError, match="already holds"):
        Store.create(tmp_path / "r", "x")
    with pytest.raises(StoreError, match="no campaign"):
        Store.open(tmp_path / "nothing")


def test_open_rejects_foreign_database(tmp_path):
    (tmp_path / "r").mkdir()
    conn = sqlite3.connect(tmp_path / "r" / "campaign.db")
    conn.execute("CREATE TABLE meta (key TEXT, value TEXT)")
    conn.execute("INSERT INTO meta VALUES ('schema_version', '99')")
    conn.commit()
    with pytest.raises(StoreError, match="schema version 99"):
        Store.open(tmp_path / "r")


def test_llm_calls_add_up(tmp_path):
    store = Store.create(tmp_path / "r", "x")
    store.add_llm_call({"model": "openai/m", "purpose": "edit", "prompt_hash": "p", "request": [{"a": 1}],
                        "response": "ok", "cost_usd": 0.25})
    store.add_llm_call({"model": "openai/m", "purpose": "edit", "prompt_hash": "p", "request": "[]", "cost_usd": 0.5})
    assert store.llm_spend() == 0.75
