"""--shard K/N: N runners that each run one share do exactly the work of one runner, once."""
import json

import pytest

from conftest import CASES, SHIPPED, vipcheck

SCENARIOS = [SHIPPED["lo-subnet"], SHIPPED["ecmp-basic"],
             CASES["lo-subnet-prefix24"]]


def test_run_shards_cover_every_scenario_once(tmp_path):
    ran = []
    for k in (1, 2):
        out = tmp_path / f"shard{k}"
        run = vipcheck("run", *SCENARIOS, "--shard", f"{k}/2", "--results", out, "--quiet",
                       "--artifacts", tmp_path / "artifacts")
        # The prefix24 case is a negative control: its shard fails, the other passes.
        names = sorted(p.stem for p in out.glob("*.json"))
        assert run.status == (1 if "lo-subnet-prefix24" in names else 0), run.stdout + run.stderr
        assert sorted(p.stem for p in out.glob("*.xml")) == names
        for name in names:
            assert json.loads((out / f"{name}.json").read_text())["scenario"]
        ran.append(names)
    assert sorted(ran[0] + ran[1]) == sorted(p.stem for p in SCENARIOS)
    assert not set(ran[0]) & set(ran[1]) and all(ran)


def test_run_shard_arguments_are_checked(tmp_path):
    for bad in ("0/2", "3/2", "2", "a/b"):
        run = vipcheck("run", *SCENARIOS, "--shard", bad)
        assert run.status == 2 and "--shard takes K/N" in run.stderr, run.stderr
    run = vipcheck("run", *SCENARIOS[:2], "--json", tmp_path / "r.json")
    assert run.status == 2 and "--results DIR" in run.stderr, run.stderr
    run = vipcheck("run", *SCENARIOS[:2], "--shard", "3/3")
    assert run.status == 0 and "no scenario" in run.stdout


@pytest.mark.timed  # every cell must pass
def test_nightly_shards_merge_into_the_unsharded_report(tmp_path):
    matrix = tmp_path / "matrix.yaml"
    matrix.write_text(f"name: tiny\nbase: {SHIPPED['ecmp-failover']}\nfailures: [silent_drop, drain]\n"
                      "profiles:\n  bfd: {dead: minimal, hello_multiplier: 4, bfd: {interval_ms: 50, multiplier: 3}}\n"
                      "repeats: 1\n")
    common = ["--out", tmp_path / "reports", "--history", tmp_path / "history.jsonl", "--date", "2026-11-24"]
    for k in (1, 2):
        run = vipcheck("nightly", matrix, *common, "--seed", 5, "--shard", f"{k}/2")
        assert run.status == 0, run.stdout + run.stderr
    folder = tmp_path / "reports" / "2026-11-24"
    shards = [folder / "shard-1-of-2.json", folder / "shard-2-of-2.json"]
    assert not (folder / "report.json").exists() and not (tmp_path / "history.jsonl").exists()
    # One shard alone is refused: a night's report has every cell.
    run = vipcheck("nightly", matrix, *common, "--merge", shards[0])
    assert run.status == 2 and "lack 1 cell(s): drain/bfd" in run.stderr, run.stderr
    run = vipcheck("nightly", matrix, *common, "--merge", *shards)
    assert run.status == 0, run.stdout + run.stderr
    report = json.loads((folder / "report.json").read_text())
    # Cells in matrix order, each with the seed an unsharded night gives it (seed + 1000 x its index).
    assert [(c["failure"], c["profile"], c["seeds"]) for c in report["cells"]] == [
        ("silent_drop", "bfd", [5]), ("drain", "bfd", [1005])]
    assert all(c["passed"] == 1 for c in report["cells"]) and report["timeline"]
    assert (folder / "report.html").exists() and len((tmp_path / "history.jsonl").read_text().splitlines()) == 1
