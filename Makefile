# sluice: plain Makefile, explicit object list, pkg-config for the libraries.
#   make                 build build/sluice
#   make run             build and start on config/sluice.yaml (RUN_ARGS="..." adds flags)
#   make test            build and run every test suite
#   make SANITIZE=1 test the same under ASan + UBSan (objects in build-san/)
#   make test-auth       the js and py suites with SigV4 checks on (SLUICE_AUTH=1)
#   make fuzz            build the libFuzzer targets (clang) and run each for
#                        FUZZ_SECONDS (default 30); `make test` replays their corpora
#   make BUILD=dir       build somewhere else (helpers, parallel trees)

SANITIZE ?= 0
FUZZ ?= 0
ifeq ($(FUZZ),1)
# libFuzzer targets (make fuzz): clang, objects in build-fuzz/.
BUILD ?= build-fuzz
CC := clang
SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else ifeq ($(SANITIZE),1)
BUILD ?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD ?= build
SANFLAGS :=
endif

CC      ?= cc
# Each library as pkg-config-name:debian-package, so a missing one can be
# named with the package that provides it.
PKGS    := libevent:libevent-dev sqlite3:libsqlite3-dev libcjson:libcjson-dev \
           yaml-0.1:libyaml-dev libcrypto:libssl-dev libcbor:libcbor-dev zlib:zlib1g-dev
TEST_PKGS := cmocka:libcmocka-dev
STAMP   := .deps-installed
INSTALL_DEPS := scripts/install-deps

# The libraries' flags are computed by a recipe, after the install step,
# into $(PKG_MK), which make includes: make builds an included makefile
# before anything else and then re-reads itself, so the very first run on a
# fresh machine installs the packages and then compiles and links with
# their flags (a $(shell pkg-config ...) here would run before the install
# and leave the link line empty).
PKG_MK := $(BUILD)/pkg-flags.mk
NO_BUILD_GOALS := clean deps
ifneq ($(if $(MAKECMDGOALS),$(filter-out $(NO_BUILD_GOALS),$(MAKECMDGOALS)),all),)
include $(PKG_MK)
endif

CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wformat=2 -Wstrict-prototypes \
           -Wmissing-prototypes -Werror -Iemulator $(PKG_CFLAGS) $(SANFLAGS)
LDFLAGS += $(SANFLAGS)
LDLIBS  += $(PKG_LIBS) -lm -pthread

# Everything but main.c: linked into the binary and into the unit tests.
LIB_SRCS := \
	emulator/core/log.c \
	emulator/core/clock.c \
	emulator/core/ids.c \
	emulator/core/buf.c \
	emulator/core/errors.c \
	emulator/core/digest.c \
	emulator/core/evmem.c \
	emulator/core/form.c \
	emulator/core/config.c \
	emulator/core/server.c \
	emulator/core/guard.c \
	emulator/core/sigv4.c \
	emulator/core/auth.c \
	emulator/sqs/store.c \
	emulator/sqs/checkpoint.c \
	emulator/sqs/wal_sync.c \
	emulator/sqs/walbuf.c \
	emulator/sqs/validate.c \
	emulator/sqs/queue.c \
	emulator/sqs/wait.c \
	emulator/sqs/actions.c \
	emulator/sqs/move_tasks.c \
	emulator/sqs/wire_json.c \
	emulator/sqs/wire_query.c \
	emulator/lambda/runner.c \
	emulator/lambda/instances.c \
	emulator/lambda/runtimes.c \
	emulator/lambda/events.c \
	emulator/lambda/service.c \
	emulator/lambda/event_store.c \
	emulator/lambda/destinations.c \
	emulator/lambda/poller.c \
	emulator/lambda/api.c \
	emulator/apigw/router.c \
	emulator/apigw/vtl.c \
	emulator/apigw/gateway.c \
	emulator/sts/sts.c \
	emulator/observe/db.c \
	emulator/observe/sqlmem.c \
	emulator/observe/slab.c \
	emulator/observe/metrics.c \
	emulator/observe/metrics_store.c \
	emulator/observe/prometheus.c \
	emulator/observe/observe.c \
	emulator/cloudwatch/model.c \
	emulator/cloudwatch/wire_json.c \
	emulator/cloudwatch/wire_query.c \
	emulator/cloudwatch/wire_cbor.c \
	emulator/cloudwatch/alarms.c \
	emulator/cloudwatch/actions.c \
	emulator/cloudwatch/cloudwatch.c \
	emulator/observe/filter_pattern.c \
	emulator/observe/log_block.c \
	emulator/observe/logs.c \
	emulator/observe/logs_api.c \
	emulator/observe/trace_seg.c \
	emulator/observe/traces.c \
	emulator/observe/trace_cli.c \
	emulator/template/yaml.c \
	emulator/template/intrinsics.c \
	emulator/template/resources.c \
	emulator/template/apis.c \
	emulator/template/template.c \
	emulator/dashboard/dashboard.c \
	emulator/endpoint.c

