# vipcheck: `sudo make run` runs the shipped scenarios, `sudo make test` runs every test.
BUILD   ?= build
RESULTS ?= $(BUILD)/results
PYTHON  := /usr/bin/python3
SCENARIOS := $(wildcard topologies/*/scenarios/*.yaml)

.PHONY: all deps build run test bench nightly soak sweep fuzz clean need-root

all: build

deps:
	@ci/install-deps

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DPython3_EXECUTABLE=$(PYTHON)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $$(nproc)

need-root:
	@if [ "$$(id -u)" -ne 0 ]; then \
	  echo "vipcheck builds network namespaces and needs root: sudo make $(MAKECMDGOALS)" >&2; exit 3; fi

# Every shipped scenario, each with JSON and JUnit results, then one summary table.
# SHARD=K/N runs the K-th of N shares, for CI runners that split the job.
run: need-root deps build
	$(BUILD)/vipcheck run $(SCENARIOS) --results $(RESULTS) $(if $(SHARD),--shard $(SHARD))

test: need-root deps build
	cd $(BUILD) && ctest --output-on-failure -j 2

bench: need-root deps build
	ci/bench

nightly: need-root deps build
	ci/nightly

# The whole suite N times in a row, failures counted by test and check: make soak N=50
N ?= 10
soak: need-root deps build
	ci/soak $(N)

# The flake sweep: every test alone, one at a time, up to N times each: make sweep N=10
sweep: need-root deps build
	ci/soak $(N) --alone

# libFuzzer on the parsers of network input, SECONDS each: make fuzz SECONDS=300
SECONDS ?= 60
fuzz: need-root deps
	ci/fuzz $(SECONDS)

clean:
	rm -rf $(BUILD)
