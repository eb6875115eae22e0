"""idds-cds: CDS Hooks coverage requirements for intrathecal drug delivery systems.

The version is written once, in pyproject.toml; the installed distribution's metadata is read
here so the OpenAPI document, /metrics (`idds_build_info`) and the start-up log line never
disagree with the package."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("idds-cds")
except PackageNotFoundError:  # a source tree used without `pip install -e .`
    __version__ = "0+unknown"
