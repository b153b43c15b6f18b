"""One Spark session per process, built from the settings: local threads, a standalone cluster
(`spark://host:7077`) or a Spark Connect server (`sc://host:15002`)."""

import functools
import logging
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pyspark takes a second to import; only the Spark engine pays it
    from pyspark.sql import SparkSession

# What every session needs, whatever runs it:
# - UTC, as the DuckDB warehouse: naive timestamps in files are UTC, and so is every day boundary.
# - INSERT OVERWRITE replaces only the partitions it writes (one business date), not the table.
# - Parquet timestamps as plain microseconds: the default INT96 is legacy and DuckDB reads it
#   only with a flag.
# - ANSI mode: a failed cast is an error, as in DuckDB; the models use try_cast where a value
#   may not parse.
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.ansi.enabled": "true",
}

# Only for a session this process starts itself (local or standalone): a Spark Connect server
# has its own, set by whoever runs it.
LOCAL_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    # Spark's default of 200 shuffle partitions is for clusters: on a few cores, most of a small
    # day's time went into scheduling empty tasks. Adaptive execution coalesces from here.
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.adaptive.enabled": "true",
}


# The driver's heap when Spark runs here (`local[...]`) and nothing says otherwise: there the driver
# is also the executor, and Spark's own default of 1g ran out of heap at a million checkouts.
LOCAL_DRIVER_MEMORY = "4g"


LOG4J_CONFIG = Path(__file__).with_name("log4j2.properties")


class SparkUnavailable(RuntimeError):
    """The Spark engine was asked for, but pyspark, Java or the cluster is not there."""


def is_connect(master: str) -> bool:
    return master.startswith("sc://")


def ignore_pandas_support_warning() -> None:
    """pyspark warns on import that it is not yet tested with pandas 3: the engine hands it Arrow,
    not pandas frames. Great Expectations imports pyspark's modules too whenever pyspark is
    installed, so without this every DuckDB run printed the warning twice."""
    warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas", FutureWarning)


@functools.cache
def spark_session(master: str = "local[*]", driver_memory: str | None = None) -> "SparkSession":
    """The process's Spark session for `master` (created on first use, then reused: starting
    the JVM costs seconds)."""
    ignore_pandas_support_warning()
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise SparkUnavailable(
            "the Spark engine needs pyspark: pip install 'checkout-recon[spark]' "
            "(or pyspark-client for a Spark Connect server)"
        ) from exc
    # The JVM's log4j banner and per-stage warnings would bury the run's own progress lines.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    if is_connect(master):
        builder = SparkSession.builder.remote(master)
        conf = SESSION_CONF
    else:
        builder = SparkSession.builder.master(master)
        conf = {**SESSION_CONF, **LOCAL_CONF}
        conf["spark.driver.extraJavaOptions"] = f"-Dlog4j2.configurationFile=file:{LOG4J_CONFIG}"
        if driver_memory or master.startswith("local"):
            conf["spark.driver.memory"] = driver_memory or LOCAL_DRIVER_MEMORY
        _require_java()
    builder = builder.appName("checkout-recon")
    for key, value in conf.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # py4j and Spark Connect raise their own error types
        raise SparkUnavailable(f"cannot start a Spark session on {master}: {exc}") from exc
    if not is_connect(master):
        session.sparkContext.setLogLevel("ERROR")
    for key, value in SESSION_CONF.items():
        session.conf.set(key, value)
    return session


def spark_home() -> str:
    """The Spark installation pyspark brings (its `bin/spark-class` starts masters and workers)."""
    import pyspark

    return os.environ.get("SPARK_HOME") or os.path.dirname(pyspark.__file__)


def _require_java() -> None:
    import shutil

    if os.environ.get("JAVA_HOME") or shutil.which("java"):
        return
    raise SparkUnavailable(
        "the Spark engine runs Spark in a JVM and no java was found: install a JRE 17 "
        "(Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME; or point "
        "RECON_SPARK_MASTER at a Spark Connect server (sc://host:15002)"
    )
