"""Bad arguments to any ``twinledger`` command end in one line on stderr and exit code 2, never a traceback.

Every option of every sub-command that takes a number, a day or one of a set of words is checked as the
arguments are parsed. The fuzz test walks the parser (so a new command is covered as it is added), draws
argument vectors with random values for those options (negatives, zero, huge, non-numbers, unknown
words, unknown options) and runs them through ``twinledger.cli.main``: a vector the options' bounds refuse
must end in exit code 2 with one line on stderr before any work starts; one they accept is parsed (the
parse-only path) to the values Python reads from the text.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin_models.bounds import Day, Number, Whole
from twinledger.cli import build_parser, main
from twinledger.cli import demo as demo_cli

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


@dataclass(frozen=True)
class Command:
    path: tuple[str, ...]
    parser: argparse.ArgumentParser

    def actions(self) -> list[argparse.Action]:
        return [a for a in self.parser._actions if not isinstance(a, argparse._HelpAction)]


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[Command]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield Command(path, parser)
    for action in subs:
        for name, sub in action.choices.items():
            yield from _commands(sub, (*path, name))


COMMANDS = sorted(_commands(build_parser()), key=lambda c: c.path)
BOUNDED = (Whole, Number, Day)


def _checked(action: argparse.Action) -> bool:
    """An action whose values the fuzz test draws: a bounded number or day, or a set of words."""
    return isinstance(action.type, BOUNDED) or action.choices is not None


def _takes_value(action: argparse.Action) -> bool:
    return action.nargs != 0


def test_every_numeric_option_of_every_command_is_bounded() -> None:
    unbounded = []
    for command in COMMANDS:
        for action in command.actions():
            numeric_default = isinstance(action.default, int | float) and not isinstance(action.default, bool)
            numeric_type = action.type in (int, float) or action.type is date.fromisoformat
            if numeric_type or (numeric_default and _takes_value(action) and not isinstance(action.type, BOUNDED)):
                unbounded.append(f"{' '.join(command.path)} {action.dest}")
    assert unbounded == []
    # and the walk found the commands (a regression in it would make the fuzz test vacuous)
    paths = {c.path for c in COMMANDS}
    assert {("demo",), ("up",), ("api",), ("anomaly", "train"), ("edge", "run"), ("federated", "run")} <= paths
    assert sum(_checked(a) for c in COMMANDS for a in c.actions()) >= 40


# -- the oracle: what each option takes, read from the text the way Python reads numbers -----------------

_NEGATIVE = re.compile(r"^-\d+$|^-\d*\.\d+$")  # what argparse takes as a value, not an option, after "-"


def _expected(action: argparse.Action, text: str) -> tuple[bool, Any]:
    """(valid, value) of ``text`` for ``action``, computed without the option's own type callable."""
    if text.startswith("-") and not _NEGATIVE.match(text):
        return False, None  # argparse reads it as an option: "expected one argument"
    if action.choices is not None and not isinstance(action.type, BOUNDED):
        return text in action.choices, text
    bound = action.type
    if isinstance(bound, Whole):
        try:
            value: Any = int(text)
        except ValueError:
            return False, None
        return (bound.low is None or value >= bound.low) and (bound.high is None or value <= bound.high), value
    if isinstance(bound, Number):
        try:
            value = float(text)
        except ValueError:
            return False, None
        if not math.isfinite(value):
            return False, None
        low_ok = bound.low is None or (value > bound.low if bound.low_open else value >= bound.low)
        high_ok = bound.high is None or (value < bound.high if bound.high_open else value <= bound.high)
        return low_ok and high_ok, value
    assert isinstance(bound, Day)
    try:
        value = date.fromisoformat(text)
    except ValueError:
        return False, None
    return bound.first <= value <= bound.last, value


