"""Training and reporting for the dropseg experiment matrix: ``python -m training --help``."""
