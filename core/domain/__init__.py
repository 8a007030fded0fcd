"""Pure domain rules: loaded data in, decisions or new values out. No I/O, no await."""
