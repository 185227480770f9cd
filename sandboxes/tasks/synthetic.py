"""A deterministic synthetic multi-session conversation with gold evidence ids.

Each episode is a conversation between a user and an assistant over several sessions.
Planted among chit-chat are facts about the user's people and things; some are later
updated (the newer turn supersedes the older), some chain (multi-hop), some carry a date
(temporal), some state the user's preferences, and some questions ask for things never
said (abstention). ``size`` pads the chit-chat until the stream holds about that many
events; from 10^4 events on the steps are generated lazily while they are written, so a
10^6-event scale run never holds its stream in memory.
"""
from __future__ import annotations

import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from design_space.contract import Event, Query, Signal
from sandboxes.tasks.base import Episode, Gold, Stream, TaskError

DAY = 86400.0
LINE_SECONDS = 60.0
EPOCH = 1_700_000_000.0  # 2023-11-14, a fixed origin so streams are byte-identical
LAZY_FROM = 10_000  # events; below this the steps are a plain list

NAMES = ["Anna", "Bruno", "Chloe", "Dmitri", "Elena", "Farid", "Greta", "Hiro", "Ines", "Jonas",
         "Kemal", "Lena", "Marco", "Nadia", "Omar", "Priya", "Quentin", "Rosa", "Sven", "Tara"]
RELATIONS = ["sister", "brother", "cousin", "neighbour", "colleague", "friend", "aunt", "uncle"]
CITIES = ["Lisbon", "Oslo", "Kyoto", "Nairobi", "Lima", "Quebec", "Tbilisi", "Hanoi", "Porto",
          "Zagreb", "Cusco", "Riga", "Dakar", "Perth", "Bergen", "Malmo"]
JOBS = ["nurse", "carpenter", "pilot", "baker", "architect", "chemist", "librarian", "welder",
        "translator", "botanist", "jeweller", "surveyor"]
PETS = ["dog", "cat", "parrot", "tortoise", "rabbit", "ferret"]
PET_NAMES = ["Rex", "Miso", "Pepper", "Biscuit", "Nova", "Ziggy", "Olive", "Mango", "Taro", "Juno"]
FOODS = ["carrots", "sardines", "blueberries", "peanuts", "lettuce", "cheese", "apples", "rice"]
HOBBIES = ["pottery", "rock climbing", "the cello", "chess", "birdwatching", "sailing",
           "calligraphy", "fencing", "beekeeping", "salsa dancing"]
PREFERENCES = {  # domain -> options; the user states one preference per chosen domain
    "drink": ["green tea", "espresso", "hot chocolate", "sparkling water"],
    "airline seat": ["window seats", "aisle seats"],
    "music": ["jazz", "punk rock", "baroque music", "synth pop"],
    "holiday": ["hiking trips", "beach resorts", "city breaks", "cruises"],
    "cuisine": ["Thai food", "Ethiopian food", "Georgian food", "Peruvian food"],
}
CHAT = [
    "The weather has been strange lately, sunny one hour and raining the next.",
    "I watched a documentary about deep sea creatures last night.",
    "Work was busy today, lots of meetings and not much done.",
    "I'm thinking of repainting the kitchen some time soon.",
    "Traffic this morning was terrible, took forever to get anywhere.",
    "I tried a new coffee place, it was fine but nothing special.",
    "Did you know octopuses have three hearts? Fascinating.",
    "I finally cleaned out the garage over the weekend.",
    "My phone battery keeps dying, I might need a new one.",
    "I've been sleeping badly, maybe too much screen time.",
    "The neighbours are renovating and it is so noisy.",
    "I read half a novel on the train, it was quite gripping.",
]
REPLIES = ["That sounds nice.", "Tell me more!", "Interesting, thanks for sharing.",
           "I'll remember that.", "Good to know.", "Oh really? How did that go?"]
CATEGORIES = ("single_fact", "update", "multi_hop", "temporal", "preference", "abstention")


@dataclass
class _Params:
    conversations: int = 4
    sessions: int = 6
    chat_per_session: int = 8
    people: int = 5
    preferences: int = 2
    budget_tokens: int = 64
    subset_conversations: int = 2
    smoke_conversations: int = 1
    size: int = 0  # about this many events in the full stream (0: from the counts above)
    protocol: str = "frozen"


def _parse(params: dict[str, Any]) -> _Params:
    allowed = set(_Params.__dataclass_fields__)
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise TaskError(f"synthetic task: unknown parameter {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")
    p = _Params(**params)
    if p.protocol not in ("frozen", "streaming"):
        raise TaskError(f"synthetic task: parameter 'protocol' must be frozen or streaming, not {p.protocol!r}")
    for name in allowed - {"protocol", "size", "preferences"}:
        value = getattr(p, name)
        if not isinstance(value, int) or value < 1:
            raise TaskError(f"synthetic task: parameter {name!r} must be an integer >= 1")
    if not isinstance(p.size, int) or p.size < 0:
        raise TaskError("synthetic task: parameter 'size' must be an integer >= 0")
    if p.people > len(NAMES) - 2:
        raise TaskError(f"synthetic task: 'people' must be <= {len(NAMES) - 2}")
    if not 0 <= p.preferences <= len(PREFERENCES):
        raise TaskError(f"synthetic task: 'preferences' must be between 0 and {len(PREFERENCES)}")
    return p


