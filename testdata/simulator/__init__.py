"""The simulator: a business day of checkouts driven through the reference service under
injected faults and client behaviours, exported as landing files with a ground truth.

`simulate(landing, day, checkouts, seed, profile)` is the entry point (`recon simulate`).
"""

from testdata.simulator.profiles import PROFILES, Profile
from testdata.simulator.run import Anomaly, DayOverfull, SimulationSummary, simulate

__all__ = ["PROFILES", "Anomaly", "DayOverfull", "Profile", "SimulationSummary", "simulate"]
