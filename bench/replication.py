"""Replicate a 2 GiB sparse disk image (25% random data) to the embedded cloud's EBS
direct API through our service, then copy the same data to S3 with `aws s3 cp` (the AWS
CLI from PyPI, requirements-test.txt) at the same moto endpoint, and print the data
throughput of each and the ratio of their times. Target: every non-zero block sent and
every zero block skipped, and our data throughput at least the S3 copy's (ratio <= 1).

    python bench/replication.py [--size-gib 2] [--data 0.25] [--workers 8] [--endpoint URL]

Without --endpoint it starts its own embedded cloud (`manage.py cloud_server`) on a free
loopback port and stops it afterwards.
"""

import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from benchsetup import ROOT, setup_django

BLOCK = 512 * 1024
MB = 1_000_000


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_cloud(log_path):
    port = free_port()
    log = open(log_path, "w")
    process = subprocess.Popen([sys.executable, "manage.py", "cloud_server", "--port", str(port)], cwd=ROOT,
                               stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(urllib.request.Request(endpoint + "/moto-api/reset", method="POST"), timeout=5)
            return process, endpoint
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"The embedded cloud did not start: see {log_path}")
            time.sleep(0.2)


def make_image(path, data_path, size, fraction, seed=20261127):
    """A sparse raw image with `fraction` of its blocks random (the rest holes), and the
    same data, back to back, in data_path (what `aws s3 cp` sends)."""
    blocks = size // BLOCK
    rng = random.Random(seed)
    chosen = sorted(rng.sample(range(blocks), int(blocks * fraction)))
    with open(path, "wb") as image, open(data_path, "wb") as data:
        image.truncate(size)
        for index in chosen:
            chunk = os.urandom(BLOCK)
            image.seek(index * BLOCK)
            image.write(chunk)
            data.write(chunk)
    return len(chosen), blocks


def aws_cli():
    found = shutil.which("aws", path=str(Path(sys.executable).parent)) or shutil.which("aws")
    if not found:
        raise SystemExit("The AWS CLI is missing: pip install -r requirements-test.txt (awscli).")
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gib", type=float, default=2)
    parser.add_argument("--data", type=float, default=0.25, help="fraction of blocks holding data")
    parser.add_argument("--workers", type=int, default=None, help="upload threads (default: the setting, 8)")
    parser.add_argument("--endpoint", help="an embedded cloud already running (default: start one)")
    args = parser.parse_args()
    var_dir = setup_django("replication")

    from cloud.drivers import ebs
    from cloud.models import CloudAccount
    from cloud.services import replication

    work = var_dir / "replication-bench"
    work.mkdir(parents=True, exist_ok=True)
    process = None
    if args.endpoint:
        endpoint = args.endpoint.rstrip("/")
    else:
        process, endpoint = start_cloud(work / "cloud_server.log")
    image, data = work / "disk.raw", work / "data.bin"
    try:
        size = int(args.size_gib * 1024 ** 3) // BLOCK * BLOCK
        data_blocks, blocks = make_image(image, data, size, args.data)
        print(f"Image: {size / 1024 ** 3:.2f} GiB, {blocks} blocks of 512 KiB, {data_blocks} with random data "
              f"({data_blocks * BLOCK / MB:.0f} MB), the rest holes")

        account = CloudAccount.objects.create(name="Bench cloud", region="us-east-1", access_key_id="AKIABENCHBENCH000000",
                                              secret_access_key="bench", endpoint_url=endpoint, is_embedded=True)
        disk = replication.start_replication(account, str(image), name="bench")
        started = time.perf_counter()
        snapshot_id = replication.replicate(disk, workers=args.workers)
        ours = time.perf_counter() - started
        stats = disk.last_pass
        held = len(ebs.list_snapshot_blocks(account, snapshot_id))
        zero_blocks = blocks - data_blocks
        skipped = blocks - stats.blocks_sent  # holes are never read; read blocks that are all zero are not sent
        print(f"EBS direct API (ours): {stats.blocks_sent} blocks, {stats.bytes_sent / MB:.0f} MB in {ours:.2f} s "
              f"= {stats.bytes_sent / MB / ours:.1f} MB/s of data; snapshot {snapshot_id} holds {held} blocks")
        print(f"  non-zero blocks sent: {stats.blocks_sent} of {data_blocks}; zero blocks skipped: {skipped} of "
              f"{zero_blocks} ({stats.blocks_scanned} blocks read, holes never read)")

        env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIABENCHBENCH000000", AWS_SECRET_ACCESS_KEY="bench",
                   AWS_DEFAULT_REGION="us-east-1")
        cli = aws_cli()
        subprocess.run([cli, "--endpoint-url", endpoint, "s3", "mb", "s3://bench"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        started = time.perf_counter()
        subprocess.run([cli, "--endpoint-url", endpoint, "s3", "cp", "--only-show-errors", str(data),
                        "s3://bench/data.bin"], env=env, check=True)
        s3 = time.perf_counter() - started
        sent = data.stat().st_size
        print(f"aws s3 cp (same data): {sent / MB:.0f} MB in {s3:.2f} s = {sent / MB / s3:.1f} MB/s")
        ratio = ours / s3
        print(f"Ratio of times, ours / aws s3 cp: {ratio:.2f} "
              f"({'meets' if ratio <= 1 and stats.blocks_sent == data_blocks else 'misses'} the target: <= 1, "
              f"every non-zero block sent, every zero block skipped)")
    finally:
        image.unlink(missing_ok=True)
        data.unlink(missing_ok=True)
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    main()