def session_of(event_id: str) -> str:
    """Event ids are ``<conv>:s<session>:<line>[r]``; the session is ``<conv>-s<session>``."""
    conv, sess, _line = event_id.split(":", 2)
    return f"{conv}-{sess}"


class SessionsById(Mapping):
    """event id -> session, computed from the id, so scale streams need no 10^6-entry dict.

    Iterates over the planted events only (the ones gold can name); lookups work for all."""

    def __init__(self, known: list[str]) -> None:
        self._known = known

    def __getitem__(self, key: str) -> str:
        try:
            return session_of(key)
        except ValueError:
            raise KeyError(key) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._known)

    def __len__(self) -> int:
        return len(self._known)


@dataclass
class _Session:
    index: int
    start: float
    lines: int
    planted: dict[int, str] = field(default_factory=dict)  # line -> text


@dataclass
class _Plan:
    cid: str
    seed: int
    sessions: list[_Session]
    queries: list[tuple[int, Query]]  # (ask after session index, query)

    def steps(self) -> Iterator[Event | Query | Signal]:
        """Regenerates the same steps on every call (each session has its own seeded rng)."""
        for s in self.sessions:
            rng = random.Random(f"{self.seed}:{self.cid}:{s.index}:lines")
            name = f"{self.cid}-s{s.index}"
            for i in range(s.lines):
                chat = CHAT[rng.randrange(len(CHAT))]
                replied = rng.random() < 0.5
                reply = REPLIES[rng.randrange(len(REPLIES))]
                at = s.start + i * LINE_SECONDS
                yield Event(f"{self.cid}:s{s.index}:{i}", s.planted.get(i, chat), at, "user", name)
                if replied:
                    yield Event(f"{self.cid}:s{s.index}:{i}r", reply, at + 30.0, "assistant", name)
            end = s.start + s.lines * LINE_SECONDS
            yield Signal(kind="session_end", time=end, session=name)
            for after, q in self.queries:
                if after == s.index:
                    yield q
        yield Signal(kind="task_end", time=self.queries[-1][1].time + 60.0 if self.queries else 0.0)


class LazySteps:
    """A re-iterable view of an episode's steps that generates them on each pass."""

    def __init__(self, plan: _Plan) -> None:
        self._plan = plan
        self._len: int | None = None

    def __iter__(self) -> Iterator[Event | Query | Signal]:
        return self._plan.steps()

    def __len__(self) -> int:
        """The number of steps, by replaying the random draws only (no events are built)."""
        if self._len is None:
            n = len(self._plan.sessions) + len(self._plan.queries) + 1  # session ends, queries, task end
            for s in self._plan.sessions:
                rng = random.Random(f"{self._plan.seed}:{self._plan.cid}:{s.index}:lines")
                for _ in range(s.lines):
                    rng.randrange(len(CHAT))
                    n += 2 if rng.random() < 0.5 else 1
                    rng.randrange(len(REPLIES))
            self._len = n
        return self._len


