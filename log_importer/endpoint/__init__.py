"""An embedded Matomo-compatible tracking endpoint, for testing the importer (issue 3).

    from log_importer.endpoint import Endpoint
    with Endpoint(sites={1: "https://www.example.com"}) as ep:
        ...  # POST to ep.url + "/matomo.php", then look at ep.received() / ep.report()
"""
from .server import Endpoint, EndpointError

__all__ = ["Endpoint", "EndpointError"]
