"""Customers and orders: the application's own tables."""

from django.db import models


class Customer(models.Model):
    name = models.CharField(max_length=100)
    email = models.EmailField()
    email_opt_in = models.BooleanField(default=True)


class Order(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="orders")
    total_cents = models.IntegerField()
    placed_at = models.DateTimeField()
