"""The web server, as every start of it runs it: gunicorn reads this file from the
working directory, so `bin/run`, the Docker image, the tests' stack (conftest.py) and
the benchmarks start plain `gunicorn --bind ADDRESS`."""

wsgi_app = "mediasage.wsgi"
# Two processes of four threads: status polls keep answering while a page renders,
# within a small NAS's memory (bench/README.md: about 47 MB a worker).
workers = 2
threads = 4


def on_starting(server):
    """Read the settings once in the master, before any worker is forked: a data directory
    that cannot be written then stops the server with the settings' one line, where two
    workers failing to boot at once would end in a traceback of gunicorn's own."""
    import mediasage.settings  # noqa: F401
