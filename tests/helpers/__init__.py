"""What several test modules share: plain functions and classes, imported by name.

Fixtures live in the ``conftest.py`` files; test modules never import one another (see
``tests/library/test_architecture.py``).
"""
