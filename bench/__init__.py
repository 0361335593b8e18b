"""Load and performance harness: ``python -m bench`` (``make bench``); see docs/benchmarks.md."""
