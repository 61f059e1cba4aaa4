"""Comparing a rescored book: every facility accounted for, migrations, outcomes, movers, caps."""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from numpy.testing import assert_allclose
from typer.testing import CliRunner

from scoring import InputError, RatingEngine, default_engine, default_model_dir
from scoring.cli.compare import compare_command
from scoring.portfolio.compare import BANDS, Comparison, compare_books, factor_changes
from scoring.portfolio.dislocation_csv import dislocation_csv, write_dislocation_csv
from scoring.portfolio.dislocation_html import render_dislocation_html, write_dislocation_html
from scoring.portfolio.run import score_book
from tests.conftest import EXAMPLES, EXAMPLES_AS_OF, ROOT

PORTFOLIO = EXAMPLES / "portfolio.csv"
PLAN = ROOT / "models" / "care-cyber-default" / "rating-plan.yaml"
NEW_RULE = "no_mfa_ehr"
GONE_RULE = "no_offline_backup"

runner = CliRunner()
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
app.command("compare")(compare_command)


@app.callback()
def _root() -> None:
    """A local app: the command is registered in scoring/cli/app.py elsewhere."""


def _new_plan(folder: Path) -> Path:
    """The bundled plan with a new version, tier bands, debit and credit caps, expenses and
    rules."""
    text = PLAN.read_text(encoding="utf-8")
    for old, new in (
        ("version: 2026.2.0", "version: 2026.3.0"),
        ("{tier: A, below: 0.65,", "{tier: A, below: 0.7,"),
        ("{tier: B, below: 0.9,", "{tier: B, below: 0.8,"),
        ("  max_debit: 2.00", "  max_debit: 1.20"),
        ("  max_credit: 0.50", "  max_credit: 0.70"),
        ("variable_ratio: 0.30", "variable_ratio: 0.36"),
        (
            "rules:\n",
            f"rules:\n  - id: {NEW_RULE}\n    outcome: refer\n"
            "    when: \"${mfa_ehr} = 'no_mfa'\"\n"
            "    reason: No multi-factor authentication on the EHR\n    source: test plan\n",
        ),
    ):
        assert old in text
        text = text.replace(old, new, 1)
    start = text.index(f"  - id: {GONE_RULE}")
    end = text.index("  - id: eol_not_isolated")
    path = folder / "plan.yaml"
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    return path


@dataclass(frozen=True)
class Books:
    before: Path
    before_csv: Path
    after: Path
    folder: Path


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> Books:
    folder = tmp_path_factory.mktemp("books")
    engine = default_engine()
    new_engine = RatingEngine.load(default_model_dir(), _new_plan(folder))
    before, before_csv, after = (
        folder / "before.parquet",
        folder / "before.csv",
        folder / "after.parquet",
    )
    score_book(PORTFOLIO, before, engine, as_of=EXAMPLES_AS_OF)
    score_book(PORTFOLIO, before_csv, engine, as_of=EXAMPLES_AS_OF)
    score_book(PORTFOLIO, after, new_engine, as_of=EXAMPLES_AS_OF)
    return Books(before, before_csv, after, folder)


@pytest.fixture(scope="module")
def rescored(books: Books) -> Comparison:
    return compare_books(books.before, books.after, cap=0.10)


def _rows(path: Path) -> dict[str, dict[str, object]]:
    return {row["facility_id"]: row for row in pq.read_table(path).to_pylist()}


def _write(rows: list[dict[str, object]], like: Path, path: Path) -> Path:
    pq.write_table(pa.Table.from_pylist(rows, schema=pq.read_schema(like)), path)
    return path


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# --- the comparison ---------------------------------------------------------------------


@pytest.mark.parametrize("second", ["before", "before_csv"])
def test_identical_books_give_a_diagonal_matrix_and_no_change(books: Books, second: str) -> None:
    same = compare_books(books.before, getattr(books, second), cap=0.10)
    assert same.counts == {"matched": 240, "answers_changed": 0, "only_before": 0, "only_after": 0}
    counts = np.array(same.migration.counts)
    assert counts.sum() == np.trace(counts) == same.migration.same == 240
    assert same.migration.better == same.migration.worse == 0
    assert [b.facilities for b in same.bands] == [0, 0, 0, 240, 0, 0, 0]
    assert same.outcome_changes == same.rules == same.movers == ()
    assert_allclose(same.premium_after, same.premium_before, rtol=0, atol=1e-9)
    assert same.capping is not None
    assert same.capping.increase_forgone == same.capping.decrease_withheld == 0
    assert same.facilities["rules_added"].isna().all()
    assert not same.questionnaire_differs


