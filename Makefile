# barrel: one non-recursive Makefile.
# Every src/<module>/*.c goes into libbarrel.a; src/main.c links it into ./barrel.
# Every tests/unit/test_*.c is one cmocka binary; tests/integration/test_*.c likewise,
# linked with the harness in tests/lib/.

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share/barrel
# barrel looks for /etc/barrel.conf whatever the prefix; the barman symlink goes in a private directory
SYSCONFDIR ?= /etc
LIBDIR  ?= $(PREFIX)/lib
PRIVBINDIR ?= $(LIBDIR)/barrel/bin
SYSTEMDUNITDIR ?= $(LIBDIR)/systemd/system
DESTDIR ?=

CC      ?= gcc
PKGS     = libpq libarchive libzstd libssh2 libcrypto
CPPFLAGS += -Iinclude -I$(shell pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -Wall -Wextra -Werror -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes \
           -Wvla -Wwrite-strings -Wcast-qual -Wshadow -Wno-format-nonliteral -pthread
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lpq -larchive -lzstd -lssh2 -lcrypto) -pthread -lm
# Each flavour builds into its own tree, so that objects compiled with one set
# of flags are never linked with another's: the normal build in place (B is
# empty), ASAN=1 under build/asan/, the fuzz targets under build/fuzz/.
ifeq ($(ASAN),1)
B        = build/asan/
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
else
B        =
endif

