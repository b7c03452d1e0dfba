"""Evaluation: evaluator-free physical metrics, distribution metrics and the project's own text-motion evaluator."""
