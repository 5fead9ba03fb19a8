"""ci/soak --alone reads CTest's --repeat output: every repetition of a test has its line, and a
test that failed once is flaky whatever its later runs did (until-fail stops it there)."""
from importlib.machinery import SourceFileLoader
from importlib.util import module_from_spec, spec_from_loader

from conftest import REPO

loader = SourceFileLoader("soak", str(REPO / "ci/soak"))
soak = module_from_spec(spec_from_loader("soak", loader))
loader.exec_module(soak)

# As CTest 3.25 prints `ctest -j 1 --repeat until-fail:3 --output-on-failure`.
OUTPUT = """    Start  1: root-namespace:before
    Test  #1: root-namespace:before ..................   Passed    0.11 sec
    Test  #1: root-namespace:before ..................   Passed    0.10 sec
1/4 Test  #1: root-namespace:before ..................   Passed    0.10 sec
    Start 79: pytest:test_repro.py
    Test #79: pytest:test_repro.py ...................   Passed    8.20 sec
2/4 Test #79: pytest:test_repro.py ...................***Failed    7.90 sec
E   AssertionError: {'ospf-hello', 'udp'}
    Start 12: gtest:Vty.ADaemonThatNeverAnswersTimesOut
3/4 Test #12: gtest:Vty.ADaemonThatNeverAnswersTimesOut ...***Exception: SegFault  0.06 sec
    Start 87: root-namespace:after
    Test #87: root-namespace:after ...................   Passed    0.11 sec
    Test #87: root-namespace:after ...................   Passed    0.11 sec
4/4 Test #87: root-namespace:after ...................   Passed    0.12 sec
"""


def test_each_test_has_its_runs_and_the_run_it_failed_on():
    assert soak.repetitions(OUTPUT) == {"root-namespace:before": (3, 0), "pytest:test_repro.py": (2, 2),
                                        "gtest:Vty.ADaemonThatNeverAnswersTimesOut": (1, 1),
                                        "root-namespace:after": (3, 0)}


def test_output_lines_that_only_look_like_runs_are_not_runs():
    assert soak.repetitions("E   Test #3: took 3.00 sec\nTotal Test time (real) = 5.00 sec\n") == {}
