"""ci/bench --against refuses a revision that is no commit, and reads each suite's time from
CTest's own lines: a test that crashed, timed out or failed counts as failed, and every test's
seconds count in the sum, whatever its end."""
import shutil
import subprocess
import sys
from importlib.machinery import SourceFileLoader
from importlib.util import module_from_spec, spec_from_loader

from conftest import REPO

loader = SourceFileLoader("bench", str(REPO / "ci/bench"))
bench = module_from_spec(spec_from_loader("bench", loader))
loader.exec_module(bench)

# As CTest 3.25 prints them with --output-on-failure, a failed test's output in between.
OUTPUT = """Test project /work/vipcheck/build
      Start 75: pytest:test_designs.py[timed]
 1/88 Test #75: pytest:test_designs.py[timed] ...............................................***Failed   59.47 sec
...........F.
E   AssertionError: the run left files outside its folders
 2/88 Test  #3: gtest:Drivers.ARaisedLinkIsRunningAtOnce ..............................   Passed    0.26 sec
 3/88 Test #12: gtest:Vty.ADaemonThatNeverAnswersTimesOut ..............................***Exception: SegFault  0.06 sec
 4/88 Test #80: pytest:test_scale.py ...................................................***Timeout 900.02 sec
 5/88 Test  #1: root-namespace:before ..................................................   Passed    0.10 sec

96% tests passed, 3 tests failed out of 88

Total Test time (real) = 1010.40 sec
"""


def test_every_test_counts_in_the_sum_and_every_end_but_passed_is_a_failure():
    per_test, failed = bench.ctest_times(OUTPUT)
    assert per_test == {"pytest:test_designs.py[timed]": 59.47, "gtest:Drivers.ARaisedLinkIsRunningAtOnce": 0.26,
                        "gtest:Vty.ADaemonThatNeverAnswersTimesOut": 0.06, "pytest:test_scale.py": 900.02,
                        "root-namespace:before": 0.10}
    assert failed == ["pytest:test_designs.py[timed]", "gtest:Vty.ADaemonThatNeverAnswersTimesOut",
                      "pytest:test_scale.py"]


def test_a_test_output_line_that_only_looks_timed_is_not_a_test():
    per_test, failed = bench.ctest_times("E   took 3.00 sec\nTotal Test time (real) = 5.00 sec\n")
    assert per_test == {} and failed == []


def test_a_revision_that_is_no_commit_is_one_line_and_status_2():
    run = subprocess.run([sys.executable, str(REPO / "ci/bench"), "--against", "no-such-commit"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and run.stderr == "ci/bench: 'no-such-commit' is no commit of this repository\n"


def test_a_failed_round_keeps_its_logs_and_the_failing_cases_artifacts(tmp_path):
    build = tmp_path / "clone/build"
    (build / "Testing/Temporary").mkdir(parents=True)
    (build / "suite-round.log").write_text("1 tests failed out of 88\n")
    (build / "Testing/Temporary/LastTest.log").write_text("E   AssertionError: the capture\n")
    artifacts = build / "test-artifacts/test_failing_run/artifacts/5b1c-ecmp-lo-prefix24"
    artifacts.mkdir(parents=True)
    (artifacts / "REPRO.txt").write_text("command: vipcheck run ...\n")
    kept = bench.keep_failed_round(build, tmp_path / "kept/HEAD-1234567-pair-1")
    assert (kept / "suite-round.log").read_text() == "1 tests failed out of 88\n"
    assert (kept / "LastTest.log").read_text() == "E   AssertionError: the capture\n"
    assert (kept / "test-artifacts/test_failing_run/artifacts/5b1c-ecmp-lo-prefix24/REPRO.txt").is_file()
    # What a clone's removal takes, the kept folder keeps.
    shutil.rmtree(tmp_path / "clone")
    assert (kept / "LastTest.log").is_file()
