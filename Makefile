.PHONY: run test
# Set up and start MediaSage (web + worker; demo Plex when PLEX_URL is unset).
run:
	bin/run
# Set up and run ruff and the whole test suite.
test:
	bin/test
