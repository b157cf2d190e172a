"""Command-line interface (being written)."""


def main(argv: list[str] | None = None) -> int:
    raise SystemExit("sansstream: the CLI is being written")
