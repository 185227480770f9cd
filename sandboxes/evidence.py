"""Evidence credit: how much of a cited event a recalled item actually shows.

A program cites source event ids with every item, and ids cost nothing, so a citation is
only worth what the item's text shows of the event. The rule, shared by the retrieval
metrics (sandboxes/scoring.py) and the experience-stream vote (sandboxes/experience_scoring.py):

- Text is normalised before any matching: format characters (zero-width spaces and joiners,
  Unicode category Cf) are deleted, then NFKC (fullwidth and compatibility forms fold to
  their plain letters), then case folding. A word is a run of word characters (``\\w+``, the
  same runs the harness's token counter counts), so one counted token shows at most one word:
  words glued by underscores or by invisible letters stay one word and match nothing.
- An event's content words are its distinct words of three or more characters, minus a stop
  list of function words. An event with no content word can never be credited.
- Words are weighted by rarity over the stream being scored: a word found in ``df`` of its
  ``N`` events weighs ``idf = ln((N+1)/(df+1)) + 1``. The share an item shows of an event is
  the weight of the event's content words that appear among the item's words over the weight
  of all the event's content words. Below ``FLOOR`` (0.35) the item earns nothing for
  that event; from the floor up it earns the share itself. So a full turn earns 1, a fact
  that keeps the turn's names and rare words ("Sven lives in Porto." for "Big news: Sven
  just moved to Porto for good.", 2 of 6 words but 0.38 of the weight) earns, and an item of the stream's most common
  words earns nothing, however many events share them.
- An event's credit in a recall is the best share any one item shows (an item is judged on
  its own text: repeating an item or spreading an event over items adds nothing).

Look-alike letters from other scripts (Cyrillic ``а`` for Latin ``a``) are not folded: they
spell different words, which then show nothing, so they cannot earn anything either.
"""
from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping
from functools import lru_cache

# Measured (docs/TASKS.md, Metrics; gaming programs replayed): from 0.5 down to 0.35 the best gaming program gains
# at most 0.03 on LoCoMo and synthetic, well below bm25_rag, while extracted facts that
# keep a turn's names (mem0) double their credit on synthetic.
FLOOR = 0.35
MIN_CHARS = 3

_WORD = re.compile(r"\w+", re.UNICODE)
_STOP = frozenset("""
the and for are was were you your with that this have has had but not they them from what when where which
who how did does will would can could about just like really yeah its she her his him our out all any one get
got been being also some than then there these those very into over only too yes okay let because much more
most such own same should may might must here why whom whose their ours yours hers mine myself yourself
itself each few both other again once while during before after above below off under until through between
doing done going lot lots thing things way well sure
""".split())


def normalise(text: str) -> str:
    """Delete format characters, apply NFKC, case-fold."""
    if text.isascii():  # no format character, and NFKC leaves ASCII as it is
        return text.casefold()
    visible = "".join(c for c in text if unicodedata.category(c) != "Cf")
    return unicodedata.normalize("NFKC", visible).casefold()


@lru_cache(maxsize=16384)  # a worker scores the same events' texts job after job
def words(text: str) -> frozenset[str]:
    """The distinct content words of `text` (normalised)."""
    return frozenset(w for w in _WORD.findall(normalise(text)) if len(w) >= MIN_CHARS and w not in _STOP)


def share(shown: frozenset[str], event: frozenset[str], weight: Mapping[str, float]) -> float:
    """Credit for an event whose content words are `event`, given an item's words `shown` and
    each word's `weight` (its idf over the stream)."""
    if not event:
        return 0.0
    # fsum: exactly rounded whatever the set's order (which follows per-process string hashes)
    total = math.fsum(weight[w] for w in event)
    s = math.fsum(weight[w] for w in event & shown) / total
    return s if s >= FLOOR else 0.0


_KEPT: OrderedDict[int, tuple[Mapping[str, str], "EventWords"]] = OrderedDict()


def event_words(event_text: Mapping[str, str]) -> "EventWords":
    """The `EventWords` of a stream's events, kept for the last few streams this process scored
    (a worker scores many jobs on one stream; its words and idf are computed once)."""
    key = id(event_text)
    kept = _KEPT.get(key)
    if kept is not None and kept[0] is event_text:
        _KEPT.move_to_end(key)
        return kept[1]
    made = EventWords(event_text)
    _KEPT[key] = (event_text, made)  # holding the mapping keeps its id from being reused
    while len(_KEPT) > 4:
        _KEPT.popitem(last=False)
    return made


class EventWords:
    """Content words of every event of a stream and their idf weights, computed on first use."""

    def __init__(self, event_text: Mapping[str, str]) -> None:
        self.text = event_text
        self._words: dict[str, frozenset[str]] = {}
        self._idf: dict[str, float] | None = None

    def __call__(self, event_id: str) -> frozenset[str]:
        got = self._words.get(event_id)
        if got is None:
            got = self._words[event_id] = words(self.text.get(event_id, ""))
        return got

    @property
    def idf(self) -> dict[str, float]:
        """Every content word of the stream's events -> ln((N+1)/(df+1)) + 1."""
        if self._idf is None:
            df: Counter[str] = Counter()
            for event_id in self.text:
                df.update(self(event_id))
            n = len(self.text)
            self._idf = {w: math.log((n + 1) / (d + 1)) + 1.0 for w, d in df.items()}
        return self._idf

    def credit(self, text: str, ids: Iterable[str], only: set[str] | None = None) -> dict[str, float]:
        """Share of each cited event (restricted to `only` if given) that one item's `text` shows;
        events shown below the floor are left out."""
        shown: frozenset[str] | None = None
        out: dict[str, float] = {}
        for i in ids:
            i = str(i)
            if (only is not None and i not in only) or i in out:
                continue
            if shown is None:
                shown = words(text)
            s = share(shown, self(i), self.idf)
            if s > 0.0:
                out[i] = s
        return out
