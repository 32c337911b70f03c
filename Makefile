# sluice: plain Makefile, explicit object list, pkg-config for the libraries.
#   make                 build build/sluice
#   make run             build and start on config/sluice.yaml
#   make test            build and run every test suite
#   make SANITIZE=1 test the same under ASan + UBSan (objects in build-san/)
#   make BUILD=dir       build somewhere else (helpers, parallel trees)

SANITIZE ?= 0
ifeq ($(SANITIZE),1)
BUILD ?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD ?= build
SANFLAGS :=
endif

CC      ?= cc
PKGS    := libevent sqlite3 libcjson yaml-0.1 libcrypto
STAMP   := .deps-installed

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wformat=2 -Wstrict-prototypes \
           -Wmissing-prototypes -Werror -Iemulator $(PKG_CFLAGS) $(SANFLAGS)
LDFLAGS += $(SANFLAGS)
LDLIBS  += $(PKG_LIBS) -lm

# Everything but main.c: linked into the binary and into the unit tests.
LIB_SRCS := \
	emulator/core/log.c \
	emulator/core/clock.c \
	emulator/core/ids.c \
	emulator/core/buf.c \
	emulator/core/errors.c \
	emulator/core/digest.c \
	emulator/core/form.c \
	emulator/core/config.c \
	emulator/core/server.c \
	emulator/core/guard.c \
	emulator/sqs/store.c \
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
	emulator/lambda/poller.c \
	emulator/lambda/api.c \
	emulator/apigw/router.c \
	emulator/apigw/vtl.c \
	emulator/apigw/gateway.c \
	emulator/endpoint.c

# The runtime bootstraps sluice ships, embedded in the binary (scripts/embed).
RUNTIME_FILES := $(sort $(wildcard emulator/lambda/runtimes/*/*))
EMBED_SRC := $(BUILD)/gen/embedded.c

LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/gen/embedded.o
MAIN_OBJ := $(BUILD)/emulator/main.o

UNIT_TESTS := $(basename $(notdir $(wildcard tests/unit/test_*.c)))
UNIT_BINS  := $(UNIT_TESTS:%=$(BUILD)/tests/%)

.PHONY: all run test unit test-js test-py test-cli test-durability bench clean deps

all: $(BUILD)/sluice

deps:
	@scripts/install-deps

$(STAMP):
	@scripts/install-deps && touch $(STAMP)

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

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB_OBJS) $(LDFLAGS) $(LDLIBS) -lcmocka

run: $(BUILD)/sluice
	$(BUILD)/sluice serve --config config/sluice.yaml

# Each suite prints its own summary; `make test` fails if any fails.
test: $(BUILD)/sluice $(UNIT_BINS)
	@scripts/run-tests $(BUILD)

unit: $(UNIT_BINS)
	@scripts/run-tests $(BUILD) unit

test-js test-py test-cli test-durability: $(BUILD)/sluice
	@scripts/run-tests $(BUILD) $(@:test-%=%)

bench: $(BUILD)/sluice
	scripts/bench

clean:
	rm -rf build build-san

-include $(LIB_OBJS:.o=.d) $(MAIN_OBJ:.o=.d)
