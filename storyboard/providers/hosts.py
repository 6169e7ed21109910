"""A film on several hosts: each job goes to its own host's client.

A shot may name its own host (`provider:`); the render then holds one client
per host and the executor asks this object for the job's
(``for_job``). Each client keeps its own discipline and origin: uploads,
journal entries and recovery are by the job's host, never another's."""

from __future__ import annotations

from ..plan.types import Job
from . import ProviderError, RemoteProvider


class Hosts:
    def __init__(self, clients: dict[str, RemoteProvider | None], default: str):
        self.clients, self.default = clients, default
        main = clients.get(default)
        self.name = default
        self.origin = main.origin if main is not None else ""

    def for_job(self, job: Job) -> RemoteProvider:
        host = job.provider or self.default
        client = self.clients.get(host)
        if client is None:
            raise ProviderError(f"no client for {host}: its API key is not set")
        return client

    async def check_access(self) -> None:
        for client in self.clients.values():
            if client is not None:
                await client.check_access()

    async def aclose(self) -> None:
        for client in self.clients.values():
            if client is not None:
                await client.aclose()
