"""The deterministic building blocks of the generator."""

from __future__ import annotations

import hashlib
import itertools
from decimal import Decimal

from headwater.samples.generate import Plan, generated_rows
from headwater.samples.generate.draw import Weighted, cents, sample, stream
from headwater.samples.generate.keys import _code_number, customer_number, product_key

#: sha256 of every generated row at scale 1, seed 42; change it only on purpose, and say so
#: in the changelog: users rely on a seed reproducing the same data
GOLDEN_SCALE1_SEED42 = "c5bca0131766c594e5b60c9a76fa2dc0082b88a2eb86f133b751cb26c2a7d9a2"


def test_sample_draws_distinct_values_in_range() -> None:
    rng = stream(1, "test")
    for population, k in [(10, 10), (10, 3), (100_000, 18), (3, 9)]:
        drawn = sample(rng, population, k)
        assert len(drawn) == min(k, population)
        assert len(set(drawn)) == len(drawn)
        assert all(0 <= value < population for value in drawn)


def test_sample_reaches_every_value() -> None:
    rng = stream(2, "test")
    seen = {value for _ in range(400) for value in sample(rng, 50, 3)}
    assert seen == set(range(50))


def test_streams_are_independent_and_repeatable() -> None:
    assert stream(42, "orders").random() == stream(42, "orders").random()
    assert stream(42, "orders").random() != stream(42, "payments").random()
    assert stream(42, "orders").random() != stream(43, "orders").random()


def test_cents_are_exact_two_place_decimals() -> None:
    assert cents(12300) == Decimal("123.00")
    assert str(cents(12300)) == "123.00"
    assert str(cents(5)) == "0.05"


def test_weighted_covers_the_unit_interval() -> None:
    choice = Weighted([("a", 1), ("b", 3)])
    assert choice.at(0.0) == "a"
    assert choice.at(0.24) == "a"
    assert choice.at(0.26) == "b"
    assert choice.at(0.999999) == "b"


def test_product_code_numbers_stay_unique_past_every_block() -> None:
    numbers = [_code_number(index, 1234) for index in range(120_000)]
    assert len(set(numbers)) == len(numbers)
    assert all(1000 <= n < 10_000 for n in numbers[:9000])
    assert all(10_000 <= n < 100_000 for n in numbers[9000:99_000])


def test_product_codes_are_unique_at_a_large_scale() -> None:
    codes = [product_key(42, index).code for index in range(20_000)]
    assert len(set(codes)) == len(codes)


def test_customer_numbers_increase() -> None:
    numbers = [customer_number(42, index) for index in range(5000)]
    assert numbers[0] in (103, 104, 105)
    assert all(a < b for a, b in itertools.pairwise(numbers))


def test_a_seed_reproduces_the_same_bytes() -> None:
    digest = hashlib.sha256()
    for name, rows in generated_rows(Plan.of(1, 42)).items():
        for row in rows:
            digest.update(f"{name}{sorted(row.items())!r}".encode())
    assert digest.hexdigest() == GOLDEN_SCALE1_SEED42
