"""Client intake: the screening answers and the care plan derived from them (issue 7)."""
