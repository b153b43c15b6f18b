"""The reference checkout side: record builders and a synthetic landing-data generator with a
ground truth of the anomalies it injected."""
