"""The composition root: the `trioxide` command and the process that runs the roles."""
