"""`python -m netwatch.crawl.distributed MODE JOB_FILE REDIS_URL [WORKER_ID]`: the child process of
netwatch.crawl.distributed.jobs.spawn."""

import sys

from netwatch.crawl.distributed.jobs import run_job_spiders

mode, job_file, url = sys.argv[1:4]
sys.exit(run_job_spiders(job_file, url, mode, sys.argv[4] if len(sys.argv) > 4 else ""))
