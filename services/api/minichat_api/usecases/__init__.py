"""What the api does, free of HTTP: each function takes a session and raises domain errors."""
