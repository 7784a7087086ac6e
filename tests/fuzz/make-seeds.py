#!/usr/bin/env python3
"""Write the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/.

Run from the repository root with the Barman 3.4 fixtures beside it
(../shared/fixtures/barman-3.4). The seeds are small, and checked in: the
fuzz run in CI starts from them. Re-running rewrites them identically.
"""
import hashlib, io, os, struct, sys, tarfile

FIX = os.environ.get("FIXTURES", "../shared/fixtures/barman-3.4")
OUT = "tests/fuzz/corpus"


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def tar_bytes(members, fmt=tarfile.USTAR_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mtime = 1700000000
            ti.mode = 0o600
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


# ---- config ----
put("config", "barman.conf", read(os.path.join(FIX, "config/barman.conf")))
put("config", "minimal.conf", "[barman]\nbarman_home = /tmp/b\nbarman_user = barman\n\n[pg]\n"
    "conninfo = host=127.0.0.1 port=5432 user=barman password=secret dbname=postgres\n"
    "streaming_conninfo = host=127.0.0.1 user=streaming_barman\nbackup_method = postgres\n"
    "streaming_archiver = on\nslot_name = barman\nretention_policy = RECOVERY WINDOW OF 2 WEEKS\n"
    "wal_retention_policy = main\nminimum_redundancy = 1\ncompression = gzip\n"
    "backup_compression = zstd\nbackup_compression_level = 3\nlast_backup_maximum_age = 1 day\n"
    "; comment\n# comment\n[other]\nactive = false\ndescription = \"x\"\n")
for p in sorted(os.listdir("policies")):
    put("config", "policy-" + p, "[barman]\nbarman_home = /tmp/b\n[pg]\nconninfo = host=x\n" +
        read(os.path.join("policies", p)).decode())

# ---- backup.info ----
base = os.path.join(FIX, "catalog/pg/base")
for bid in sorted(os.listdir(base)):
    put("backup_info", bid, read(os.path.join(base, bid, "backup.info")))

# ---- xlog.db ----
put("xlogdb", "pg", read(os.path.join(FIX, "catalog/pg/xlog.db")))
put("xlogdb", "pgtl", read(os.path.join(FIX, "catalog/pgtl/xlog.db")))

# ---- retention ----
for i, t in enumerate(["REDUNDANCY 2", "RECOVERY WINDOW OF 4 WEEKS", "recovery window of 1 month",
                       "redundancy 0", "RECOVERY WINDOW OF 30 DAYS", "1 day", "10 GiB", "on"]):
    put("retention", "p%d" % i, t)


# ---- replication ----
def frame(msgs, mode):
    return bytes([mode]) + b"".join(struct.pack(">H", len(m)) + m for m in msgs)


xlog = b"w" + struct.pack(">QQq", 0x1000000, 0x1000010, 0) + b"\x01" * 16
keep = b"k" + struct.pack(">Qqb", 0x1000010, 0, 1)
put("replication", "wal", frame([xlog, keep, b"w" + struct.pack(">QQq", 0x1000010, 0x1000020, 0) + b"\x02" * 16], 0))
tar = tar_bytes([("PG_VERSION", b"15\n"), ("global/pg_control", b"\0" * 64)])
put("replication", "basebackup", frame(
    [b"n" + b"base.tar\0" + b"\0", b"p" + struct.pack(">q", 100)] +
    [b"d" + tar[i:i + 700] for i in range(0, len(tar), 700)] +
    [b"m", b"d" + b'{ "PostgreSQL-Backup-Manifest-Version": 1 }\n'], 1))


# ---- tar + manifest ----
def manifest(files):
    lines = ['{ "PostgreSQL-Backup-Manifest-Version": 1,\n"Files": [\n']
    ents = []
    for path, data in files:
        ents.append('{ "Path": "%s", "Size": %d, "Last-Modified": "2023-11-14 22:13:20 GMT", '
                    '"Checksum-Algorithm": "SHA256", "Checksum": "%s" }' % (path, len(data), hashlib.sha256(data).hexdigest()))
    lines.append(",\n".join(ents))
    lines.append(' ],\n"WAL-Ranges": [\n{ "Timeline": 1, "Start-LSN": "0/2000028", "End-LSN": "0/2000100" }\n],\n')
    text = "".join(lines)
    return (text + '"Manifest-Checksum": "%s"}\n' % hashlib.sha256(text.encode()).hexdigest()).encode()


files = [("PG_VERSION", b"15\n"), ("base/1/1259", b"x" * 1000), ("global/pg_control", b"\0" * 64)]
m = manifest(files)
for fmt, nm in ((tarfile.USTAR_FORMAT, "ustar"), (tarfile.PAX_FORMAT, "pax"), (tarfile.GNU_FORMAT, "gnu")):
    put("tar_manifest", nm, struct.pack(">H", len(m)) + m + tar_bytes(files, fmt))
put("tar_manifest", "longname", struct.pack(">H", 0) + tar_bytes([("d/" * 80 + "f", b"y")], tarfile.GNU_FORMAT))

# ---- put-wal ----
wal = b"\x10\xd1\x02\x00" + b"\0" * 4092
name = "000000010000000000000002"
for algo, sums in (("md5", "MD5SUMS"), ("sha256", "SHA256SUMS")):
    digest = hashlib.new(algo, wal).hexdigest()
    put("putwal", algo, tar_bytes([(name, wal), (sums, ("%s *%s\n" % (digest, name)).encode())]))
put("putwal", "history", tar_bytes([("00000002.history", b"1\t0/3000000\tno recovery target specified\n"),
                                    ("MD5SUMS", ("%s *00000002.history\n" % hashlib.md5(
                                        b"1\t0/3000000\tno recovery target specified\n").hexdigest()).encode())]))
print("seeds written under", OUT)
