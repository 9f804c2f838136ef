"""Route modules of the members' website."""
