# barrel: one non-recursive Makefile.
# Every src/<module>/*.c goes into libbarrel.a; src/main.c links it into ./barrel.
# Every tests/unit/test_*.c is one cmocka binary; tests/integration/test_*.c likewise,
# linked with the harness in tests/lib/.

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share/barrel
DESTDIR ?=

CC      ?= gcc
PKGS     = libpq libarchive libzstd libssh2 libcrypto
CPPFLAGS += -Iinclude -I$(shell pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -Wall -Wextra -Werror -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes \
           -Wvla -Wwrite-strings -Wcast-qual -Wshadow -Wno-format-nonliteral -pthread
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lpq -larchive -lzstd -lssh2 -lcrypto) -pthread -lm
ifeq ($(ASAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

LIB_SRC  = $(sort $(wildcard src/*/*.c))
LIB_OBJ  = $(LIB_SRC:.c=.o)
UNIT_SRC = $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN = $(UNIT_SRC:.c=)
INTEG_SRC = $(sort $(wildcard tests/integration/test_*.c))
INTEG_BIN = $(INTEG_SRC:.c=)
TLIB_SRC = $(sort $(wildcard tests/lib/*.c))
TLIB_OBJ = $(TLIB_SRC:.c=.o)
HEADERS  = $(sort $(wildcard include/barrel/*.h))

.SECONDARY: $(TLIB_OBJ)

.PHONY: all check check-unit check-integration check-headers deps install uninstall clean demo bench

all: barrel

libbarrel.a: $(LIB_OBJ)
	$(AR) rcs $@ $^

barrel: src/main.o libbarrel.a
	$(CC) $(LDFLAGS) -o $@ src/main.o libbarrel.a $(LDLIBS)

%.o: %.c $(HEADERS) Makefile
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

tests/lib/%.o: tests/lib/%.c tests/lib/*.h $(HEADERS)
	$(CC) $(CPPFLAGS) -Itests/lib $(CFLAGS) -c -o $@ $<

tests/unit/test_%: tests/unit/test_%.c libbarrel.a $(TLIB_OBJ)
	$(CC) $(CPPFLAGS) -Itests/lib $(CFLAGS) $(LDFLAGS) -o $@ $< $(TLIB_OBJ) libbarrel.a $(LDLIBS) -lcmocka

tests/integration/test_%: tests/integration/test_%.c libbarrel.a $(TLIB_OBJ)
	$(CC) $(CPPFLAGS) -Itests/lib $(CFLAGS) $(LDFLAGS) -o $@ $< $(TLIB_OBJ) libbarrel.a $(LDLIBS) -lcmocka

# Every header compiles alone.
check-headers:
	@for h in $(HEADERS); do \
	  printf '#include "%s"\n' "$${h#include/}" | $(CC) $(CPPFLAGS) $(CFLAGS) -x c -fsyntax-only - || exit 1; \
	done; echo "headers: $(words $(HEADERS)) compile alone"

check: barrel check-headers $(UNIT_BIN) $(INTEG_BIN)
	@BARREL_BIN=$(CURDIR)/barrel FIXTURES=$(CURDIR)/../shared/fixtures/barman-3.4 \
	  sh tests/run-tests.sh $(UNIT_BIN) $(INTEG_BIN)

check-unit: barrel $(UNIT_BIN)
	@BARREL_BIN=$(CURDIR)/barrel sh tests/run-tests.sh $(UNIT_BIN)

check-integration: barrel $(INTEG_BIN)
	@BARREL_BIN=$(CURDIR)/barrel sh tests/run-tests.sh $(INTEG_BIN)

deps:
	@sh scripts/deps.sh

install: barrel
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(DATADIR)/policies
	install -m 0755 barrel $(DESTDIR)$(BINDIR)/barrel
	install -m 0644 man/barrel.1 $(DESTDIR)$(MANDIR)/man1/barrel.1
	install -m 0644 man/barrel.conf.5 $(DESTDIR)$(MANDIR)/man5/barrel.conf.5
	install -m 0644 policies/*.conf $(DESTDIR)$(DATADIR)/policies/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/barrel $(DESTDIR)$(MANDIR)/man1/barrel.1 $(DESTDIR)$(MANDIR)/man5/barrel.conf.5
	rm -rf $(DESTDIR)$(DATADIR)

clean:
	rm -f barrel libbarrel.a src/*.o src/*/*.o tests/lib/*.o $(UNIT_BIN) $(INTEG_BIN)
