"""Business rules: running elections, and (later) rolls, processes, reports and decisions."""
