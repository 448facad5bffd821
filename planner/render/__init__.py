"""Rendering: a recipe dir and target platforms in, one ``PlatformRender`` per platform out, as
conda-build (``v0/``) and rattler-build (``v1/``) render them; the variant configs and line selectors both
dialects share; the process pool, the content-keyed cache and its codec.
"""
