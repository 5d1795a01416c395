"""Replicate a 2 GiB sparse disk image (25% random data) to the embedded cloud's EBS
direct API through our service, then copy the same data to S3 with `aws s3 cp` (the AWS
CLI from PyPI, requirements-test.txt) at the same moto endpoint, and print the data
throughput of each and the ratio of their times. Target: every non-zero block sent and
every zero block skipped, and our data throughput at least the S3 copy's (ratio <= 1).

    python bench/replication.py [--size-gib 2] [--data 0.25] [--workers 8] [--rounds 3] [--endpoint URL]

Each round measures both copies, alternating which goes first; the figures are medians.
Without --endpoint every copy gets a fresh embedded cloud (`manage.py cloud_server`) on a
free loopback port, stopped afterwards: moto keeps everything in memory, and a copy run
after the other would pay for the 537 MB the first one left there.
"""

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from benchsetup import setup_django, start_cloud, stop

BLOCK = 512 * 1024
MB = 1_000_000


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


def measure_ours(account_for, image, data_blocks, blocks, workers):
    """One pass of our replication into a new snapshot; returns (seconds, bytes sent)."""
    from cloud.drivers import ebs
    from cloud.services import replication
    from hypervisors.services.disk_sources import DiskRef

    account = account_for()
    disk = replication.start_replication(account, DiskRef.for_image(str(image)), name="bench")
    started = time.perf_counter()
    snapshot_id = replication.replicate(disk, workers=workers)
    seconds = time.perf_counter() - started
    stats = disk.last_pass
    held = len(ebs.list_snapshot_blocks(account, snapshot_id))
    skipped = blocks - stats.blocks_sent  # holes are never read; read blocks that are all zero are not sent
    if stats.blocks_sent != data_blocks or held != data_blocks:
        raise SystemExit(f"Replication sent {stats.blocks_sent} blocks and the snapshot holds {held}: "
                         f"expected {data_blocks}")
    print(f"  EBS direct API (ours): {stats.blocks_sent} blocks, {stats.bytes_sent / MB:.0f} MB in {seconds:.2f} s "
          f"= {stats.bytes_sent / MB / seconds:.1f} MB/s; {skipped} of {blocks - data_blocks} zero blocks skipped "
          f"({stats.blocks_scanned} blocks read, holes never read)")
    return seconds, stats.bytes_sent


def measure_s3(endpoint, data):
    """`aws s3 cp` of the same data into a new bucket; returns (seconds, bytes sent)."""
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIABENCHBENCH000000", AWS_SECRET_ACCESS_KEY="bench",
               AWS_DEFAULT_REGION="us-east-1")
    cli = aws_cli()
    subprocess.run([cli, "--endpoint-url", endpoint, "s3", "mb", "s3://bench"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    started = time.perf_counter()
    subprocess.run([cli, "--endpoint-url", endpoint, "s3", "cp", "--only-show-errors", str(data),
                    "s3://bench/data.bin"], env=env, check=True)
    seconds = time.perf_counter() - started
    sent = data.stat().st_size
    print(f"  aws s3 cp (same data): {sent / MB:.0f} MB in {seconds:.2f} s = {sent / MB / seconds:.1f} MB/s")
    return seconds, sent


class Cloud:
    """A fresh embedded cloud per measurement, so that neither copy pays for the memory
    the other left in moto; with --endpoint, the given one, reset in between."""

    def __init__(self, endpoint, log_path):
        self.given, self.log_path, self.process = endpoint, log_path, None

    def __enter__(self):
        if self.given:
            urllib.request.urlopen(urllib.request.Request(self.given + "/moto-api/reset", method="POST"), timeout=30)
            return self.given
        self.process, endpoint = start_cloud(self.log_path)
        return endpoint

    def __exit__(self, *exc):
        if self.process is not None:
            stop(self.process)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gib", type=float, default=2)
    parser.add_argument("--data", type=float, default=0.25, help="fraction of blocks holding data")
    parser.add_argument("--workers", type=int, default=None, help="upload threads (default: the setting, 8)")
    parser.add_argument("--rounds", type=int, default=3, help="measurements of each copy (default 3)")
    parser.add_argument("--endpoint", help="an embedded cloud already running (default: start one per copy)")
    args = parser.parse_args()
    var_dir = setup_django("replication")

    from cloud.models import CloudAccount

    work = var_dir / "replication-bench"
    work.mkdir(parents=True, exist_ok=True)
    os.environ["OPSCONSOLE_IMAGE_ROOTS"] = str(work)  # the image source reads only under declared roots
    image, data = work / "disk.raw", work / "data.bin"
    try:
        size = int(args.size_gib * 1024 ** 3) // BLOCK * BLOCK
        data_blocks, blocks = make_image(image, data, size, args.data)
        print(f"Image: {size / 1024 ** 3:.2f} GiB, {blocks} blocks of 512 KiB, {data_blocks} with random data "
              f"({data_blocks * BLOCK / MB:.0f} MB), the rest holes")
        ours, s3 = [], []
        for round_number in range(1, args.rounds + 1):
            print(f"Round {round_number} of {args.rounds}:")
            # Alternate which copy goes first, so that neither always meets a warmer machine.
            order = ("ours", "s3") if round_number % 2 else ("s3", "ours")
            for which in order:
                with Cloud(args.endpoint and args.endpoint.rstrip("/"), work / "cloud_server.log") as endpoint:
                    if which == "ours":
                        def account_for(endpoint=endpoint):
                            return CloudAccount.objects.create(
                                name=f"Bench cloud {CloudAccount.objects.count() + 1}", region="us-east-1",
                                access_key_id="AKIABENCHBENCH000000", secret_access_key="bench",
                                endpoint_url=endpoint, is_embedded=True)
                        ours.append(measure_ours(account_for, image, data_blocks, blocks, args.workers))
                    else:
                        s3.append(measure_s3(endpoint, data))
        ours_seconds = statistics.median(seconds for seconds, _ in ours)
        s3_seconds = statistics.median(seconds for seconds, _ in s3)
        ratio = ours_seconds / s3_seconds
        print(f"Median of {args.rounds}: ours {ours[0][1] / MB / ours_seconds:.1f} MB/s ({ours_seconds:.2f} s), "
              f"aws s3 cp {s3[0][1] / MB / s3_seconds:.1f} MB/s ({s3_seconds:.2f} s)")
        print(f"Ratio of median times, ours / aws s3 cp: {ratio:.2f} "
              f"({'meets' if ratio <= 1 else 'misses'} the target: <= 1; every non-zero block was sent and every "
              f"zero block skipped in every round, or the run would have stopped)")
    finally:
        image.unlink(missing_ok=True)
        data.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
