"""Churn, purchase-propensity and uplift models (next issues): LightGBM, Optuna, MLflow."""

__all__: list[str] = []
