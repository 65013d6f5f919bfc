# Merkazia: one non-recursive GNU Makefile for libcommon.a, the six daemons,
# the tools, the unit tests, the fuzz targets and the checks.
#
# Two flavours never mix objects: the release build (build/release, binaries
# in build/bin) and the ASan/UBSan build (SANITIZE=address,undefined:
# build/asan, binaries in build/asan/bin). `make check` builds both and runs
# every test on the sanitizer build; see docs/testing.md.

DAEMONS  := gateway stt-worker llm-worker tts-worker crm-store watchdog
TOOLS    := $(notdir $(patsubst %/,%,$(dir $(wildcard tools/*/main.c))))

SANITIZE ?=
BUILD    := build/$(if $(SANITIZE),asan,release)
BINDIR   := $(if $(SANITIZE),build/asan/bin,build/bin)
WERROR   ?= 1

VERSION  := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
BUILD_ID := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(shell git diff --quiet HEAD 2>/dev/null || echo -dirty)

PKGS     := libevent libevent_pthreads nanomsg jansson libcurl libpq openssl \
            libsodium libsystemd sndfile soxr espeak-ng libbsd-overlay
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CC       ?= cc
CPPFLAGS += -Icommon -MMD -MP -D_GNU_SOURCE $(PKG_CFLAGS) \
            -DMERKAZIA_VERSION='"$(VERSION)"' -DMERKAZIA_BUILD_ID='"$(BUILD_ID)"'
WARN     := -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wmissing-declarations -Wpointer-arith \
            -Wcast-qual -Wcast-align -Wformat=2 -Wformat-security -Wvla \
            -Wwrite-strings -Wundef -Wimplicit-fallthrough -Wnull-dereference \
            -Wconversion -Wno-sign-conversion -Wdouble-promotion \
            $(if $(filter 1,$(WERROR)),-Werror)
GCCWARN  := $(if $(findstring clang,$(shell $(CC) --version 2>/dev/null)),,-Wlogical-op -Wduplicated-cond -Wduplicated-branches)
ifeq ($(SANITIZE),)
OPT      := -O2 -g -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
HARDLD   := -pie -Wl,-z,relro,-z,now
else
OPT      := -O1 -g -fno-omit-frame-pointer -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fPIE
HARDLD   := -pie -fsanitize=$(SANITIZE) -Wl,-z,relro,-z,now
endif
CFLAGS   ?=
CFLAGS   += $(OPT) $(WARN) $(GCCWARN)
LDFLAGS  += $(HARDLD)
LDLIBS   += $(PKG_LIBS) -lhttp_parser -lwslay -lwebrtc_audio_processing -lm -lpthread

COMMON_SRC := $(wildcard common/*.c)
COMMON_LIB := $(BUILD)/libcommon.a
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(FUZZ_SRC))

.PHONY: all deps check check-unit check-e2e lint asan fuzz format \
        format-check cppcheck clang-tidy check-includes tests demo clean \
        install valgrind bench-store bench-tts bench-gateway bench-call web \
        check-web FORCE

all: $(DAEMONS:%=$(BINDIR)/%) $(TOOLS:%=$(BINDIR)/%) web

deps:
	@tools/deps

# The web UI (web/, docs/web.md) into web/dist: npm ci when the lockfile
# changed, vite build when a source changed (a no-op otherwise, so the
# second `all` of make check costs nothing). Node and npm come from make deps.
WEB_SRC := $(shell find web/src web/index.html web/vite.config.ts \
             web/tailwind.config.js web/postcss.config.js web/tsconfig.json \
             -type f 2>/dev/null)
web: web/dist/index.html
web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	@command -v npm >/dev/null || { echo 'web: npm not found (make deps installs it)' >&2; exit 1; }
	cd web && npm ci --no-audit --no-fund
	@touch $@
web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SRC)
	cd web && npm run build

$(COMMON_LIB): $(patsubst %.c,$(BUILD)/%.o,$(COMMON_SRC))
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

# A daemon's objects other than main.o also go into a per-daemon archive so
# unit tests can link one concern of a daemon without its main().
define daemon
$(BINDIR)/$(1): $(patsubst %.c,$(BUILD)/%.o,$(wildcard $(1)/*.c)) $(COMMON_LIB)
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
$(BUILD)/lib$(1).a: $(patsubst %.c,$(BUILD)/%.o,$(filter-out $(1)/main.c,$(wildcard $(1)/*.c)))
	@mkdir -p $$(@D)
	$$(AR) rcs $$@ $$^
endef
$(foreach d,$(DAEMONS),$(eval $(call daemon,$(d))))

# crm-store embeds crm-store/migrations/*.sql (migrate.c reads
# migrate_files[]): each file becomes a C string of octal escapes written by
# od, so every byte (Hebrew UTF-8 included) survives; files in name order.
MIGRATIONS := $(sort $(wildcard crm-store/migrations/*.sql))
$(BUILD)/gen/migrations.c: $(MIGRATIONS)
	@mkdir -p $(@D)
	@{ echo '/* Generated from crm-store/migrations by the Makefile. */'; \
	  echo '#include "crm_store.h"'; i=0; \
	  for f in $(MIGRATIONS); do echo "static const char migrate_sql_$$i[] ="; \
	    od -An -v -to1 $$f | sed 's/ /\\/g; s/^/"/; s/$$/"/'; echo ';'; \
	    i=$$((i + 1)); done; \
	  echo 'const struct migrate_file migrate_files[] = {'; i=0; \
	  for f in $(MIGRATIONS); do echo "{\"$${f##*/}\", migrate_sql_$$i, sizeof(migrate_sql_$$i) - 1},"; \
	    i=$$((i + 1)); done; \
	  echo '};'; echo 'const size_t migrate_nfiles = sizeof(migrate_files) / sizeof(migrate_files[0]);'; \
	} > $@.tmp && mv $@.tmp $@
$(BUILD)/gen/migrations.o: $(BUILD)/gen/migrations.c
	$(CC) $(CPPFLAGS) -Icrm-store $(CFLAGS) -c -o $@ $<
$(BINDIR)/crm-store $(BUILD)/libcrm-store.a: $(BUILD)/gen/migrations.o

define tool
$(BINDIR)/$(1): $(patsubst %.c,$(BUILD)/%.o,$(wildcard tools/$(1)/*.c)) $(COMMON_LIB)
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach t,$(TOOLS),$(eval $(call tool,$(t))))

# Unit tests: tests/unit/test_<module>.c links libcommon.a and, when the name
# is test_<daemon-with-underscores>_*.c, that daemon's archive.
daemon_of = $(firstword $(foreach d,$(DAEMONS),$(if $(filter test_$(subst -,_,$(d))_%,$(1)),$(d))))
define unit
$(BUILD)/tests/$(1): $(BUILD)/tests/unit/$(1).o $(if $(call daemon_of,$(1)),$(BUILD)/lib$(call daemon_of,$(1)).a) $(COMMON_LIB)
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS) -lcmocka
endef
$(foreach u,$(patsubst tests/unit/%.c,%,$(UNIT_SRC)),$(eval $(call unit,$(u))))
# ... and sees that daemon's private header.
$(foreach d,$(DAEMONS),$(eval $(BUILD)/tests/unit/test_$(subst -,_,$(d))_%.o: CPPFLAGS += -I$(d)))

FUZZ_DAEMON_tts_wav := tts-worker
FUZZ_DAEMON_llm_sse := llm-worker
FUZZ_DAEMON_sentence := llm-worker
FUZZ_DAEMON_provider_json := llm-worker
FUZZ_DAEMON_ws_frames := gateway
FUZZ_DAEMON_twilio_media := gateway
FUZZ_DAEMON_vad := gateway

# Fuzz corpus replay: every target's fuzz file linked with replay.c, run over
# tests/fuzz/corpus/<target>/ under the sanitizer build. A target that
# exercises a daemon's file names it: FUZZ_DAEMON_<target> := gateway.
FUZZ_DAEMON_http_request := gateway
FUZZ_DAEMON_form := gateway
FUZZ_DAEMON_csv := gateway
FUZZ_DAEMON_twilio_sig := gateway
define fuzzreplay
$(BUILD)/tests/replay_$(1): $(BUILD)/tests/fuzz/fuzz_$(1).o $(BUILD)/tests/fuzz/replay.o $(if $(FUZZ_DAEMON_$(1)),$(BUILD)/lib$(FUZZ_DAEMON_$(1)).a) $(COMMON_LIB)
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach f,$(FUZZ_TARGETS),$(eval $(call fuzzreplay,$(f))))

tests: all $(UNIT_BINS) $(FUZZ_TARGETS:%=$(BUILD)/tests/replay_%) \
       $(foreach d,$(DAEMONS),$(BUILD)/lib$(d).a)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# libFuzzer builds (clang), by hand: make fuzz; run build/fuzz/fuzz_<t>.
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -Icommon -D_GNU_SOURCE $(PKG_CFLAGS)
fuzz: $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)
# Always relinked: the daemon files a target uses are not prerequisites.
# FORCE has an empty rule, so make counts it as always new (without the
# rule the pattern would not apply and an old binary would stand).
FORCE:
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(COMMON_SRC) FORCE
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) $(if $(FUZZ_DAEMON_$*),-I$(FUZZ_DAEMON_$*)) -DMERKAZIA_VERSION='"$(VERSION)"' -DMERKAZIA_BUILD_ID='"fuzz"' \
	    -o $@ $< $(COMMON_SRC) \
	    $(if $(FUZZ_DAEMON_$*),$(filter-out $(FUZZ_DAEMON_$*)/main.c,$(wildcard $(FUZZ_DAEMON_$*)/*.c))) \
	    $(LDLIBS)

asan:
	$(MAKE) -j2 SANITIZE=address,undefined all tests

# crm-store's figures: acknowledged writes/s and p50/p99 caller-ID lookup
# latency with 100,000 customers (release build, private PostgreSQL).
bench-store:
	$(MAKE) -j2 $(BINDIR)/crm-store $(BINDIR)/store-load
	tests/bench/bench_store.py

# tts-worker's figures: synthesis jobs/s and cache-hit latency of one
# release worker against tools/fake-google (tests/bench/bench_tts.py).
bench-tts:
	$(MAKE) -j2 $(BINDIR)/tts-worker $(BINDIR)/msgtool $(BINDIR)/speak
	tests/bench/bench_tts.py

# The gateway's cost per concurrent call (RSS, CPU) and its timing (greeting,
# gaps between frames) under sim-caller load at 1-1000 calls, release build,
# the gateway alone (tests/bench/bench_gateway.py; docs/benchmarks.md).
bench-gateway:
	$(MAKE) -j2 $(BINDIR)/gateway $(BINDIR)/sim-caller
	tests/bench/bench_gateway.py

# A whole call's figures at 1, 10 and 100 concurrent calls, release build,
# every daemon with stand-ins at real latencies: voice-to-voice and added
# latency, barge-in reaction, CPU and RSS per call (tests/bench/bench_call.py;
# docs/benchmarks.md).
bench-call:
	$(MAKE) -j2 $(DAEMONS:%=$(BINDIR)/%) $(BINDIR)/sim-caller
	tests/bench/bench_call.py

# Everything CI runs; ends with "N passed, N failed".
check: deps
	$(MAKE) -j2 all
	$(MAKE) -j2 SANITIZE=address,undefined all tests
	tests/check

check-unit: deps
	$(MAKE) -j2 SANITIZE=address,undefined all tests
	tests/check unit

check-web: deps
	$(MAKE) web
	tests/check web

check-e2e: deps
	$(MAKE) -j2 all
	$(MAKE) -j2 SANITIZE=address,undefined all tests
	tests/check e2e

demo: deps
	$(MAKE) -j2 all
	tools/demo

C_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)

format:
	clang-format -i $(C_FILES)

format-check:
	clang-format --dry-run -Werror $(C_FILES)

cppcheck:
	cppcheck --quiet --enable=warning,performance,portability --error-exitcode=1 \
	    --inline-suppr --suppress=missingIncludeSystem -Icommon -D__GNUC__ \
	    $(C_FILES)

check-includes:
	tests/check-includes

# clang-tidy needs a compilation database: a throw-away build under bear.
TIDY_SRC = $(filter common/% $(DAEMONS:%=%/%) tools/%,$(filter %.c,$(C_FILES)))
clang-tidy:
	rm -rf build/tidy && mkdir -p build/tidy
	bear --output build/tidy/compile_commands.json -- \
	    $(MAKE) -s -B BUILD=build/tidy/obj BINDIR=build/tidy/bin all
	clang-tidy -p build/tidy --quiet --extra-arg=-Wno-unknown-warning-option $(TIDY_SRC)

lint: deps format-check cppcheck check-includes clang-tidy

valgrind:
	$(MAKE) BUILD=build/valgrind OPT='-O0 -g' all

clean:
	rm -rf build compile_commands.json
	rm -rf web/dist

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
