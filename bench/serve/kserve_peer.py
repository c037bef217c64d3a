"""KServe's ModelServer serving a gatecast TorchScript checkpoint: the serving benchmark's peer.

    /tmp/kserve-venv/bin/python bench/serve/kserve_peer.py CHECKPOINT NAME PORT [WORKERS]

Runs under KServe's own virtual environment (never a gatecast dependency), so it imports
only torch and kserve. predict() takes {"instances": [[64 floats], ...]} and answers
{"predictions": [[forecast], ...]}: the model call and nothing else, as a custom
kserve.Model would. One torch thread per worker process, like gatecast's workers.
"""

import sys
from typing import Any

import kserve
import torch
from kserve.protocol.rest.multiprocess.server import RESTServerProcess


class GatecastModel(kserve.Model):
    """One TorchScript checkpoint; forward() on the instances, one step ahead."""

    def __init__(self, name: str, path: str) -> None:
        super().__init__(name)
        self.path = path
        self.module: Any = None
        self.load()

    def load(self) -> bool:
        """torch.jit.load the checkpoint, as gatecast does."""
        torch.set_num_threads(1)
        self.module = torch.jit.load(self.path, map_location="cpu").eval()
        self.ready = True
        return True

    def __getstate__(self) -> dict[str, Any]:
        """Pickled for KServe's spawned workers without the module (TorchScript won't pickle)."""
        return {**self.__dict__, "module": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Each spawned worker loads the checkpoint itself."""
        self.__dict__.update(state)
        self.load()

    def predict(self, payload: dict[str, Any], headers: Any = None) -> dict[str, Any]:
        """The forecast of each instance."""
        x = torch.tensor(payload["instances"], dtype=torch.float32)  # (B, T)
        with torch.inference_mode():
            forecast = self.module.forward(x, 1, None, None)[0]  # (B, 1)
        return {"predictions": forecast.tolist()}


def main(argv: list[str]) -> None:
    """Serve CHECKPOINT as NAME on PORT (REST only) with WORKERS processes.

    KServe listens on every interface (it has no setting for the address); the benchmark
    sends only to 127.0.0.1.
    """
    path, name, port = argv[0], argv[1], int(argv[2])
    workers = int(argv[3]) if len(argv) > 3 else 2
    model = GatecastModel(name, path)
    # KServe kills a spawned worker that has not answered its liveness ping within 5 s; on a
    # busy 2-core machine importing torch can take longer, and it would kill them in a loop.
    RESTServerProcess.is_alive.__defaults__ = (60.0,)
    server = kserve.ModelServer(http_port=port, workers=workers, enable_grpc=False)
    server.start([model])


if __name__ == "__main__":
    main(sys.argv[1:])
