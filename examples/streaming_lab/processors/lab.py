"""The lab's ETL consumer, as a Headwater processor transform: one user session in, the same
session with its derived fields out (routing by country is in headwater.yaml)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def transform(record: dict[str, Any]) -> dict[str, Any]:
    """Add processing_timestamp and the session's product totals."""
    history = record.get("browse_history") or []
    return {
        **record,
        "processing_timestamp": datetime.now(UTC).isoformat(),
        "overall_product_quantity": sum(item["quantity"] for item in history),
        "overall_in_shopping_cart": sum(
            item["quantity"] for item in history if item["in_shopping_cart"]
        ),
        "total_different_products": len(history),
    }
