"""SEARCH/REPLACE parsing and application on messy, realistic model output."""
from __future__ import annotations

from pathlib import Path

from design_space.validate import validate_source
from evolve.operators.edits import apply_blocks, parse_reply

# The bm25_rag and recency_window seeds, frozen so that edits and recorded cassettes stay valid.
PARENTS = Path(__file__).resolve().parent / "fixtures" / "llm" / "parents"
BM25 = (PARENTS / "bm25_rag.py").read_text()
RECENCY = (PARENTS / "recency_window.py").read_text()


def test_fenced_blocks_with_prose_and_bold_note_apply():
    reply = """Looking at the failures, the multi-hop questions need more candidates and the
speaker name should count as a keyword.

```python
<<<<<<< SEARCH
TOP_K = 10
=======
TOP_K = 14
>>>>>>> REPLACE
```

```python
<<<<<<< SEARCH
        return [Doc(event.id, text, Counter(tokenize(event.text)))]
=======
        return [Doc(event.id, text, Counter(tokenize(text)))]
>>>>>>> REPLACE
```

**NOTE:** recall more turns and index the speaker name with the text
"""
    parsed = parse_reply(reply)
    assert parsed.problems == []
    assert len(parsed.blocks) == 2
    assert parsed.note == "recall more turns and index the speaker name with the text"
    code, problems = apply_blocks(BM25, parsed.blocks)
    assert problems == []
    assert "TOP_K = 14\n" in code and "TOP_K = 10\n" not in code
    assert "Counter(tokenize(text))" in code
    assert validate_source(code) == []


def test_trailing_whitespace_and_marker_length_drift():
    reply = ("<<<<<<<< SEARCH\n"
             "WINDOW = 64  # turns kept   \n"
             "SHOW_SPEAKER = True\t\n"
             "=========\n"
             "WINDOW = 128  # turns kept\n"
             "SHOW_SPEAKER = True\n"
             ">>>>>>>> REPLACE\n"
             "NOTE: double the window\n")
    parsed = parse_reply(reply)
    code, problems = apply_blocks(RECENCY, parsed.blocks)
    assert problems == []
    assert "WINDOW = 128  # turns kept\n" in code
    assert parsed.note == "double the window"


def test_dedented_search_is_matched_and_replacement_reindented():
    # The model quoted a method body without its class indentation.
    reply = """<<<<<<< SEARCH
def manage(self, signal: Signal) -> None:
    return None
=======
def manage(self, signal: Signal) -> None:
    if signal.kind == "session_end":
        self.turns = deque(list(self.turns)[-WINDOW:], maxlen=max(1, int(WINDOW)))
    return None
>>>>>>> REPLACE
NOTE: trim the window at session boundaries"""
    code, problems = apply_blocks(RECENCY, parse_reply(reply).blocks)
    assert problems == []
    assert '    def manage(self, signal: Signal) -> None:\n        if signal.kind == "session_end":\n' in code
    assert validate_source(code) == []


def test_search_not_found_is_reported_with_closest_lines_and_others_still_apply():
    reply = """<<<<<<< SEARCH
TOP_K = 10
=======
TOP_K = 8
>>>>>>> REPLACE
<<<<<<< SEARCH
    def retrieve(self, query: Query) -> Recall:
        n = len(self.documents)
=======
    def retrieve(self, query: Query) -> Recall:
        n = len(self.docs) or 0
>>>>>>> REPLACE
NOTE: fewer items"""
    parsed = parse_reply(reply)
    code, problems = apply_blocks(BM25, parsed.blocks)
    assert len(problems) == 1
    assert problems[0].startswith("block 2: the SEARCH part (starting 'def retrieve(self, query: Query) -> Recall:')")
    assert "closest lines" in problems[0] and "n = len(self.docs)" in problems[0]
    assert "TOP_K = 8\n" in code  # block 1 applied


def test_ambiguous_search_is_reported():
    reply = "<<<<<<< SEARCH\n        return None\n=======\n        return\n>>>>>>> REPLACE\nNOTE: x"
    source = RECENCY.replace("    def manage(self, signal: Signal) -> None:\n        return None",
                             "    def manage(self, signal: Signal) -> None:\n        return None\n\n"
                             "    def reset(self) -> None:\n        return None")
    code, problems = apply_blocks(source, parse_reply(reply).blocks)
    assert code == source
    assert len(problems) == 1 and "matches 2 places" in problems[0]


def test_unterminated_block_and_prose_only_answers_are_problems():
    parsed = parse_reply("<<<<<<< SEARCH\nTOP_K = 10\n=======\nTOP_K = 3\n")
    assert parsed.blocks == [] and "no >>>>>>> REPLACE" in parsed.problems[0]
    prose = parse_reply("I would raise TOP_K to 20 and add a recency boost; that should help.")
    assert not prose.has_edits
    assert prose.problems == ["your answer contains no SEARCH/REPLACE blocks; nothing was changed"]


def test_full_program_in_a_fence_is_a_rewrite():
    new = BM25.replace("TOP_K = 10", "TOP_K = 6")
    parsed = parse_reply(f"Here is the full program:\n\n```python\n{new}```\n\nNote: smaller top-k\n",
                         full_rewrite=True)
    assert parsed.rewrite == new
    assert parsed.note == "smaller top-k"
    # a snippet that is not a whole program is not taken for one
    snippet = parse_reply("```python\nTOP_K = 6\n```\nNOTE: x", full_rewrite=True)
    assert snippet.rewrite is None and snippet.problems


def test_note_falls_back_to_first_prose_line():
    reply = "Raise top-k for multi-hop.\n<<<<<<< SEARCH\nTOP_K = 10\n=======\nTOP_K = 16\n>>>>>>> REPLACE\n"
    assert parse_reply(reply).note == "Raise top-k for multi-hop."


def test_fences_inside_the_parts_are_not_code():
    reply = "<<<<<<< SEARCH\n```python\nTOP_K = 10\n```\n=======\n```python\nTOP_K = 11\n```\n>>>>>>> REPLACE\nNOTE: k"
    code, problems = apply_blocks(BM25, parse_reply(reply).blocks)
    assert problems == [] and "TOP_K = 11\n" in code and "```" not in code


def test_a_block_re_sent_after_it_was_applied_is_a_no_op():
    block = "<<<<<<< SEARCH\nTOP_K = 10\n=======\nTOP_K = 12\n>>>>>>> REPLACE\n"
    done: set = set()
    once, _ = apply_blocks(BM25, parse_reply(block + "NOTE: k").blocks, done)
    twice, problems = apply_blocks(once, parse_reply(block + "NOTE: k").blocks, done)
    assert problems == [] and twice == once
    # outside a conversation that applied it, the same block is a real miss
    _, problems = apply_blocks(once, parse_reply(block + "NOTE: k").blocks)
    assert len(problems) == 1 and "is not in the program" in problems[0]
