"""The mapper: a dataflow graph to bitstreams, by stage: frontend/ (the graph format, validation, inputs,
reference), lowering/ (named passes from nodes to phases), phases/ (one module per phase kind),
backend/ (place, route, build), program.py (map_graph and the runner's loop), report.py, and apps/
(DLRM, the workloads)."""
