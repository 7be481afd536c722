"""The web server, as every start of it runs it: gunicorn reads this file from the
working directory, so `bin/run`, the Docker image, the tests' stack (conftest.py) and
the benchmarks start plain `gunicorn --bind ADDRESS`."""

wsgi_app = "mediasage.wsgi"
# Two processes of four threads: status polls keep answering while a page renders,
# within a small NAS's memory (bench/README.md: about 47 MB a worker).
workers = 2
threads = 4
