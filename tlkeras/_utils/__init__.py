"""Private helpers shared by the tlkeras subpackages."""
