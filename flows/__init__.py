"""The Prefect side of stackplan: compile a plan into flows, run builders, report.

Importing this package must stay cheap (no Prefect import at package level): the CLI imports it only
for the commands that orchestrate.
"""
