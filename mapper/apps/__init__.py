"""Applications built on the mapper: DLRM (the reference's flags, weights and inputs) and the workloads
that `make sim` and the benchmarks run."""
