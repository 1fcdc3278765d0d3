"""Evidence of the leads: reading, verifying, exporting and re-checking the archive the crawls write."""
