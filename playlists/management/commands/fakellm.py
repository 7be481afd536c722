"""Serve the fake OpenAI-compatible model, for the demo and manual tests."""

import contextlib
import threading

from django.core.management.base import BaseCommand

from playlists.fakes.llm import DEFAULT_MODELS, FakeLLMServer, Misbehaviour


class Command(BaseCommand):
    help = "Serve a fake OpenAI-compatible model (deterministic playlist picks) until Ctrl-C."
    # Needs no database: it must run before (or without) migrations.
    requires_system_checks = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=11435, help="0 picks a free port")
        parser.add_argument(
            "--models", default=",".join(DEFAULT_MODELS), help="comma-separated model ids it offers"
        )
        parser.add_argument("--api-key", default="", help="require this bearer key (default: none)")
        parser.add_argument(
            "--misbehave",
            choices=Misbehaviour.values,
            help="; ".join(f"{m.value}: {m.label}" for m in Misbehaviour),
        )

    def handle(self, *args, **options):
        server = FakeLLMServer(
            models=[m.strip() for m in options["models"].split(",") if m.strip()],
            api_key=options["api_key"],
            host=options["host"],
            port=options["port"],
            misbehave=options["misbehave"] and Misbehaviour(options["misbehave"]),
        )
        with server:
            self.stdout.write(
                f"Fake model serving {', '.join(server.models)} at {server.base_url}"
                + (f", misbehaving: {server.misbehave.label}" if server.misbehave else "")
                + ". Ctrl-C to stop."
            )
            self.stdout.flush()
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()
