"""What the operator does on each event; main.py's Kopf wrappers call in here."""
