"""The benchmarks keep working (smoke runs, never timing), and the speed fixes decide
exactly as the code they replaced."""
