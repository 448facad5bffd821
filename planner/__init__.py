"""stackplan's pure planning core: discover recipes, render them, build the graph, select, plan.

Nothing in this package imports Prefect, touches the network, or keeps global state; ``flows`` builds on
it, never the reverse.
"""

__version__ = "0.1.0"
