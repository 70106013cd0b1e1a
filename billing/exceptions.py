from decimal import Decimal


class InsufficientCredits(Exception):
    """The account cannot pay `required`; nothing was charged."""

    def __init__(self, *, required: Decimal, available: Decimal) -> None:
        self.required = required
        self.available = available
        super().__init__(f"This needs {required} credits but only {available} remain.")
