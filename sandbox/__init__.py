"""Offline stand-ins for the payment providers, used by `dev` and by the tests."""