def test_a_changed_plan_gives_the_migrations_read_from_the_books(
    books: Books, rescored: Comparison
) -> None:
    before, after = _rows(books.before), _rows(books.after)
    by_hand = Counter((before[f]["tier"], after[f]["tier"]) for f in before)
    tiers = rescored.migration.tiers
    assert tiers == ("A", "B", "C", "D", "E")
    for i, old in enumerate(tiers):
        for j, new in enumerate(tiers):
            assert rescored.migration.counts[i][j] == by_hand[(old, new)]
    # the new plan narrows B from both sides: some B become A, some C
    assert rescored.migration.better == by_hand[("B", "A")] > 0
    assert rescored.migration.worse == by_hand[("B", "C")] > 0
    frame = rescored.facilities.set_index("facility_id")
    moved = sorted(f for f in before if before[f]["tier"] != after[f]["tier"])[:3]
    for facility in moved:
        row = frame.loc[facility]
        assert (row["tier_before"], row["tier_after"]) == (
            before[facility]["tier"],
            after[facility]["tier"],
        )
        old, new = before[facility]["premium"], after[facility]["premium"]
        assert_allclose(row["premium_change"], new - old, atol=1e-9)
        assert_allclose(row["change_pct"], (new - old) / old * 100, rtol=1e-12)
    assert rescored.before.versions.rating_plan == ("care_cyber_plan@2026.2.0",)
    assert rescored.after.versions.rating_plan == ("care_cyber_plan@2026.3.0",)


def test_premium_bands_hold_every_matched_facility_once(rescored: Comparison) -> None:
    assert [b.label for b in rescored.bands] == [label for label, _, _ in BANDS]
    assert sum(b.facilities for b in rescored.bands) == 240
    assert_allclose(sum(b.premium_before for b in rescored.bands), rescored.premium_before)
    assert_allclose(sum(b.premium_after for b in rescored.bands), rescored.premium_after)
    pct = rescored.facilities["change_pct"]
    assert rescored.bands[5].facilities == int(((pct >= 10) & (pct < 25)).sum()) > 0


def test_counts_add_up_when_facilities_are_dropped_added_or_answer_differently(
    books: Books, tmp_path: Path
) -> None:
    before = pq.read_table(books.before).to_pylist()
    after = pq.read_table(books.after).to_pylist()
    for row in after[20:23]:  # facilities are matched by their validated answers
        row["answers_sha256"] = "0" * 64
    old = _write(before[10:], books.before, tmp_path / "old.parquet")
    new = _write(after[:-7], books.after, tmp_path / "new.parquet")
    result = compare_books(old, new)
    counts = result.counts
    assert counts == {"matched": 220, "answers_changed": 3, "only_before": 7, "only_after": 10}
    assert result.before.facilities == 230 == counts["matched"] + 3 + counts["only_before"]
    assert result.after.facilities == 233 == counts["matched"] + 3 + counts["only_after"]
    assert len(result.facilities) == 240
    assert np.array(result.migration.counts).sum() == 220
    statuses = result.facilities.set_index("facility_id")["status"]
    assert statuses[before[0]["facility_id"]] == "only_after"
    assert statuses[after[-1]["facility_id"]] == "only_before"
    assert statuses[after[21]["facility_id"]] == "answers_changed"


def test_outcome_changes_name_the_rules_added_and_removed(
    books: Books, rescored: Comparison
) -> None:
    before, after = _rows(books.before), _rows(books.after)
    changes = {c.facility_id: c for c in rescored.outcome_changes}
    assert set(changes) == {f for f in before if before[f]["outcome"] != after[f]["outcome"]}
    referred = [c for c in changes.values() if c.move == "newly_referred"]
    assert referred
    assert all(NEW_RULE in c.rules_added for c in referred)
    for c in referred:
        assert NEW_RULE in str(after[c.facility_id]["reasons"]).split(";")
        assert NEW_RULE not in str(before[c.facility_id]["reasons"] or "").split(";")
    quotable = [c for c in changes.values() if c.move == "newly_quotable"]
    assert quotable
    assert all(c.rules_removed == (GONE_RULE,) for c in quotable)
    tally = {t.rule: t for t in rescored.rules}
    assert tally[NEW_RULE].added == len(referred)
    assert tally[GONE_RULE].removed == len(quotable)


