"""The accuracy-vs-latency report: every variant of a model and the peers, side by side.

One module a job: budget (the limits checked), variants (what rows exist and how each is
built), runners (how each is opened), timing (round-robin latency), memory (load time and
peak RSS in a child), gemm (the CPU's int8 limit), accuracy, pareto, machine, results,
write, and run (the straight line through them). ``python -m convbert_edge.report`` is
__main__.py, which parses the flags and calls run_report.
"""

from .run import Report, ReportOptions, run_report

__all__ = ["Report", "ReportOptions", "run_report"]