LIB_SRC  = $(sort $(wildcard src/*/*.c))
LIB_OBJ  = $(addprefix $(B),$(LIB_SRC:.c=.o))
UNIT_SRC = $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN = $(addprefix $(B),$(UNIT_SRC:.c=))
INTEG_SRC = $(sort $(wildcard tests/integration/test_*.c))
INTEG_BIN = $(addprefix $(B),$(INTEG_SRC:.c=))
INTEROP_SRC = $(sort $(wildcard tests/interop/test_*.c))
INTEROP_BIN = $(addprefix $(B),$(INTEROP_SRC:.c=))
FAULT_SRC = $(sort $(wildcard tests/faults/test_*.c))
FAULT_BIN = $(addprefix $(B),$(FAULT_SRC:.c=))
TLIB_SRC = $(sort $(wildcard tests/lib/*.c))
TLIB_OBJ = $(addprefix $(B),$(TLIB_SRC:.c=.o))
HEADERS  = $(sort $(wildcard include/barrel/*.h))

.SECONDARY: $(TLIB_OBJ)

.PHONY: all check check-unit check-integration check-interop check-headers check-faults check-valgrind fuzz fuzz-run \
        deps install uninstall clean demo bench

all: $(B)barrel

$(B)libbarrel.a: $(LIB_OBJ)
	$(AR) rcs $@ $^

$(B)barrel: $(B)src/main.o $(B)libbarrel.a
	$(CC) $(LDFLAGS) -o $@ $(B)src/main.o $(B)libbarrel.a $(LDLIBS)

$(B)%.o: %.c $(HEADERS) Makefile
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(B)tests/lib/%.o: tests/lib/%.c tests/lib/*.h $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests/lib $(CFLAGS) -c -o $@ $<

$(B)tests/unit/test_%: tests/unit/test_%.c $(B)libbarrel.a $(TLIB_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests/lib $(CFLAGS) $(LDFLAGS) -o $@ $< $(TLIB_OBJ) $(B)libbarrel.a $(LDLIBS) -lcmocka

$(B)tests/integration/test_%: tests/integration/test_%.c $(B)libbarrel.a $(TLIB_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests/lib $(CFLAGS) $(LDFLAGS) -o $@ $< $(TLIB_OBJ) $(B)libbarrel.a $(LDLIBS) -lcmocka

# Against the real Barman 3.4 (make deps installs it); the suite skips, saying so, without it.
$(B)tests/interop/test_%: tests/interop/test_%.c $(B)libbarrel.a $(TLIB_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests/lib $(CFLAGS) $(LDFLAGS) -o $@ $< $(TLIB_OBJ) $(B)libbarrel.a $(LDLIBS) -lcmocka

$(B)tests/faults/test_%: tests/faults/test_%.c $(B)libbarrel.a $(TLIB_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests/lib $(CFLAGS) $(LDFLAGS) -o $@ $< $(TLIB_OBJ) $(B)libbarrel.a $(LDLIBS) -lcmocka

# Every header compiles alone.
check-headers:
	@for h in $(HEADERS); do \
	  printf '#include "%s"\n' "$${h#include/}" | $(CC) $(CPPFLAGS) $(CFLAGS) -x c -fsyntax-only - || exit 1; \
	done; echo "headers: $(words $(HEADERS)) compile alone"

check: $(B)barrel check-headers $(UNIT_BIN) $(INTEG_BIN) $(INTEROP_BIN)
	@BARREL_BIN=$(CURDIR)/$(B)barrel FIXTURES=$(CURDIR)/../shared/fixtures/barman-3.4 \
	  sh tests/run-tests.sh $(UNIT_BIN) $(INTEG_BIN) $(INTEROP_BIN)

check-unit: $(B)barrel $(UNIT_BIN)
	@BARREL_BIN=$(CURDIR)/$(B)barrel sh tests/run-tests.sh $(UNIT_BIN)

check-integration: $(B)barrel $(INTEG_BIN)
	@BARREL_BIN=$(CURDIR)/$(B)barrel sh tests/run-tests.sh $(INTEG_BIN)

check-interop: $(B)barrel $(INTEROP_BIN)
	@BARREL_BIN=$(CURDIR)/$(B)barrel sh tests/run-tests.sh $(INTEROP_BIN)

# Crashes, full disks, restarts, network cuts, concurrent commands (tests/faults/README).
# FAULT_SEED=N replays one run's kill points; FAULT_POINTS=N sets how many per operation.
check-faults: $(B)barrel $(FAULT_BIN)
	@BARREL_BIN=$(CURDIR)/$(B)barrel FIXTURES=$(CURDIR)/../shared/fixtures/barman-3.4 \
	  sh tests/run-tests.sh $(FAULT_BIN)

# The unit tests under valgrind, every leak an error (the normal build: valgrind and ASan exclude each other).
VALGRIND = valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible \
           --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=1
check-valgrind: barrel $(UNIT_SRC:.c=)
	@BARREL_BIN=$(CURDIR)/barrel TEST_RUNNER="$(VALGRIND)" sh tests/run-tests.sh $(UNIT_SRC:.c=)

# libFuzzer targets (clang), built with ASan and UBSan under build/fuzz/ (tests/fuzz/README).
# `make fuzz-run FUZZ_SECONDS=N` runs each target N seconds over a copy of its seed corpus.
FUZZ_CC      = clang
FUZZ_B       = build/fuzz/
FUZZ_CFLAGS  = -std=c11 -O1 -g -pthread -Wall -Wextra -Werror -Wno-unused-parameter -fno-omit-frame-pointer \
               -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
FUZZ_SRC     = $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN     = $(patsubst tests/fuzz/%.c,$(FUZZ_B)%,$(FUZZ_SRC))
FUZZ_LIB_OBJ = $(addprefix $(FUZZ_B),$(LIB_SRC:.c=.o))
FUZZ_SECONDS ?= 20

$(FUZZ_B)src/%.o: src/%.c $(HEADERS) Makefile
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_B)libbarrel.a: $(FUZZ_LIB_OBJ)
	$(AR) rcs $@ $^

$(FUZZ_B)fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_B)libbarrel.a
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_B)libbarrel.a $(LDLIBS)

fuzz: $(FUZZ_BIN)

fuzz-run: fuzz
	@FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run.sh $(FUZZ_BIN)

# The benchmark suite beside the anchors (bench/run; not part of check): about 20 minutes
# on 2 cores at the default scale. Its settings through the environment, e.g.
# make bench SCALE=300 ROUNDS=5, or BENCH_ARGS="--only backup".
bench: barrel
	bench/run $(BENCH_ARGS)

deps:
	@sh scripts/deps.sh

# barrel's main job end to end on a throwaway PostgreSQL 15 cluster (README's first command).
demo: all
	@bash scripts/demo.sh

# The package and `make install` tree, the units (systemd-analyze), lintian (tests/packaging/).
check-packaging: all
	@sh tests/packaging/test-package.sh --reduced

# The same tree as the Debian package, without the user (see README, Install).
# An existing $(SYSCONFDIR)/barrel.conf is kept.
UNITS = barrel-cron.service barrel-cron.timer barrel-backup@.service barrel-backup@.timer \
        barrel-receive-wal@.service
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(PRIVBINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	  $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(DATADIR)/policies $(DESTDIR)$(SYSCONFDIR)/barrel.d \
	  $(DESTDIR)$(SYSCONFDIR)/cron.d $(DESTDIR)$(SYSCONFDIR)/logrotate.d $(DESTDIR)$(SYSTEMDUNITDIR)
	install -m 0755 $(B)barrel $(DESTDIR)$(BINDIR)/barrel
	ln -sfr $(DESTDIR)$(BINDIR)/barrel $(DESTDIR)$(PRIVBINDIR)/barman
	install -m 0644 man/barrel.1 $(DESTDIR)$(MANDIR)/man1/barrel.1
	install -m 0644 man/barrel.conf.5 $(DESTDIR)$(MANDIR)/man5/barrel.conf.5
	install -m 0644 man/barrel-wal.7 $(DESTDIR)$(MANDIR)/man7/barrel-wal.7
	install -m 0644 policies/*.conf $(DESTDIR)$(DATADIR)/policies/
	[ -e $(DESTDIR)$(SYSCONFDIR)/barrel.conf ] || install -m 0644 packaging/barrel.conf $(DESTDIR)$(SYSCONFDIR)/barrel.conf
	install -m 0644 packaging/cron.d/barrel $(DESTDIR)$(SYSCONFDIR)/cron.d/barrel
	install -m 0644 packaging/logrotate/barrel $(DESTDIR)$(SYSCONFDIR)/logrotate.d/barrel
	for u in $(UNITS); do install -m 0644 packaging/systemd/$$u $(DESTDIR)$(SYSTEMDUNITDIR)/$$u || exit 1; done

# Leaves $(SYSCONFDIR)/barrel.conf and barrel.d/ (configuration) and every catalog alone.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/barrel $(DESTDIR)$(PRIVBINDIR)/barman $(DESTDIR)$(MANDIR)/man1/barrel.1 \
	  $(DESTDIR)$(MANDIR)/man5/barrel.conf.5 $(DESTDIR)$(MANDIR)/man7/barrel-wal.7 \
	  $(DESTDIR)$(SYSCONFDIR)/cron.d/barrel $(DESTDIR)$(SYSCONFDIR)/logrotate.d/barrel
	for u in $(UNITS); do rm -f $(DESTDIR)$(SYSTEMDUNITDIR)/$$u; done
	rm -rf $(DESTDIR)$(DATADIR)
	-rmdir $(DESTDIR)$(PRIVBINDIR) $(DESTDIR)$(LIBDIR)/barrel 2>/dev/null

clean:
	rm -f barrel libbarrel.a src/*.o src/*/*.o tests/lib/*.o $(UNIT_BIN) $(INTEG_BIN) $(INTEROP_BIN)
	rm -rf build
