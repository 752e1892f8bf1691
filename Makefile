# illgan build.
#
#   make            build build/illgan
#   make run        start the daemon on the default dataset
#   make test       build and run every test (installs missing Debian packages first)
#   make asan       the test suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make bench      speed figures (seconds/iteration, images/s, GFLOP/s vs SGEMM)
#   make data       build the default dataset (20,000 faces) into data/faces
#   make install    PREFIX=/usr/local DESTDIR=
#
# The code is split into layered modules (src/MODULE); each is archived on its own and a
# test binary tests/MODULE/test_*.c links only its module and the layers below it, so the
# layering is enforced by the linker and one module's tests build without the others.

BUILD   ?= build
CC      ?= cc
PREFIX  ?= /usr/local
DESTDIR ?=

PKGS      := openblas libpng libjpeg sqlite3 libmicrohttpd libcjson zlib
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla \
            -Wno-format-truncation
CFLAGS   ?= -O2 -g
SANFLAGS ?=
ALL_CFLAGS = -std=c11 $(CFLAGS) $(SANFLAGS) $(WARN) -D_GNU_SOURCE -Iinclude -Isrc $(PKG_CFLAGS) \
             -DILLGAN_VERSION='"$(VERSION)"'
LDLIBS   = $(PKG_LIBS) -lpthread -lm
VERSION := 0.1.0

# Modules from the bottom layer up. A module may use only the ones listed after it in
# its _DEPS line.
MODULES     := util nn io data gan store server daemon
DEPS_util   := util
DEPS_nn     := nn util
DEPS_io     := io nn util
DEPS_data   := data io nn util
DEPS_gan    := gan data io nn util
DEPS_store  := store util
DEPS_server := server daemon store gan data io nn util
DEPS_daemon := daemon store gan data io nn util
DEPS_cli    := server daemon store gan data io nn util

src_of = $(wildcard src/$(1)/*.c)
obj_of = $(patsubst %.c,$(BUILD)/obj/%.o,$(call src_of,$(1)))
lib_of = $(BUILD)/lib/libillgan_$(1).a
libs_for = $(foreach m,$(DEPS_$(1)),$(call lib_of,$(m)))

BIN        := $(BUILD)/illgan
CLI_OBJS   := $(call obj_of,cli)
TEST_SRCS  := $(wildcard tests/*/test_*.c)
TEST_BINS  := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
TEST_UTIL  := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tests/util/*.c))
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))

.PHONY: all deps deps-test run test asan bench data install clean
# Shared test helpers are built by a pattern rule; keep them between runs.
.SECONDARY: $(TEST_UTIL)
all: deps $(BIN)

deps:
	@sh scripts/deps.sh build
deps-test:
	@sh scripts/deps.sh test

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

# Archives: a module with no sources yet gets an empty archive.
define module_rule
$(call lib_of,$(1)): $(call obj_of,$(1))
	@mkdir -p $$(dir $$@)
	@rm -f $$@
	@ar rcs $$@ $$^
endef
$(foreach m,$(MODULES),$(eval $(call module_rule,$(m))))

# Archives are listed twice because server and daemon call each other's entry points.
$(BIN): $(CLI_OBJS) $(call libs_for,cli)
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	@$(CC) $(ALL_CFLAGS) -o $@ $(CLI_OBJS) $(call libs_for,cli) $(call libs_for,cli) $(LDLIBS)

# tests/MODULE/test_X.c links against MODULE's layers and the shared test helpers.
.SECONDEXPANSION:
$(BUILD)/tests/%: tests/%.c $(TEST_UTIL) $$(call libs_for,$$(firstword $$(subst /, ,$$*)))
	@mkdir -p $(dir $@)
	@echo "  TEST    $@"
	@$(CC) $(ALL_CFLAGS) -Itests -MMD -MP -o $@ $< $(TEST_UTIL) \
	  $(call libs_for,$(firstword $(subst /, ,$*))) $(call libs_for,$(firstword $(subst /, ,$*))) \
	  $(LDLIBS) -lcmocka

$(BUILD)/bench/%: bench/%.c $(call libs_for,cli)
	@mkdir -p $(dir $@)
	@echo "  BENCH   $@"
	@$(CC) $(ALL_CFLAGS) -o $@ $< $(call libs_for,cli) $(LDLIBS)

test: deps-test $(BIN) $(TEST_BINS)
	@sh tests/run.sh $(BUILD)

asan:
	$(MAKE) BUILD=build-asan CFLAGS='-O1 -g -fno-omit-frame-pointer' \
	  SANFLAGS='-fsanitize=address,undefined -fno-sanitize-recover=all' test

bench: deps $(BIN) $(BENCH_BINS)
	@for b in $(BENCH_BINS); do echo "== $$b"; $$b || exit 1; done

# The default dataset: 20,000 64x64 cartoon faces rendered from DiceBear's "adventurer"
# style (see README). Skipped when data/faces is already complete.
data: deps $(BIN)
	@sh scripts/make-data.sh $(BIN) data

run: deps $(BIN) data
	$(BIN) serve --config etc/illgan.conf --state-dir state --data data/faces

# The config file is installed only when none is there, so a reinstall keeps an operator's
# edits (the sample always lands beside it as illgan.conf.sample).
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/illgan/web \
	  $(DESTDIR)$(PREFIX)/share/doc/illgan $(DESTDIR)/etc/illgan \
	  $(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/illgan
	cp -R web/. $(DESTDIR)$(PREFIX)/share/illgan/web/
	install -m 644 docs/*.md $(DESTDIR)$(PREFIX)/share/doc/illgan/
	install -m 644 etc/illgan.conf $(DESTDIR)/etc/illgan/illgan.conf.sample
	[ -e $(DESTDIR)/etc/illgan/illgan.conf ] || \
	  install -m 644 etc/illgan.conf $(DESTDIR)/etc/illgan/illgan.conf
	sed 's|@PREFIX@|$(PREFIX)|g' systemd/illgan.service > $(DESTDIR)$(PREFIX)/lib/systemd/system/illgan.service

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
