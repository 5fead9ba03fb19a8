"""The failures vipcheck reports as one line and an exit status, never as a traceback."""

EXIT_PASSED = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_ENVIRONMENT = 3
EXIT_INCONCLUSIVE = 4  # no check failed, but a timed one could not be measured on a quiet machine


class VipcheckError(Exception):
    exit_status = EXIT_BAD_INPUT


class ScenarioError(VipcheckError):
    """The scenario (or a template it uses) is invalid: the user's input, exit 2."""

    def __init__(self, source, where, problem):
        self.source, self.where, self.problem = source, where, problem
        location = f"{source}: {where}" if where else str(source)
        super().__init__(f"{location}: {problem}")


class UsageError(VipcheckError):
    """The command line is wrong, exit 2."""


class EnvironmentProblem(VipcheckError):
    """The machine cannot run vipcheck (not root, a package missing), exit 3."""

    exit_status = EXIT_ENVIRONMENT

    def __init__(self, problem, fix):
        super().__init__(f"{problem} (fix: {fix})")


class Interrupted(VipcheckError):
    """SIGINT or SIGTERM arrived; the run unwinds and cleans up."""

    exit_status = 130

    def __init__(self, signame):
        super().__init__(f"interrupted by {signame}; the run was cleaned up")


class RunIncomplete(VipcheckError):
    """The experiment could not finish (a daemon did not come up, BFD never did): the design
    failed before any check could judge it, exit 1, artifacts kept like a failed check's."""

    exit_status = EXIT_CHECK_FAILED
