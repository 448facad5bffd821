"""Events from and to the outside: the GitHub webhook app (signature, payloads, delivery store,
dispatch, plan preview), the GitHub client and commit statuses, the stuck-build monitor, and build history.
"""
