"""Record/replay of LLM calls: a JSONL cassette keyed by (model, hash of the messages).

In ``record`` mode every answered call is appended to the file (one JSON object a line,
flushed at once, so a killed campaign keeps what it paid for). In ``replay`` mode the
network is never touched: each call is answered from the file, and a call the file does
not hold raises `CassetteMiss` naming the model and the hash. ``off`` does neither.

The same prompt can be asked more than once (a parent picked twice); the n-th ask of a
key gets the n-th recorded answer of that key, so a replayed campaign gets exactly the
answers, in the same order, that the recorded one got.
"""
from __future__ import annotations

import json
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

MODES = ("off", "record", "replay")


class CassetteMiss(LookupError):
    """Replay asked for a call the cassette does not hold."""


class CassetteError(ValueError):
    """The cassette file cannot be read."""


class Cassette:
    def __init__(self, path: str | Path, mode: str = "replay") -> None:
        if mode not in MODES:
            raise ValueError(f"cassette mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.path = Path(path)
        self.mode = mode
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        self._asked: dict[tuple[str, str], int] = defaultdict(int)
        if mode == "replay":
            if not self.path.is_file():
                raise CassetteError(f"no LLM cassette at {self.path} (record one with mode 'record')")
            self._load()
        elif mode == "record":
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.is_file():
                self._drop_torn_tail()
                self._load()  # appending to an earlier recording: keep its occurrence counts

    def _drop_torn_tail(self) -> None:
        """A process killed mid-write leaves a last line without its newline: drop it before appending."""
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            with self.path.open("r+b") as fh:
                fh.truncate(data.rfind(b"\n") + 1)

    def _load(self) -> None:
        text = self.path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                key = (entry["model"], entry["prompt_hash"])
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                if n == len(lines) and not text.endswith("\n"):
                    break  # a torn last write: that call was never answered as far as replay knows
                raise CassetteError(f"{self.path}:{n}: not a cassette entry ({exc})") from None
            self._entries[key].append(entry)

    @property
    def active(self) -> bool:
        return self.mode != "off"

    def lookup(self, model: str, prompt_hash: str) -> dict[str, Any]:
        """The recorded answer for the next ask of (model, prompt_hash); replay mode only."""
        key = (model, prompt_hash)
        with self._lock:
            n = self._asked[key]
            recorded = self._entries.get(key, [])
            if n >= len(recorded):
                held = f"{len(recorded)} recorded" if recorded else "never recorded"
                raise CassetteMiss(f"LLM cassette {self.path} has no answer #{n + 1} for model {model!r}, "
                                   f"prompt hash {prompt_hash} ({held}); re-record it")
            self._asked[key] = n + 1
            return recorded[n]

    def mark_asked(self, model: str, prompt_hash: str) -> None:
        """Count a call made in an earlier session (a resumed replay must not re-serve its answer)."""
        with self._lock:
            self._asked[(model, prompt_hash)] += 1

    def append(self, entry: dict[str, Any]) -> None:
        """Write one answered call (record mode)."""
        key = (entry["model"], entry["prompt_hash"])
        line = json.dumps(entry, sort_keys=True, ensure_ascii=False)
        with self._lock:
            self._entries[key].append(entry)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")

    def __len__(self) -> int:
        return sum(len(v) for v in self._entries.values())
