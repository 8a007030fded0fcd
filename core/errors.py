"""The one hierarchy of Trioxide's errors. Each wire renders them in exactly one place."""


class TrioxideError(Exception):
    """Base of every error Trioxide raises on purpose."""


class ConfigError(TrioxideError):
    """A setting is missing or out of range. Raised before anything is started."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


class MigrationError(TrioxideError):
    """The migrations on disk and the ones recorded in the database disagree, or one failed."""
