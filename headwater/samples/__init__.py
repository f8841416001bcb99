"""The classicmodels sample database: generated at any scale, or loaded from the real MySQL dump.

>>> from headwater.samples import build_classicmodels
>>> build_classicmodels("sqlite:///demo/classicmodels.db")  # doctest: +SKIP
{'offices': 7, 'productlines': 7, 'employees': 23, 'customers': 122, ...}
"""

from __future__ import annotations

from headwater.samples.build import build_classicmodels

__all__ = ["build_classicmodels"]