class SyntheticConversations:
    name = "synthetic"

    def build(self, params: dict[str, Any], fidelity: str, seed: int) -> Stream:
        p = _parse(params)
        n = {"smoke": p.smoke_conversations, "subset": p.subset_conversations, "full": p.conversations}.get(fidelity)
        if n is None:
            raise TaskError(f"unknown fidelity {fidelity!r} (use smoke, subset or full)")
        chat = p.chat_per_session
        if p.size:
            # Each line draws a reply half the time: lines * 1.5 ~ events.
            chat = max(1, round(p.size / (1.5 * p.conversations * p.sessions)) - (3 * p.people) // p.sessions)
        lazy = 1.5 * chat * p.sessions * min(n, p.conversations) >= LAZY_FROM
        known: list[str] = []
        stream = Stream(episodes=[], gold={}, event_session=SessionsById(known) if lazy else {})
        for c in range(min(n, p.conversations)):
            plan = self._plan(stream, p, chat, random.Random(f"{seed}:{c}"), f"c{c}", seed, known)
            if lazy:
                stream.episodes.append(Episode(id=plan.cid, steps=LazySteps(plan)))  # type: ignore[arg-type]
                continue
            steps = list(plan.steps())
            for step in steps:
                if isinstance(step, Event):
                    stream.event_text[step.id] = step.text
                    stream.event_session[step.id] = step.session
            stream.episodes.append(Episode(id=plan.cid, steps=steps))
        return stream

    def _plan(self, stream: Stream, p: _Params, chat: int, rng: random.Random, cid: str, seed: int,
              known: list[str]) -> _Plan:
        people = rng.sample(NAMES, p.people)
        facts = {name: {"rel": rng.choice(RELATIONS), "city": rng.choice(CITIES), "job": rng.choice(JOBS),
                        "pet": rng.choice(PETS), "pet_name": rng.choice(PET_NAMES), "food": rng.choice(FOODS),
                        "hobby": rng.choice(HOBBIES)} for name in people}
        last = p.sessions - 1
        texts: dict[int, list[tuple[str, tuple[str, str]]]] = {s: [] for s in range(p.sessions)}
        for name in people:
            f = facts[name]
            texts[rng.randrange(0, max(1, last))].append(
                (f"My {f['rel']} {name} lives in {f['city']} and works as a {f['job']}.", (name, "city")))
            s = rng.randrange(0, p.sessions)
            texts[s].append((f"{name} has a {f['pet']} called {f['pet_name']}.", (name, "pet")))
            texts[s].append((f"{f['pet_name']} absolutely loves eating {f['food']}.", (name, "food")))
            texts[rng.randrange(0, p.sessions)].append(
                (f"{name} took up {f['hobby']} this week, very excited about it.", (name, "hobby")))
        updated = rng.sample(people, max(1, p.people // 2))
        for name in updated:
            new_city = rng.choice([c for c in CITIES if c != facts[name]["city"]])
            facts[name]["city"] = new_city
            texts[last].append((f"Big news: {name} just moved to {new_city} for good.", (name, "city_update")))
        liked: dict[str, str] = {}
        for domain in rng.sample(sorted(PREFERENCES), p.preferences):
            choice, other = rng.sample(PREFERENCES[domain], 2)
            liked[domain] = choice
            texts[rng.randrange(0, p.sessions)].append(
                (f"Honestly, these days I much prefer {choice} to {other}.", ("user", domain)))
        sessions: list[_Session] = []
        evidence: dict[tuple[str, str], list[str]] = {}
        when: dict[str, float] = {}
        t = EPOCH + rng.randrange(0, 300) * DAY
        for s in range(p.sessions):
            planted = texts[s]
            rng.shuffle(planted)
            lines = chat + len(planted)
            t += rng.randrange(3, 20) * DAY
            session = _Session(s, t, lines)
            for pos, (text, key) in zip(sorted(rng.sample(range(lines), len(planted))), planted):
                eid = f"{cid}:s{s}:{pos}"
                session.planted[pos] = text
                stream.event_text[eid] = text
                known.append(eid)
                evidence.setdefault(key, []).append(eid)
                if key[1] == "hobby":
                    when[key[0]] = t + pos * LINE_SECONDS
            sessions.append(session)
            t += lines * LINE_SECONDS  # sessions never overlap, however long
        q_time = t + 2 * DAY
        queries: list[tuple[int, Query]] = []

        def ask(text: str, gold: Gold) -> None:
            qid = f"{cid}-q{len(queries) + 1}"
            after = last
            if p.protocol == "streaming" and gold.evidence:
                after = max(int(e.split(":")[1][1:]) for e in gold.evidence)
            at = q_time if after == last else sessions[after + 1].start - DAY
            stream.query_text[qid] = text
            queries.append((after, Query(id=qid, text=text, time=at, budget_tokens=p.budget_tokens)))
            sess = tuple(sorted({session_of(e) for e in gold.evidence}))
            stream.gold[qid] = Gold(evidence=gold.evidence, answer=gold.answer, category=gold.category,
                                    abstain=gold.abstain, evidence_sessions=sess)

        for name in people:
            f = facts[name]
            if name in updated:
                ask(f"Which city does {name} live in now?",
                    Gold(evidence=tuple(evidence[(name, "city_update")]), answer=f["city"], category="update"))
            else:
                ask(f"Where does my {f['rel']} {name} live?",
                    Gold(evidence=tuple(evidence[(name, "city")]), answer=f["city"], category="single_fact"))
            ask(f"What does {name}'s {f['pet']} like to eat?",
                Gold(evidence=tuple(evidence[(name, "pet")] + evidence[(name, "food")]), answer=f["food"],
                     category="multi_hop"))
            ask(f"When did {name} start {f['hobby']}?",
                Gold(evidence=tuple(evidence[(name, "hobby")]),
                     answer=time.strftime("%d %B %Y", time.gmtime(when[name])), category="temporal"))
        for domain, choice in liked.items():
            ask(f"What kind of {domain} do I prefer?",
                Gold(evidence=tuple(evidence[("user", domain)]), answer=choice, category="preference"))
        absent = [n for n in NAMES if n not in people]
        for name in rng.sample(absent, min(2, len(absent))):
            ask(f"What instrument does {name} play?", Gold(category="abstention", abstain=True))
        return _Plan(cid, seed, sessions, queries)
