"""The downstream services of the reference checkout: fraud, payment, inventory, order, tax and
fulfillment. Each is a FastAPI app (`create_app(settings)`) with its own database and tables, and
enforces idempotency on every mutating endpoint itself."""
