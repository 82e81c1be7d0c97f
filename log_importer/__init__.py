"""log-importer: import web-server access logs into Matomo through its Tracking HTTP API."""
__version__ = "0.1.0"
