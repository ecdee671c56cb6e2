# Two commands matter: `make demo` (the bot against the built-in sandbox) and `make test`.
# Both create .venv from requirements.txt on first use and install Debian's ffmpeg, chromium,
# fonts-noto-color-emoji (the web chat's emoji), fonts-dejavu-core and libfribidi0 (the /stats
# chart's Persian) when they are missing (as root), or say exactly what to install.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum requirements.txt | cut -c1-12)

.PHONY: demo test lint typecheck unit bench screenshot system-deps clean

demo: $(STAMP) system-deps
	$(PY) run.py --workers auto --sandbox

test: $(STAMP) system-deps lint typecheck unit

lint: $(STAMP)
	$(VENV)/bin/ruff check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy .

# In a random order (pytest-randomly; the header prints the seed: replay with
# PYTEST_ARGS="--randomly-seed=N"), so that no test leans on another having run first.
unit: $(STAMP)
	$(VENV)/bin/pytest -p randomly $(PYTEST_ARGS)

bench: $(STAMP) system-deps
	$(PY) bench/run_all.py $(BENCH_FLAGS)

screenshot: $(STAMP) system-deps
	$(PY) docs/screenshot.py

$(STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $@

system-deps:
	@missing=""; \
	command -v ffmpeg >/dev/null || missing="$$missing ffmpeg"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v systemd-analyze >/dev/null || missing="$$missing systemd"; \
	dpkg -s fonts-noto-color-emoji >/dev/null 2>&1 || fc-list 2>/dev/null | grep -qi "Noto Color Emoji" \
		|| missing="$$missing fonts-noto-color-emoji"; \
	test -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf || missing="$$missing fonts-dejavu-core"; \
	dpkg -s libfribidi0 >/dev/null 2>&1 || missing="$$missing libfribidi0"; \
	[ "$$(id -u)" != 0 ] || command -v ip >/dev/null || missing="$$missing iproute2"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing Debian packages:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else \
			echo "missing:$$missing -- install them with: sudo apt-get install$$missing"; exit 1; \
		fi; \
	fi

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache test-artifacts
