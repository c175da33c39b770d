"""Uplift models: who does the e-mail change? Learners, their evaluation and figures."""

__all__ = ["learners", "metrics", "plots"]
