"""Use cases: one ``do_*`` function per action, one transaction each, its audit entry inside it."""