def _valid_text(action: argparse.Action) -> str:
    """A value the action takes (the baseline of a required one)."""
    if action.choices is not None and not isinstance(action.type, BOUNDED):
        return str(next(iter(action.choices)))
    bound = action.type
    if isinstance(bound, Whole):
        return str(bound.low if bound.low is not None else 0)
    if isinstance(bound, Number):
        low, high = bound.low, bound.high
        if low is not None and high is not None:
            return str((low + high) / 2)
        return str(low + 1 if low is not None else 0 if high is None or high > 0 else high - 1)
    if isinstance(bound, Day):
        return bound.first.isoformat()
    return "x.json"


def _baseline(command: Command) -> tuple[list[str], set[str]]:
    """The command's required arguments with acceptable values, and the dests they use."""
    argv: list[str] = [*command.path]
    used: set[str] = set()
    for group in command.parser._mutually_exclusive_groups:
        if group.required:
            first = group._group_actions[0]
            argv += [first.option_strings[0], _valid_text(first)]
            used |= {a.dest for a in group._group_actions}
    for action in command.actions():
        if action.dest in used:
            continue
        if action.option_strings and action.required:
            argv += [action.option_strings[0], _valid_text(action)]
            used.add(action.dest)
        elif not action.option_strings and action.nargs is None:
            argv.append(_valid_text(action))
            used.add(action.dest)
    return argv, used


NUMBERS = st.one_of(
    st.integers(min_value=-(10**6), max_value=10**6).map(str),
    st.sampled_from(["0", "1", "-1", "2", "64", "65", "3600", "65535", "65536", "4294967296", "10" * 20]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "inf", "-inf", "1e999", "0.5", "-0.5", "1.5", "0x10", "1/2", "", " ", "--help-me"]),
)
WORDS = st.one_of(
    st.sampled_from(["zscore", "serve", "openapi", "shift", "synthetic", "trimmed", "keccak256-jcs", "bogus"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12),
)
DAYS = st.one_of(st.dates().map(date.isoformat), st.sampled_from(["2026-13-01", "2026-02-30", "yesterday", ""]))


def _values(action: argparse.Action) -> st.SearchStrategy[str]:
    if action.choices is not None and not isinstance(action.type, BOUNDED):
        return st.one_of(st.sampled_from([str(c) for c in action.choices]), WORDS)
    if isinstance(action.type, Day):
        return DAYS
    return NUMBERS


@st.composite
def vectors(draw: st.DrawFn) -> tuple[list[str], bool, dict[str, Any]]:
    """(argv, whether every value is acceptable, the values expected by dest)."""
    command = draw(st.sampled_from(COMMANDS))
    argv, used = _baseline(command)
    valid, expected = True, {}
    candidates = [a for a in command.actions() if _checked(a) and a.dest not in used and a.option_strings]
    for action in draw(
        st.lists(st.sampled_from(candidates), unique_by=lambda a: a.dest) if candidates else st.just([])
    ):
        text = draw(_values(action))
        argv += [draw(st.sampled_from(action.option_strings)), text]
        ok, value = _expected(action, text)
        valid &= ok
        expected[action.dest] = value
    if draw(st.integers(0, 9)) == 0:  # an unknown option or word
        argv.append(draw(st.sampled_from(["--no-such-option", "--machinez=3", "surplus-word"])))
        valid = False
    return argv, valid, expected


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(vectors())
def test_random_arguments_are_parsed_or_refused_in_one_line(vector: tuple[list[str], bool, dict[str, Any]]) -> None:
    argv, valid, expected = vector
    if valid:  # the parse-only path: nothing runs
        args = build_parser().parse_args(argv)
        for dest, value in expected.items():
            assert getattr(args, dest) == value, (argv, dest)
        return
    code, out, err = _run(argv)
    assert code == 2, (argv, err)
    assert out == "" and "Traceback" not in err
    assert len(err.splitlines()) == 1 and err.endswith("\n"), (argv, err)
    assert err.startswith("twinledger") and ": error: " in err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["demo", "--machines", "0"], "argument --machines: must be a whole number from 1 to 64, not '0'"),
        (["demo", "--days", "-3"], "argument --days: must be a whole number from 1 to 31, not '-3'"),
        (["demo", "--batch", "100000"], "argument --batch: must be a whole number from 1 to 400"),
        (["demo", "--start", "2026-02-30"], "argument --start: must be a day (YYYY-MM-DD)"),
        (["up", "--speed", "0"], "argument --speed: must be a number above 0 and at most 3600, not '0'"),
        (["api", "--port", "70000"], "argument --port: must be a whole number from 0 to 65535"),
        (["anomaly", "train", "--csv", "a", "--out", "b", "--quantile", "1"], "must be a number above 0 and below 1"),
        (["anomaly", "train", "--csv", "a", "--out", "b", "--persistence", "6/5"], "need 1 <= k <= n"),
        (["federated", "run", "--aggregation", "mean"], "argument --aggregation: invalid choice: 'mean'"),
        (["edge", "run", "--config", "g.yaml", "--drain", "nan"], "argument --drain: must be a number at least 0"),
        (["oee", "--scenario", "s.json", "--by", "month"], "argument --by: invalid choice: 'month'"),
        (["maintenance", "due", "--plan", "p", "--export", "e", "--at", "yesterday"], "argument --at: 'yesterday'"),
        (
            ["billing", "close", "--now", "2026-01-05T06:00:00"],
            "argument --now: '2026-01-05T06:00:00' has no time zone",
        ),
    ],
)
def test_the_one_line_says_what_the_option_takes(argv: list[str], says: str) -> None:
    code, out, err = _run(argv)
    assert (code, out) == (2, "")
    assert err.startswith(f"twinledger {' '.join(argv[: 1 if argv[0] in ('demo', 'up', 'api', 'oee') else 2])}")
    assert says in err and len(err.splitlines()) == 1


