"""Cases: review of matches, evidence packages, notices (the "actioner" layer)."""
