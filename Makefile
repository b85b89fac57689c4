.PHONY: demo test test-all bench

demo:
	bash scripts/quickstart.sh

test:
	bash scripts/test.sh

test-all:
	bash scripts/test.sh --runslow

bench:
	bash bench/run.sh
