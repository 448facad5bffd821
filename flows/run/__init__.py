"""Running a plan on Prefect: the main flow, one subflow per platform lane, one task per job, the
ledger of outcomes, resume, retry, backpressure, tags and the run report.
"""
