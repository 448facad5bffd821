"""Group rebuilds: build-number bumps written as small diffs, and pin migrations.
"""
