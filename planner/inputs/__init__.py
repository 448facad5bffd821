"""What a plan starts from: the recipe dirs under a root (discovery), the repository's
``stackplan.yaml``, and what an input channel already holds (its index).
"""
