#!/bin/sh
# tests/packaging/test-package.sh: barrel as operators install it.
#
#   --reduced (default; what CI runs, `make check-packaging`):
#     1. make install DESTDIR=... PREFIX=/usr: the package's tree, the barman
#        symlink answering as barman; make uninstall removes all but the
#        configuration
#     2. the man pages render without groff warnings
#     3. systemd-analyze verify on the units (skipped without systemd-analyze)
#     4. the maintainer scripts parse (sh -n)
#     5. dpkg-buildpackage -us -uc -b in a copy of the tree (dh_clean runs
#        `make clean`, which must never touch the work tree), the .deb's
#        files and conffiles, and lintian at its default level (skipped,
#        saying why, without dpkg-buildpackage/debhelper or lintian)
#   --full (a Debian 12 machine, as root; changes the machine): --reduced,
#     then apt install ./barrel_*.deb, barrel --version, man barrel, the
#     files, the barrel user and its 0700 home, the timers where systemd
#     runs, and apt purge: configuration gone, /var/lib/barrel kept. What
#     the test created (the user, /var/lib/barrel) is removed at the end
#     unless they existed before.
#
# The last line is "N passed, N failed, N skipped"; exit 1 when any failed.
set -eu

cd "$(dirname "$0")/../.."
TOP=$(pwd)
MODE="${1:---reduced}"
case "$MODE" in
--reduced | --full) ;;
*) echo "usage: $0 [--reduced|--full]" >&2; exit 2 ;;
esac

