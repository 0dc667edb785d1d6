"""End-to-end tests: megallm with the real agents against the stand-in gateway."""