@pytest.mark.parametrize(("cap", "binds"), [(0.05, True), (0.10, True), (0.25, False)])
def test_capping_keeps_premiums_within_the_cap_and_adds_up(
    books: Books, cap: float, binds: bool
) -> None:
    result = compare_books(books.before, books.after, cap=cap)
    capping = result.capping
    assert capping is not None
    frame = result.facilities
    old, new = frame["premium_before"].to_numpy(), frame["premium_after"].to_numpy()
    capped = frame["premium_capped"].to_numpy()
    assert np.all(np.abs(capped - old) <= cap * old + 1e-9)
    assert np.all(np.minimum(old, new) <= capped)
    assert np.all(capped <= np.maximum(old, new))
    up, down = new > capped, new < capped
    assert capping.capped_increases == up.sum()
    assert capping.capped_decreases == down.sum()
    assert bool(up.any() and down.any()) is binds  # no premium moves 25 % or more here
    assert_allclose(capping.increase_forgone, (new - capped)[up].sum(), atol=1e-6)
    assert_allclose(capping.decrease_withheld, (capped - new)[down].sum(), atol=1e-6)
    assert_allclose(
        capping.premium_capped,
        result.premium_after - capping.increase_forgone + capping.decrease_withheld,
        atol=1e-6,
    )
    untouched = ~(up | down)
    assert_allclose(capped[untouched], new[untouched], atol=0)


