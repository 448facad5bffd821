"""conda-build ``meta.yaml`` (v0): the Jinja environment and template, YAML as conda-build reads it,
the used-variable scan, outputs and build strings.
"""
