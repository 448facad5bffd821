"""The Prefect server side: the embedded server stackplan starts itself, and the work pools and
deployments for scale-out.
"""