# The runtime bootstraps sluice ships, embedded in the binary (scripts/embed).
RUNTIME_FILES := $(sort $(wildcard emulator/lambda/runtimes/*/*))
EMBED_SRC := $(BUILD)/gen/embedded.c
# The dashboard's page (emulator/dashboard/ui/), embedded the same way.
UI_FILES := $(sort $(wildcard emulator/dashboard/ui/*))
UI_SRC := $(BUILD)/gen/dashboard_ui.c

LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/gen/embedded.o $(BUILD)/gen/dashboard_ui.o
MAIN_OBJ := $(BUILD)/emulator/main.o

UNIT_TESTS := $(basename $(notdir $(wildcard tests/unit/test_*.c)))
UNIT_BINS  := $(UNIT_TESTS:%=$(BUILD)/tests/%)

# Fuzz targets (tests/fuzz/fuzz_*.c): libFuzzer binaries in build-fuzz/fuzz/,
# and in every build a replay binary that runs the target's corpus
# (seeds and the crashers kept as regression inputs) without libFuzzer.
FUZZ_TARGETS := $(basename $(notdir $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/%)
REPLAY_BINS  := $(FUZZ_TARGETS:%=$(BUILD)/replay/%)

.PHONY: all run test unit test-js test-py test-cli test-durability test-build test-auth fuzz fuzz-bins bench clean deps flags

all: $(BUILD)/sluice

deps:
	@scripts/install-deps

$(STAMP): scripts/install-deps
	@$(INSTALL_DEPS) && touch $(STAMP)

# pkg_check LIST: fails naming each library of LIST (name:package) that
# pkg-config cannot find, with the package to install; else succeeds.
define pkg_check
	@command -v pkg-config >/dev/null 2>&1 || { echo "sluice: pkg-config is not installed: run scripts/install-deps (or: sudo apt-get install pkg-config)" >&2; exit 1; }; \
	missing=""; for p in $(1); do pkg-config --exists "$${p%%:*}" || missing="$$missing $$p"; done; \
	for p in $$missing; do echo "sluice: library '$${p%%:*}' not found by pkg-config: run scripts/install-deps (or: sudo apt-get install $${p#*:})" >&2; done; \
	[ -z "$$missing" ]
endef

$(PKG_MK): Makefile | $(STAMP)
	$(call pkg_check,$(PKGS))
	@mkdir -p $(@D)
	@names="$(foreach p,$(PKGS),$(firstword $(subst :, ,$(p))))"; \
	{ echo "PKG_CFLAGS := $$(pkg-config --cflags $$names)"; \
	  echo "PKG_LIBS := $$(pkg-config --libs $$names)"; } > $@.tmp && mv $@.tmp $@

$(BUILD)/test-pkgs.ok: Makefile | $(STAMP)
	$(call pkg_check,$(TEST_PKGS))
	@mkdir -p $(@D) && touch $@

# The flags in use (for checking the build itself).
flags:
	@echo "PKG_CFLAGS=$(PKG_CFLAGS)"
	@echo "PKG_LIBS=$(PKG_LIBS)"

$(BUILD)/sluice: $(LIB_OBJS) $(MAIN_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c | $(STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(EMBED_SRC): scripts/embed $(RUNTIME_FILES) | $(STAMP)
	@mkdir -p $(dir $@)
	scripts/embed emulator/lambda/runtimes $(RUNTIME_FILES) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/embedded.o: $(EMBED_SRC)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(UI_SRC): scripts/embed $(UI_FILES) | $(STAMP)
	@mkdir -p $(dir $@)
	scripts/embed --table dashboard_assets --type dashboard_asset_t --include dashboard/dashboard.h \
	  emulator/dashboard/ui $(UI_FILES) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/dashboard_ui.o: $(UI_SRC)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJS) | $(BUILD)/test-pkgs.ok
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB_OBJS) $(LDFLAGS) $(LDLIBS) -lcmocka

$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz.h $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $< $(LIB_OBJS) $(LDFLAGS) $(LDLIBS)

$(BUILD)/replay/%: tests/fuzz/%.c tests/fuzz/replay.c tests/fuzz/fuzz.h $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< tests/fuzz/replay.c $(LIB_OBJS) $(LDFLAGS) $(LDLIBS)

fuzz-bins: $(FUZZ_BINS)

# make fuzz [FUZZ_SECONDS=30] [FUZZ_TARGETS="fuzz_vtl ..."]
fuzz:
	@command -v clang >/dev/null 2>&1 || { echo "sluice: make fuzz needs clang (libFuzzer): run scripts/install-deps (or: sudo apt-get install clang)" >&2; exit 1; }
	@$(MAKE) --no-print-directory FUZZ=1 fuzz-bins
	@scripts/fuzz build-fuzz $(if $(filter command line,$(origin FUZZ_TARGETS)),$(FUZZ_TARGETS))

# make run RUN_ARGS="--listen 127.0.0.1:4567 --api-listen shop=127.0.0.1:3001"
run: $(BUILD)/sluice
	$(BUILD)/sluice serve --config config/sluice.yaml $(RUN_ARGS)

# Each suite prints its own summary; `make test` fails if any fails.
test: $(BUILD)/sluice $(UNIT_BINS) $(REPLAY_BINS)
	@scripts/run-tests $(BUILD)

unit: $(UNIT_BINS) $(REPLAY_BINS)
	@scripts/run-tests $(BUILD) unit replay

test-js test-py test-cli test-durability: $(BUILD)/sluice
	@scripts/run-tests $(BUILD) $(@:test-%=%)

test-build:
	@scripts/run-tests $(BUILD) build

# The js and py suites with SigV4 checks on (auth: in every server they start).
test-auth: $(BUILD)/sluice
	@SLUICE_AUTH=1 scripts/run-tests $(BUILD) js py

bench: $(BUILD)/sluice
	scripts/bench

clean:
	rm -rf build build-san build-fuzz

-include $(LIB_OBJS:.o=.d) $(MAIN_OBJ:.o=.d)
