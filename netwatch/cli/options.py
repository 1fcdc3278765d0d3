"""Parameter types the commands share: a number the database cannot hold is a usage error naming the
option, not an OverflowError from the driver."""

from __future__ import annotations

import click

# lead and run ids: the databases' BIGINT / SQLite INTEGER range
ROW_ID = click.IntRange(1, 2**63 - 1)
# a watch target's priority: an INTEGER column
PRIORITY = click.IntRange(-(2**31), 2**31 - 1)
