"""The error of the model engine (`recon.sql_models`, `recon.model_macros`)."""


class ModelError(ValueError):
    """The models cannot be loaded: bad SQL, an unknown reference, a cycle, a layering breach."""
