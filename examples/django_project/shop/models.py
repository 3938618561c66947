"""The shop's own tables: regua never reads them, the shop tells it what changes."""

from django.db import models


class Customer(models.Model):
    """Someone who buys."""

    name = models.CharField(max_length=100)
    email = models.EmailField()
    marketing_opt_in = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return str(self.name)


class Order(models.Model):
    """An order, placed once."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="orders")
    customer_id: int  # the column behind `customer`, for type checkers
    total_cents = models.IntegerField()
    placed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"order {self.pk}"