def test_a_cheap_valid_command_exits_0() -> None:
    code, out, err = _run(["maintenance", "plan-schema"])
    assert code == 0 and json.loads(out)["type"] == "object" and err == ""
    code, out, _ = _run(["maintenance", "plan-check", str(EXAMPLES / "maintenance-plan.json")])
    assert code == 0 and json.loads(out)["ok"] is True


def test_a_domain_error_from_the_input_is_one_line_and_2(monkeypatch: pytest.MonkeyPatch) -> None:
    from twin_models.billing import BillingError

    # a command whose input breaks a domain rule once it runs (past every parse-time check)
    def refuse(args: argparse.Namespace) -> int:
        raise BillingError("lease 'x': tariff has no components\n  (at tariff.components)")

    monkeypatch.setattr(demo_cli, "_run", refuse)
    code, out, err = _run(["demo", "--machines", "1"])
    assert (code, out) == (2, "")
    assert err == "twinledger demo: error: lease 'x': tariff has no components; (at tariff.components)\n"

    def value_error(args: argparse.Namespace) -> int:
        raise ValueError("not a P-256 key")

    monkeypatch.setattr(demo_cli, "_run", value_error)
    assert _run(["demo"]) == (2, "", "twinledger demo: error: not a P-256 key\n")


def test_a_bad_time_for_a_command_that_reads_files_is_one_line(tmp_path: Path) -> None:
    plan = str(EXAMPLES / "maintenance-plan.json")
    code, out, err = _run(["maintenance", "due", "--plan", plan, "--export", str(tmp_path / "none.json")])
    assert (code, out) == (2, "") and len(err.splitlines()) == 1 and "none.json" in err


@pytest.mark.parametrize("argv", [["nosuch"], ["anomaly", "fit"], ["demo", "--machines"], ["demo", "--machine=3x"]])
def test_an_unknown_command_or_a_missing_value_is_one_line_too(argv: list[str]) -> None:
    code, out, err = _run(argv)
    assert (code, out) == (2, "") and len(err.splitlines()) == 1 and "Traceback" not in err
    assert re.match(r"twinledger( \w+)?: error: ", err)
