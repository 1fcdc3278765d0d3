"""The exit codes of every `netwatch` command: one table, for cron jobs and scripts to branch on.

A leaf module (imports nothing) so that both the commands (netwatch.cli) and the nightly run, which
records its code in its run's stats (netwatch.ops.nightly), use the same numbers.
"""

EXIT_OK = 0  # done, and every crawl healthy
EXIT_ERROR = 1  # bad input or configuration, a store error: what click.ClickException or an uncaught error gives
EXIT_USAGE = 2  # wrong options or arguments (click's own usage errors)
EXIT_ALARMS = 3  # crawls ran, but health alarms were raised: zero items, a drop, errors, field coverage, finish reason
EXIT_FAILED = 4  # a target or crawl failed to run at all
EXIT_LOCKED = 5  # another `netwatch nightly` holds the lock
EXIT_STORE_FAILED = 6  # the store refused a write (a full disk, a read-only or vanished database): the crawl was stopped
# Stopped by a signal (`netwatch nightly`: the next run resumes the night): 128 + the signal's number, the shell's way.
EXIT_INTERRUPTED = 130  # SIGINT (Ctrl-C)
EXIT_TERMINATED = 143  # SIGTERM (kill, systemctl stop)
