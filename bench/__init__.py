"""`make bench`: load tests of the clinic app against baselines measured in the same run
(reliability.md sections 5 to 7). Nothing under tests/ imports this package."""
