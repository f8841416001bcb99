"""What sales staff write on orders, by status (most shipped orders carry no comment)."""

from __future__ import annotations

import random
from datetime import date

from headwater.samples.generate.draw import pick


def _lines(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in text.strip().splitlines())


SHIPPED = _lines(
    """
    Check on availability.
    Customer asked for FedEx Ground for this shipment.
    Customer asked for DHL for this shipment.
    Customer would like posters and catalogues included in the box.
    Customer knows our vendors' MSRP well; expect hard negotiation on the next order.
    Customer is very particular about colours. Confirm the shades before packing.
    Special shipping instructions were passed to the warehouse.
    Customer wants more Ferrari and Porsche models next quarter.
    Can we deliver the new Mustang models before the end of the quarter?
    They want to revisit their payment terms with Finance.
    Their purchasing manager left; stay close to the new decision maker.
    Customer asked about remote-controlled and gold-plated models.
    Can we renegotiate this one?
    Customer will pick the order up at our local warehouse.
    """
)

CANCELLED = _lines(
    """
    Customer called to cancel. The warehouse was told in time and nothing shipped.
    Order was placed by mistake; the warehouse noticed the missing paperwork.
    Customer found a better offer elsewhere and will call back to renegotiate.
    Cancelled because of budget cuts at the customer. Check credit before the next order.
    """
)

DISPUTED = _lines(
    """
    Customer says the container was damaged in transit and some items are missing.
    Customer says the scales of the models differ from what was agreed.
    Customer does not like the colours and finish of the models.
    """
)

ON_HOLD = _lines(
    """
    Customer credit limit exceeded. Will ship when a payment is received.
    Outstanding balance exceeds the credit limit; shipping after the next payment.
    """
)

IN_PROCESS = _lines(
    """
    Custom shipping instructions were sent to the warehouse.
    Waiting for two items to come back in stock.
    """
)


def resolved(rng: random.Random, on: date) -> str:
    """A comment for a dispute that was resolved ``on`` a day."""
    reason = pick(rng, DISPUTED)
    return f"Disputed, then resolved on {on.month}/{on.day}/{on.year}. {reason}"
