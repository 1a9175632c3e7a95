"""Tables and reports from results."""
