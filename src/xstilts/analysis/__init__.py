"""Analysis of a run's results: pure functions over a tidy pandas table (one row per result).

``table`` loads the table and the arms' metadata; ``deltas`` pairs every arm with the baseline; the other
modules each answer one question (XTREME table, transfer matrix, domain vs general statistics, languages,
per-target best arm). ``bundle.analyse_run`` runs them all for a report.
"""
