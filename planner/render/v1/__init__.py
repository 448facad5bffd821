"""rattler-build ``recipe.yaml`` (v1), rendered by py-rattler-build; the fast path that reuses a
parsed variant config.
"""
