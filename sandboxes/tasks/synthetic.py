"""A deterministic synthetic multi-session conversation with gold evidence ids.

Each episode is a conversation between a user and an assistant over several sessions.
Planted among chit-chat are facts about the user's people and things; some are later
updated (the newer turn supersedes the older), some chain (multi-hop), some carry a date
(temporal), and some questions ask for things never said (abstention).
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

from design_space.contract import Event, Query, Signal
from sandboxes.tasks.base import Episode, Gold, Stream, TaskError

DAY = 86400.0
EPOCH = 1_700_000_000.0  # 2023-11-14, a fixed origin so streams are byte-identical

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


@dataclass
class _Params:
    conversations: int = 4
    sessions: int = 6
    chat_per_session: int = 8
    people: int = 5
    budget_tokens: int = 64
    subset_conversations: int = 2
    smoke_conversations: int = 1


def _parse(params: dict[str, Any]) -> _Params:
    allowed = set(_Params.__dataclass_fields__)
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise TaskError(f"synthetic task: unknown parameter {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")
    p = _Params(**params)
    for name in allowed:
        if int(getattr(p, name)) < 1:
            raise TaskError(f"synthetic task: parameter {name!r} must be >= 1")
    if p.people > len(NAMES):
        raise TaskError(f"synthetic task: 'people' must be <= {len(NAMES)}")
    return p


class SyntheticConversations:
    name = "synthetic"

    def build(self, params: dict[str, Any], fidelity: str, seed: int) -> Stream:
        p = _parse(params)
        n = {"smoke": p.smoke_conversations, "subset": p.subset_conversations, "full": p.conversations}.get(fidelity)
        if n is None:
            raise TaskError(f"unknown fidelity {fidelity!r} (use smoke, subset or full)")
        stream = Stream(episodes=[], gold={})
        for c in range(min(n, p.conversations)):
            self._conversation(stream, p, random.Random(f"{seed}:{c}"), f"c{c}")
        return stream

    def _conversation(self, stream: Stream, p: _Params, rng: random.Random, cid: str) -> None:
        people = rng.sample(NAMES, p.people)
        facts = {name: {"rel": rng.choice(RELATIONS), "city": rng.choice(CITIES), "job": rng.choice(JOBS),
                        "pet": rng.choice(PETS), "pet_name": rng.choice(PET_NAMES), "food": rng.choice(FOODS),
                        "hobby": rng.choice(HOBBIES)} for name in people}
        # Planned statements, spread over sessions: (session index, kind, name, text, key)
        plan: list[tuple[int, str, str]] = []
        last_session = p.sessions - 1
        for name in people:
            f = facts[name]
            plan.append((rng.randrange(0, max(1, last_session)), name, "intro"))
            plan.append((rng.randrange(0, p.sessions), name, "pet"))
            plan.append((rng.randrange(0, p.sessions), name, "hobby"))
        updated = rng.sample(people, max(1, p.people // 2))
        episode = Episode(id=cid)
        evidence: dict[tuple[str, str], list[str]] = {}
        when: dict[str, float] = {}
        turn_no = 0
        t = EPOCH + rng.randrange(0, 300) * DAY
        for s in range(p.sessions):
            session = f"{cid}-s{s}"
            t += rng.randrange(3, 20) * DAY
            lines: list[tuple[str, tuple[str, str] | None, str | None]] = []
            for chat in rng.sample(CHAT, min(p.chat_per_session, len(CHAT))):
                lines.append((chat, None, None))
            for (ps, name, kind) in plan:
                if ps != s:
                    continue
                f = facts[name]
                if kind == "intro":
                    lines.append((f"My {f['rel']} {name} lives in {f['city']} and works as a {f['job']}.", (name, "city"), None))
                elif kind == "pet":
                    lines.append((f"{name} has a {f['pet']} called {f['pet_name']}.", (name, "pet"), None))
                    lines.append((f"{f['pet_name']} absolutely loves eating {f['food']}.", (name, "food"), None))
                else:
                    lines.append((f"{name} took up {f['hobby']} this week, very excited about it.", (name, "hobby"), "hobby"))
            if s == last_session:
                for name in updated:
                    new_city = rng.choice([c for c in CITIES if c != facts[name]["city"]])
                    facts[name]["city"] = new_city
                    lines.append((f"Big news: {name} just moved to {new_city} for good.", (name, "city_update"), None))
            rng.shuffle(lines)
            for i, (text, key, temporal) in enumerate(lines):
                turn_no += 1
                eid = f"{cid}:{turn_no}"
                at = t + i * 60.0
                episode.steps.append(Event(id=eid, text=text, time=at, speaker="user", session=session))
                stream.event_text[eid] = text
                stream.event_session[eid] = session
                if key is not None:
                    evidence.setdefault(key, []).append(eid)
                    if temporal:
                        when[key[0]] = at
                if rng.random() < 0.5:
                    turn_no += 1
                    rid = f"{cid}:{turn_no}"
                    reply = rng.choice(REPLIES)
                    episode.steps.append(Event(id=rid, text=reply, time=at + 30, speaker="assistant", session=session))
                    stream.event_text[rid] = reply
                    stream.event_session[rid] = session
            episode.steps.append(Signal(kind="session_end", time=t + 3600, session=session))
        q_time = t + 2 * DAY
        qn = 0

        def ask(text: str, gold: Gold) -> None:
            nonlocal qn
            qn += 1
            qid = f"{cid}-q{qn}"
            episode.steps.append(Query(id=qid, text=text, time=q_time, budget_tokens=p.budget_tokens))
            sessions = tuple(sorted({stream.event_session[e] for e in gold.evidence}))
            stream.gold[qid] = Gold(evidence=gold.evidence, answer=gold.answer, category=gold.category,
                                    abstain=gold.abstain, evidence_sessions=sessions)

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
                Gold(evidence=tuple(evidence[(name, "hobby")]), answer=time.strftime("%d %B %Y", time.gmtime(when[name])), category="temporal"))
        absent = [n for n in NAMES if n not in people]
        for name in rng.sample(absent, min(2, len(absent))):
            ask(f"What instrument does {name} play?", Gold(category="abstention", abstain=True))
        episode.steps.append(Signal(kind="task_end", time=q_time + 60))
        stream.episodes.append(episode)