PASSED=0
FAILED=0
SKIPPED=0
ok() { PASSED=$((PASSED + 1)); echo "[  OK  ] $*"; }
bad() { FAILED=$((FAILED + 1)); echo "[ FAIL ] $*"; }
skip() { SKIPPED=$((SKIPPED + 1)); echo "[ SKIP ] $*"; }
# check DESCRIPTION COMMAND...: run it, pass or fail (output shown on failure)
check() {
    desc=$1
    shift
    if out=$("$@" 2>&1); then ok "$desc"; else bad "$desc"; printf '%s\n' "$out" | sed 's/^/    /'; fi
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/barrel-pkg.XXXXXX")
CREATED_USER=0
INSTALLED=0
cleanup() {
    rc=$?
    trap - EXIT INT TERM
    set +e
    if [ "$INSTALLED" = 1 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq barrel >/dev/null 2>&1
    fi
    if [ "$CREATED_USER" = 1 ]; then
        # only what this test created: a user and a home with no backups in them
        deluser --quiet barrel >/dev/null 2>&1
        getent group barrel >/dev/null && delgroup --quiet barrel >/dev/null 2>&1
        rm -rf /var/lib/barrel
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The files the package and `make install` both ship, relative to the root.
EXPECTED="etc/barrel.conf
etc/cron.d/barrel
etc/logrotate.d/barrel
lib/systemd/system/barrel-backup@.service
lib/systemd/system/barrel-backup@.timer
lib/systemd/system/barrel-cron.service
lib/systemd/system/barrel-cron.timer
lib/systemd/system/barrel-receive-wal@.service
usr/bin/barrel
usr/lib/barrel/bin/barman
usr/share/barrel/policies/nightly-30d.conf
usr/share/barrel/policies/nightly-7d.conf
usr/share/barrel/policies/redundancy-3.conf
usr/share/barrel/policies/weekly-4w.conf"
MANPAGES="usr/share/man/man1/barrel.1
usr/share/man/man5/barrel.conf.5
usr/share/man/man7/barrel-wal.7"

# ---- 1. make install / uninstall -------------------------------------------

echo "== make install DESTDIR=... PREFIX=/usr"
[ -x ./barrel ] || make -s all >/dev/null
DEST="$WORK/dest"
if make -s install DESTDIR="$DEST" PREFIX=/usr SYSTEMDUNITDIR=/lib/systemd/system >"$WORK/install.log" 2>&1; then
    ok "make install"
else
    bad "make install"
    sed 's/^/    /' "$WORK/install.log"
fi
missing=""
for f in $EXPECTED $MANPAGES; do
    [ -e "$DEST/$f" ] || missing="$missing $f"
done
[ -d "$DEST/etc/barrel.d" ] || missing="$missing etc/barrel.d/"
if [ -z "$missing" ]; then ok "installed tree has every file"; else bad "installed tree lacks:$missing"; fi
check "the barman symlink is relative and points at barrel" \
    test "$(readlink "$DEST/usr/lib/barrel/bin/barman")" = "../../../bin/barrel"
check "invoked as barman, barrel answers as barman" \
    sh -c "'$DEST/usr/lib/barrel/bin/barman' --version | grep -q '^barman [0-9]'"
check "the sample configuration parses (list-servers, as barman_user)" \
    sh -c "sed -e 's|^barman_home = .*|barman_home = $WORK/home|' -e 's|^barman_user = .*|barman_user = $(id -un)|' \
               -e 's|^configuration_files_directory = .*|configuration_files_directory = $DEST/etc/barrel.d|' \
               -e 's|^log_file = .*|log_file = $WORK/barrel.log|' '$DEST/etc/barrel.conf' >'$WORK/sample.conf' &&
           mkdir -p '$WORK/home' && '$DEST/usr/bin/barrel' -c '$WORK/sample.conf' list-servers"
if make -s uninstall DESTDIR="$DEST" PREFIX=/usr SYSTEMDUNITDIR=/lib/systemd/system >"$WORK/uninstall.log" 2>&1; then
    left=$(cd "$DEST" && find . ! -type d | sort | tr '\n' ' ')
    if [ "$left" = "./etc/barrel.conf " ]; then
        ok "make uninstall leaves only the configuration"
    else
        bad "make uninstall left: $left"
    fi
else
    bad "make uninstall"
    sed 's/^/    /' "$WORK/uninstall.log"
fi

# ---- 2. man pages -------------------------------------------------------------

echo "== man pages"
if command -v groff >/dev/null 2>&1; then
    for m in man/barrel.1 man/barrel.conf.5 man/barrel-wal.7; do
        check "$m renders without warnings" sh -c "out=\$(groff -ww -man -Tutf8 '$m' 2>&1 >/dev/null); [ -z \"\$out\" ] || { echo \"\$out\"; exit 1; }"
    done
else
    skip "man pages: groff is not installed"
fi

# ---- 3. systemd units ------------------------------------------------------------

echo "== systemd units"
if command -v systemd-analyze >/dev/null 2>&1; then
    # verify needs an executable ExecStart and instances of the templates
    UNITS="$WORK/units"
    mkdir -p "$UNITS"
    for u in packaging/systemd/*; do
        sed "s|/usr/bin/barrel|$TOP/barrel|g" "$u" >"$UNITS/$(basename "$u")"
    done
    (
        cd "$UNITS"
        ln -s barrel-backup@.service barrel-backup@db1.service
        ln -s barrel-backup@.timer barrel-backup@db1.timer
        ln -s barrel-receive-wal@.service barrel-receive-wal@db1.service
    )
    check "systemd-analyze verify" sh -c "cd '$UNITS' && out=\$(systemd-analyze verify --man=no ./barrel-cron.service \
        ./barrel-cron.timer ./barrel-backup@db1.service ./barrel-backup@db1.timer ./barrel-receive-wal@db1.service 2>&1) \
        && [ -z \"\$out\" ] || { echo \"\$out\"; exit 1; }"
    for u in packaging/systemd/*.service; do
        check "$(basename "$u") is hardened" sh -c "grep -q '^ProtectSystem=strict' '$u' && grep -q '^NoNewPrivileges=yes' '$u' \
            && grep -q '^ReadWritePaths=/var/lib/barrel' '$u' && grep -q '^PrivateTmp=yes' '$u' && grep -q '^User=barrel' '$u'"
    done
    check "barrel-backup@.timer has a randomized delay" grep -q '^RandomizedDelaySec=' packaging/systemd/barrel-backup@.timer
else
    skip "systemd units: systemd-analyze is not installed"
fi

# ---- 4. maintainer scripts -----------------------------------------------------

echo "== debian/"
for s in debian/barrel.postinst debian/barrel.postrm; do
    check "$s parses" sh -n "$s"
done
check "debian/rules is executable" test -x debian/rules

# ---- 5. the .deb -------------------------------------------------------------------

DEB=""
if ! command -v dpkg-buildpackage >/dev/null 2>&1 || ! command -v dh >/dev/null 2>&1; then
    skip "dpkg-buildpackage: dpkg-dev and debhelper are not installed (make deps installs them)"
else
    echo "== dpkg-buildpackage -us -uc -b (in a copy of the tree)"
    SRC="$WORK/build/barrel"
    mkdir -p "$SRC"
    # the tracked and new files, not the build products of the work tree
    git ls-files --cached --others --exclude-standard | while IFS= read -r f; do
        if [ -e "$f" ] || [ -L "$f" ]; then cp -a --parents "$f" "$SRC/"; fi
    done
    start=$(date +%s)
    if (cd "$SRC" && dpkg-buildpackage -us -uc -b) >"$WORK/build.log" 2>&1; then
        ok "dpkg-buildpackage -us -uc -b ($(($(date +%s) - start)) s)"
        DEB=$(ls "$WORK"/build/barrel_*_*.deb | head -n 1)
    else
        bad "dpkg-buildpackage -us -uc -b"
        tail -n 30 "$WORK/build.log" | sed 's/^/    /'
    fi
fi
if [ -n "$DEB" ]; then
    dpkg-deb -c "$DEB" | awk '{print $6}' | sed 's|^\./||' >"$WORK/deb.list"
    missing=""
    for f in $EXPECTED $MANPAGES; do
        case "$f" in usr/share/man/*) f="$f.gz" ;; esac
        grep -qx "$f" "$WORK/deb.list" || missing="$missing $f"
    done
    if [ -z "$missing" ]; then ok "the .deb has every file"; else bad "the .deb lacks:$missing"; fi
    dpkg-deb -e "$DEB" "$WORK/control"
    check "conffiles: /etc/barrel.conf, cron.d, logrotate.d" sh -c "grep -qx /etc/barrel.conf '$WORK/control/conffiles' &&
        grep -qx /etc/cron.d/barrel '$WORK/control/conffiles' && grep -qx /etc/logrotate.d/barrel '$WORK/control/conffiles'"
    if command -v lintian >/dev/null 2>&1; then
        check "lintian (errors and warnings)" sh -c "out=\$(lintian --fail-on error,warning '$DEB' 2>&1 | grep -v 'running with root privileges'); \
            [ -z \"\$out\" ] || { echo \"\$out\"; exit 1; }"
    else
        skip "lintian is not installed (make deps installs it)"
    fi
fi

# ---- --full: install on this machine -------------------------------------------

if [ "$MODE" = --full ]; then
    echo "== apt install ./barrel_*.deb"
    if [ "$(id -u)" -ne 0 ] || [ -z "$DEB" ] || ! command -v apt >/dev/null 2>&1; then
        bad "--full needs root, apt and a built package"
    else
        getent passwd barrel >/dev/null || CREATED_USER=1
        INSTALLED=1
        if (cd "$(dirname "$DEB")" && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "./$(basename "$DEB")") \
            >"$WORK/apt.log" 2>&1; then
            ok "apt install ./$(basename "$DEB")"
        else
            bad "apt install"
            tail -n 20 "$WORK/apt.log" | sed 's/^/    /'
        fi
        check "barrel --version" sh -c "barrel --version | grep -q '^barrel [0-9]'"
        check "man barrel" sh -c "MANPAGER=cat man barrel 2>&1 | grep -q 'recover'"
        check "man 5 barrel.conf" sh -c "MANPAGER=cat man 5 barrel.conf 2>&1 | grep -q 'barman_home'"
        check "man 7 barrel-wal" sh -c "MANPAGER=cat man 7 barrel-wal 2>&1 | grep -q 'barman-wal-restore'"
        missing=""
        for f in $EXPECTED; do [ -e "/$f" ] || missing="$missing /$f"; done
        [ -d /etc/barrel.d ] || missing="$missing /etc/barrel.d"
        if [ -z "$missing" ]; then ok "installed files"; else bad "missing:$missing"; fi
        check "the barrel user, home /var/lib/barrel" sh -c "getent passwd barrel | cut -d: -f6 | grep -qx /var/lib/barrel"
        check "/var/lib/barrel is 0700 barrel:barrel" sh -c "[ \"\$(stat -c '%a %U %G' /var/lib/barrel)\" = '700 barrel barrel' ]"
        check "barrel runs as the barrel user with the packaged configuration" runuser -u barrel -- barrel list-servers
        check "root's barrel switches to barman_user" barrel list-servers
        if [ -d /run/systemd/system ]; then
            check "systemd knows the units" sh -c "systemctl list-unit-files 'barrel*' | grep -q barrel-cron.timer"
            check "the timers are listed once enabled" sh -c "systemctl enable --now barrel-cron.timer barrel-backup@db1.timer \
                >/dev/null 2>&1 && systemctl list-timers --all 'barrel*' | grep -q barrel-cron.timer; rc=\$?; \
                systemctl disable --now barrel-cron.timer barrel-backup@db1.timer >/dev/null 2>&1; exit \$rc"
        else
            skip "timers: systemd is not running on this machine"
        fi
        echo "== apt purge barrel"
        echo sentinel >/var/lib/barrel/purge-sentinel
        chown barrel:barrel /var/lib/barrel/purge-sentinel
        echo "[db1]" >/etc/barrel.d/db1.conf
        if DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq barrel >"$WORK/purge.log" 2>&1; then
            INSTALLED=0
            ok "apt purge barrel"
        else
            bad "apt purge barrel"
            tail -n 20 "$WORK/purge.log" | sed 's/^/    /'
        fi
        check "purge removed /etc/barrel.conf and /etc/barrel.d" sh -c "[ ! -e /etc/barrel.conf ] && [ ! -e /etc/barrel.d ]"
        check "purge kept /var/lib/barrel and what it holds" test -f /var/lib/barrel/purge-sentinel
        rm -f /var/lib/barrel/purge-sentinel
    fi
fi

echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" -eq 0 ]
