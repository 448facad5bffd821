"""Everything stackplan reads from git: changed files of a range, a commit's tree without a checkout,
detached worktrees, content digests of recipe dirs, and which variant keys a config change touched.
"""
