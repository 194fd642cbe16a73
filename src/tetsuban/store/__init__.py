"""The project store: the only code that talks to the database."""
