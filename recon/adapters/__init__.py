"""Adapters: providers' exports (Stripe, Shopify, Segment, or any file a mapping describes) mapped
into the landing contract. docs/adapters.md lists them and shows how to write a mapping."""
