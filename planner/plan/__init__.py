"""The plan: the request, gathering its inputs, selection, layers and critical path, ``explain``,
planning at a commit, and the plan model itself (the contract with ``flows``).
"""
