"""The reconciled reports for finance and marketing: self-contained HTML, CSV and Parquet."""
