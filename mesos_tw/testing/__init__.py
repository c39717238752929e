"""
Test support: verified fakes and in-memory harnesses.  Every fake here is
checked against the interface it stands in for by the tests in
``tests/test_testing.py``.
"""
