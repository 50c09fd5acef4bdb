from envfoundry import extract_answer
from envfoundry.core import parse_int, parse_int_list


def test_extraction_takes_the_last_block_case_insensitively_across_lines():
    assert extract_answer("<answer>1</answer> then <ANSWER>\n 2 3 \n</Answer>") == "2 3"
    assert extract_answer("no tags here") is None
    assert extract_answer("<answer>unclosed") is None
    assert extract_answer("<answer></answer>") == ""
    assert extract_answer(None) is None


def test_parse_int_is_strict():
    assert parse_int(" -12. ") == -12
    assert parse_int("+7") == 7
    for bad in ["", "1 2", "1,2", "3.5", "1e3", "x=3", "1" * 65, "٣"]:
        assert parse_int(bad) is None, bad


def test_parse_int_list_accepts_common_separators_and_brackets():
    assert parse_int_list("[1, 2, 3]") == [1, 2, 3]
    assert parse_int_list("4;5 6") == [4, 5, 6]
    assert parse_int_list("1 two 3") is None
    assert parse_int_list("") is None


def test_parse_int_list_options_and_trailing_full_stop():
    assert parse_int_list("1 2 3.") == [1, 2, 3]
    assert parse_int_list("1 -2", negative=False) is None
    assert parse_int_list("12345", max_digits=4) is None


def test_parse_moves_normalises_and_refuses_foreign_letters():
    from envfoundry.core import parse_moves

    assert parse_moves("[r, R; d u]") == "RRDU"
    assert parse_moves("RRW") is None
    assert parse_moves("RRW", alphabet="UDLRW") == "RRW"
    assert parse_moves("") is None and parse_moves("right") is None
    assert parse_moves("(RRD).") == "RRD"
    assert parse_moves("RR->D") is None
    assert parse_moves("L U R D W") is None


def test_extraction_edge_cases():
    assert extract_answer("<answer>a<answer>b</answer>") == "b"
    assert extract_answer("<answer>x</answer></answer>") == "x"
    assert extract_answer("</answer><answer>y") is None
    assert extract_answer("<answer>1</answer><answer>2") == "1"


def test_extraction_handles_adversarial_text():
    # 200,000 unclosed opening tags: a lazy regular expression rescans to the end from each one
    # (about 10^11 steps, a hung trainer); the linear scan returns at once.
    hostile = "<answer>" * 200_000 + "x"
    assert extract_answer(hostile) is None
    assert extract_answer(hostile + "</answer>") == "x"


def test_the_ascii_fast_path_finds_the_same_block_as_the_general_search():
    import random

    from envfoundry.core.answer import _extract_by_regex

    rng = random.Random(0)
    pieces = ["<answer>", "</answer>", "<ANSWER>", "</Answer>", "<aNsWeR>", " x ", "y", "<", ">", "/", "answer"]
    for _ in range(5000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 9)))
        assert extract_answer(text) == _extract_by_regex(text), text
