"""What several of the example's test modules share; fixtures are in ``conftest.py``."""
