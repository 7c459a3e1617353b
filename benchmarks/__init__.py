"""minidl's benchmarks: ``python -m benchmarks`` (``make bench``) writes benchmarks/RESULTS.md."""
