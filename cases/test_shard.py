"""--shard K/N: N runners that each run one share do exactly the work of one runner, once (the
nightly's shards: test_nightly.py)."""
import json

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
