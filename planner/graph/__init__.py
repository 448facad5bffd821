"""The job graph: jobs from renders, which outputs provide which names, linking requirements to
providers, cycles and how they are broken, snapshots of a linked graph and relinking after a change.
"""
