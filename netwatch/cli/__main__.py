"""`python -m netwatch.cli …` runs the `netwatch` command (handy where the console script is not on PATH)."""

from netwatch.cli import main

main()