@pytest.mark.parametrize(("cap", "movers"), [(0.0, 5), (1.5, 5), (None, -1)])
def test_out_of_range_settings_are_refused(books: Books, cap: float | None, movers: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        compare_books(books.before, books.before, cap=cap, movers=movers)


def test_movers_are_the_largest_changes_with_the_factors_that_moved_them(
    books: Books, rescored: Comparison
) -> None:
    before, after = _rows(books.before), _rows(books.after)
    changes = sorted(
        (abs(after[f]["premium"] - before[f]["premium"]), f)
        for f in before  # type: ignore[operator]
    )
    assert len(rescored.movers) == 20
    assert rescored.movers[0].facility_id == max(changes)[1]
    sizes = [abs(m.change) for m in rescored.movers]
    assert sizes == sorted(sizes, reverse=True)
    top = rescored.movers[0]
    assert top.factors == factor_changes(
        before[top.facility_id]["drivers"], after[top.facility_id]["drivers"]
    )
    assert top.factors
    assert len(compare_books(books.before, books.after, movers=3).movers) == 3


def test_a_question_missing_from_one_books_drivers_counts_as_zero() -> None:
    factors = factor_changes("a:+10.00;b:-5.00", "a:+10.00;c:+1.50")
    assert [(f.question_id, f.before, f.after) for f in factors] == [
        ("b", -5.0, 0.0),
        ("c", 0.0, 1.5),
    ]
    assert factor_changes(None, None) == ()


# --- reading books ------------------------------------------------------------------------


def test_duplicate_facilities_and_missing_columns_of_both_books_are_listed(
    books: Books, tmp_path: Path
) -> None:
    rows = pq.read_table(books.before).to_pylist()
    twice = _write([*rows, rows[3]], books.before, tmp_path / "twice.parquet")
    short = tmp_path / "short.parquet"
    pq.write_table(pq.read_table(books.after).drop_columns(["tier", "drivers"]), short)
    with pytest.raises(InputError, match="more than one row") as caught:
        compare_books(twice, short)
    messages = [issue.describe() for issue in caught.value.issues]
    assert len(messages) == 2
    assert "twice.parquet" in messages[0]
    assert rows[3]["facility_id"] in messages[0]
    assert "short.parquet" in messages[1]
    assert "missing column(s) tier, drivers" in messages[1]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("plan.yaml", b"id: x\n", "must be .parquet or .csv"),
        ("broken.parquet", b"not parquet at all", "cannot be read as a scored book"),
        ("input.csv", PORTFOLIO.read_bytes(), "missing column"),
        ("premium.csv", None, "cannot be read as a scored book"),
    ],
)
def test_files_that_are_not_books_are_refused(
    books: Books, tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if content is None:  # a CSV book whose premium is not a number
        lines = books.before_csv.read_text(encoding="utf-8").splitlines()
        header = lines[0].split(",")
        cells = next(csv.reader([lines[1]]))
        cells[header.index('"premium"')] = "lots"
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(cells)
        content = (lines[0] + "\n" + buffer.getvalue()).encode()
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        compare_books(path, books.before)


def test_formula_quotes_of_a_csv_book_are_taken_off(books: Books, tmp_path: Path) -> None:
    rows = pq.read_table(books.before).to_pylist()
    rows[0]["facility_name"] = "'=cmd|' /C calc'!A0"
    book = _write(rows, books.before, tmp_path / "quoted.parquet")
    text = tmp_path / "quoted.csv"
    text.write_text(
        "facility_id,facility_name,outcome,reasons,tier,premium,drivers,model_id,"
        "model_sha256,rating_plan,questionnaire,input_sha256\n"
        "CF-001,'=SUM(A1),quote,,B,1000,,m,s,p,q,h\n",
        encoding="utf-8",
    )
    result = compare_books(text, book)
    names = result.facilities.set_index("facility_id")["facility_name"]
    assert names["CF-001"] == "'=cmd|' /C calc'!A0"  # the after book's name, kept as given
    only = compare_books(text, text).facilities
    assert only.loc[0, "facility_name"] == "=SUM(A1)"


# --- outputs --------------------------------------------------------------------------------


def test_the_html_report_is_self_contained_and_deterministic(books: Books, tmp_path: Path) -> None:
    first = tmp_path / "one.html"
    second = tmp_path / "two.html"
    write_dislocation_html(compare_books(books.before, books.after, cap=0.1), first)
    write_dislocation_html(compare_books(books.before, books.after, cap=0.1), second)
    assert first.read_bytes() == second.read_bytes()
    assert not list(tmp_path.glob("*.partial"))
    page = first.read_text(encoding="utf-8")
    lowered = page.lower()
    for forbidden in ("<script", "http://", "https://", "src=", "<link", "@import", "url("):
        assert forbidden not in lowered
    for part in (
        "Tier migration",
        "Premium changes",
        "Outcome changes",
        "Biggest movers",
        "Transition capping",
        NEW_RULE,
        "care_cyber_plan@2026.3.0",
        "<svg",
    ):
        assert part in page


def test_the_html_report_escapes_text_from_the_books(
    books: Books, rescored: Comparison, tmp_path: Path
) -> None:
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    top = rescored.movers[0].facility_id
    paths = []
    for source, name in ((books.before, "b.parquet"), (books.after, "a.parquet")):
        rows = pq.read_table(source).to_pylist()
        for row in rows:
            if row["facility_id"] == top:
                row["facility_name"] = evil
        paths.append(_write(rows, source, tmp_path / name))
    page = render_dislocation_html(compare_books(paths[0], paths[1]))
    assert "<script" not in page
    assert "<img" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x" in page


def test_the_html_report_flags_books_of_different_questionnaires(
    books: Books, tmp_path: Path
) -> None:
    table = pq.read_table(books.after)
    position = table.schema.get_field_index("questionnaire")
    other = table.set_column(
        position, "questionnaire", pa.array(["care_cyber@2.0.0"] * table.num_rows)
    )
    path = tmp_path / "other.parquet"
    pq.write_table(other, path)
    result = compare_books(books.before, path)
    assert result.questionnaire_differs
    assert "different questionnaires" in render_dislocation_html(result)


def test_the_csv_has_a_row_per_facility_and_escapes_formula_looking_text(
    books: Books, tmp_path: Path
) -> None:
    names = ["=HYPERLINK(1)", "+1+1", "-2", "@SUM(A1)", "\tx", "\rx", "Plain Care Home"]
    rows = pq.read_table(books.after).to_pylist()
    for row, name in zip(rows, names, strict=False):
        row["facility_name"] = name
    after = _write(rows, books.after, tmp_path / "named.parquet")
    result = compare_books(books.before, after, cap=0.1)
    path = tmp_path / "facilities.csv"
    write_dislocation_csv(result, path)
    assert path.read_bytes().decode("utf-8") == dislocation_csv(result)
    with path.open(encoding="utf-8", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == 240
    assert list(table[0]) == [
        "facility_id",
        "facility_name",
        "facility_type",
        "limit",
        "status",
        "changed_answers",
        "tier_before",
        "tier_after",
        "premium_before",
        "premium_after",
        "premium_change",
        "change_pct",
        "outcome_before",
        "outcome_after",
        "rules_added",
        "rules_removed",
        "premium_capped",
    ]
    assert [r["facility_name"] for r in table[:7]] == ["'" + n for n in names[:6]] + [names[6]]
    negative = next(r for r in table if float(r["premium_change"]) < 0)
    assert negative["premium_change"].startswith("-")  # numbers stay numbers
    referred = next(r for r in table if NEW_RULE in r["rules_added"])
    assert referred["outcome_after"] in ("refer", "decline")
    uncapped = _csv_rows(dislocation_csv(compare_books(books.before, books.after)))
    assert "premium_capped" not in uncapped[0]


# --- the command ----------------------------------------------------------------------------


def test_the_command_prints_a_summary_and_writes_the_files(books: Books, tmp_path: Path) -> None:
    html, table = tmp_path / "report.html", tmp_path / "facilities.csv"
    result = runner.invoke(
        app,
        [
            "compare",
            str(books.before),
            str(books.after),
            "--html",
            str(html),
            "--csv",
            str(table),
            "--cap",
            "0.10",
            "--movers",
            "5",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "240 matched, 0 answers changed, 0 only before (dropped), 0 only after (added)" in (
        result.output
    )
    assert "newly referred" in result.output
    assert "capped at +/-10%" in result.output
    assert html.is_file()
    assert table.is_file()
    assert not list(tmp_path.glob("*.partial"))


def test_the_command_exits_1_with_a_message_for_a_book_missing_columns(
    books: Books, tmp_path: Path
) -> None:
    short = tmp_path / "short.parquet"
    pq.write_table(pq.read_table(books.after).drop_columns(["premium"]), short)
    result = runner.invoke(app, ["compare", str(books.before), str(short)])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert "short.parquet" in result.output
    assert "missing column(s) premium" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("problem", ["duplicate", "unreadable"])
def test_the_command_exits_1_for_duplicates_and_unreadable_files(
    books: Books, tmp_path: Path, problem: str
) -> None:
    path = tmp_path / "bad.parquet"
    if problem == "duplicate":
        rows = pq.read_table(books.before).to_pylist()
        _write([*rows, rows[0]], books.before, path)
    else:
        path.write_bytes(b"\x00\x01 not a book")
    result = runner.invoke(app, ["compare", str(path), str(books.after)])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert "bad.parquet" in result.output
    assert len(result.output.strip().splitlines()) == 1


# --- segments, rules without an outcome change, versions ----------------------------------------


def test_premium_change_is_summed_by_facility_type_tier_limit_and_outcome(
    books: Books, rescored: Comparison
) -> None:
    before, after = _rows(books.before), _rows(books.after)
    names = {s.segment for s in rescored.segments}
    assert names == {"facility type", "tier before", "limit", "outcome before"}
    for name in names:
        mine = [s for s in rescored.segments if s.segment == name]
        assert sum(s.facilities for s in mine) == 240
        assert_allclose(sum(s.premium_before for s in mine), rescored.premium_before)
        assert_allclose(sum(s.premium_after for s in mine), rescored.premium_after)
    hospices = [f for f, row in before.items() if "facility_type=hospice;" in str(row["answers"])]
    (hospice,) = [s for s in rescored.segments if s.value == "hospice"]
    assert hospice.facilities == len(hospices) > 0
    assert_allclose(hospice.premium_after, sum(float(after[f]["premium"]) for f in hospices))
    html = render_dislocation_html(rescored)
    assert "<h2>Premium change by segment</h2>" in html
    assert "<h3>By limit</h3>" in html


def test_rules_that_appear_without_an_outcome_change_are_reported(
    books: Books, rescored: Comparison
) -> None:
    before, after = _rows(books.before), _rows(books.after)
    quiet = [
        f
        for f in before
        if before[f]["outcome"] == after[f]["outcome"]
        and NEW_RULE in str(after[f]["reasons"]).split(";")
    ]
    assert quiet  # already referred or declined: a second reason, no outcome change
    tally = {t.rule: t for t in rescored.rules_unchanged_outcome}
    assert tally[NEW_RULE].added == len(quiet)
    assert "Rules that changed without an outcome change" in render_dislocation_html(rescored)
    result = runner.invoke(app, ["compare", str(books.before), str(books.after)])
    assert result.exit_code == 0, result.output
    assert "rules changed without an outcome change (matched): " in result.output
    assert f"{NEW_RULE} +{len(quiet)}/-" in result.output


def test_a_plan_edited_without_a_new_version_is_flagged(books: Books, tmp_path: Path) -> None:
    edited = tmp_path / "plan.yaml"
    text = PLAN.read_text(encoding="utf-8")
    assert "  max_debit: 2.00" in text
    edited.write_text(text.replace("  max_debit: 2.00", "  max_debit: 1.50"), encoding="utf-8")
    engine = RatingEngine.load(default_model_dir(), edited)
    book = tmp_path / "edited.parquet"
    score_book(PORTFOLIO, book, engine, as_of=EXAMPLES_AS_OF)
    assert pq.read_table(book).column("rating_plan_sha256")[0].as_py() == engine.plan_sha256
    result = runner.invoke(app, ["compare", str(books.before), str(book)])
    assert result.exit_code == 0, result.output
    assert "warning: the rating plan care_cyber_plan@2026.2.0 reads the same in both books" in (
        result.output
    )
    same = compare_books(books.before, books.before)
    assert same.version_warnings == ()
    assert "edited without a new version" in render_dislocation_html(
        compare_books(books.before, book)
    )
