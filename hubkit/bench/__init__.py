"""CMDR-Bench: categories, results and statistics."""

# The case set's version, shown on the benchmark card. Bump it when cases change; results are
# keyed by the cases' content fingerprint as well, so numbers from older cases never mix in.
VERSION = 6

# The seed's ten categories, in its order; task ids on the Hub are their slugs.
CATEGORIES = (
    "Causal Reasoning (RAG)",
    "SQL Query Generation",
    "Python Code Analysis & Debugging",
    "Planning & Optimization",
    "Mathematical Reasoning",
    "Logical Reasoning",
    "Constrained Creative Writing",
    "Complex Scenario Analysis",
    "Ethical Dilemma",
    "Scientific Explanation (RAG)",
)


def task_id(category: str) -> str:
    """The Hub task id of a category (shared by eval.yaml and .eval_results/)."""
    return "_".join("".join(ch.lower() if ch.isalnum() else " " for ch in category).split())
