"""gatecast's Python client: forecasts as numpy arrays or pandas objects, gate internals,
retries, and streams that carry the LSTM state from chunk to chunk (docs/client.md).

    from gatecast_client import Client

    client = Client("http://127.0.0.1:8000")
    result = client.forecast([112, 118, 132, 129, 121, 135], horizon=3, model="airline")
"""

from gatecast_client.client import Client
from gatecast_client.errors import GatecastError
from gatecast_client.result import QUANTITIES, ForecastResult, Internals
from gatecast_client.state import State
from gatecast_client.stream import Stream

__all__ = [
    "QUANTITIES",
    "Client",
    "ForecastResult",
    "GatecastError",
    "Internals",
    "State",
    "Stream",
]
