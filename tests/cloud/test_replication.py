"""Block replication to EBS (cloud.services.replication) against the real moto server:
real disk images (raw and qcow2 made by qemu-img), every block over HTTP, faults
injected by an HTTP proxy in front of moto that can drop the network or answer with
an AWS error."""

import hashlib
import http.client
import http.server
import json
import re
import subprocess
import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cloud.drivers import aws, ebs
from cloud.models import CloudAccount, DiskReplication, ReplicatedBlock, ReplicationSnapshot
from cloud.services import replication as service
from core.jobs import JobCancelled
from hypervisors.services.disk_sources import DiskRef

from .conftest import free_port

BLOCK = ebs.BLOCK_SIZE
MIB = 1024 * 1024


def block_data(seed):
    return hashlib.sha256(str(seed).encode()).digest() * (BLOCK // 32)


def write_blocks(path, blocks, size=None):
    """A sparse raw image: the blocks given ({index: bytes}), holes elsewhere."""
    with open(path, "r+b" if path.exists() else "w+b") as disk:
        if size is not None:
            disk.truncate(size)
        for index, data in blocks.items():
            disk.seek(index * BLOCK)
            disk.write(data)
    return path


def image(path):
    """The disk source of an image file (its directory is a declared image root: see images_here)."""
    return DiskRef.for_image(str(path))


@pytest.fixture(autouse=True)
def images_here(settings, tmp_path):
    settings.OPSCONSOLE_IMAGE_ROOTS = [str(tmp_path)]


def snapshot_blocks(account, snapshot_id):
    return ebs.list_snapshot_blocks(account, snapshot_id)


class Recorder:
    def __init__(self, on_progress=None):
        self.progress_calls, self.lines, self.on_progress = [], [], on_progress

    def progress(self, percent, message=None):
        self.progress_calls.append((percent, message))
        if self.on_progress:
            self.on_progress(percent, message)

    def log(self, line):
        self.lines.append(line)


class FaultyEndpoint:
    """An HTTP proxy to moto that counts block uploads and fails on demand: cut() drops
    the network (open connections are closed, new ones refused), restore() brings it
    back on the same port, refuse(method, path regex, status, AWS error type) answers
    matching requests with that AWS error."""

    BLOCK_PUT = re.compile(r"^/snapshots/[^/]+/blocks/\d+")

    def __init__(self, upstream):
        self.upstream = upstream.split("//", 1)[1]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.block_puts, self.down, self.refusals = 0, False, []
        self.lock = threading.Lock()
        self.server = None
        self.restore()

    def restore(self):
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_one_request(self):
                try:
                    super().handle_one_request()
                except ConnectionError:
                    self.close_connection = True

            def relay(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if proxy.down:
                    self.close_connection = True  # the network is gone: no answer
                    return
                for method, pattern, status, error_type in proxy.refusals:
                    if self.command == method and re.search(pattern, self.path):
                        return self.answer(status, {"x-amzn-ErrorType": error_type, "Content-Type": "application/json"},
                                           b'{"message": "Injected by the test: limit reached"}')
                upstream = http.client.HTTPConnection(proxy.upstream, timeout=60)
                upstream.request(self.command, self.path, body=body, headers=dict(self.headers))
                answer = upstream.getresponse()
                data = answer.read()
                upstream.close()
                if self.command == "PUT" and proxy.BLOCK_PUT.match(self.path) and answer.status == 201:
                    with proxy.lock:
                        proxy.block_puts += 1
                self.answer(answer.status, {k: v for k, v in answer.getheaders()
                                            if k.lower() not in ("content-length", "transfer-encoding", "connection")},
                            data)

            def answer(self, status, headers, data):
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = relay

            def log_message(self, *args):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.down = False
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def cut(self):
        self.down = True
        self.server.shutdown()
        self.server.server_close()

    def close(self):
        if not self.down:
            self.cut()


@pytest.fixture
def endpoint(cloud):
    proxy = FaultyEndpoint(cloud)
    yield proxy
    proxy.close()


@pytest.fixture
def proxied_account(db, endpoint):
    return CloudAccount.objects.create(name="Through the proxy", region="us-east-1", access_key_id="AKIATESTTESTTEST0000",
                                       secret_access_key="test-secret", endpoint_url=endpoint.url, is_embedded=True)


@pytest.fixture
def quick_retries(settings):
    settings.OPSCONSOLE_CLOUD_REPLICATION_RETRIES = 2
    settings.OPSCONSOLE_CLOUD_REPLICATION_BACKOFF = 0.01


@pytest.fixture
def raw_disk(tmp_path):
    """8 MiB (16 blocks): data in blocks 0, 3, 4 and 15, a written all-zero block 7."""
    blocks = {0: block_data(0), 3: block_data(3), 4: block_data(4), 7: bytes(BLOCK), 15: block_data(15)}
    return write_blocks(tmp_path / "disk.raw", blocks, size=8 * MIB)


# --- start ----------------------------------------------------------------------------


def test_start_replication_reads_format_and_size(embedded_account, raw_disk, tmp_path):
    qcow2 = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw_disk), str(qcow2)], check=True)
    raw = service.start_replication(embedded_account, image(raw_disk), name="saturn")
    converted = service.start_replication(embedded_account, image(qcow2))
    assert (raw.source_format, raw.size_bytes, raw.state, raw.name) == ("raw", 8 * MIB, "new", "saturn")
    assert (converted.source_format, converted.size_bytes) == ("qcow2", 8 * MIB)


def test_start_replication_refuses_bad_input_with_field_errors(embedded_account, raw_disk, tmp_path, settings):
    with pytest.raises(ValidationError) as missing:
        service.start_replication(embedded_account, image(tmp_path / "nothing.raw"))
    assert "There is no image file" in missing.value.message_dict["disk"][0]
    with pytest.raises(ValidationError) as elsewhere:
        service.start_replication(embedded_account, image("/etc/passwd"))
    assert "not under a declared image root" in elsewhere.value.message_dict["disk"][0]
    (tmp_path / "escape").symlink_to("/etc/passwd")
    with pytest.raises(ValidationError) as linked:
        service.start_replication(embedded_account, image(tmp_path / "escape"))
    assert "not under a declared image root" in linked.value.message_dict["disk"][0]
    with pytest.raises(ValidationError) as relative:
        service.start_replication(embedded_account, image("disk.raw"))
    assert "absolute path" in relative.value.message_dict["disk"][0]
    settings.OPSCONSOLE_IMAGE_ROOTS = []
    with pytest.raises(ValidationError) as undeclared:
        service.start_replication(embedded_account, image(raw_disk))
    assert "No image roots are declared" in undeclared.value.message_dict["disk"][0]
    assert not DiskReplication.objects.exists()


# --- passes ---------------------------------------------------------------------------


def test_first_pass_sends_every_non_zero_block_and_verifies(embedded_account, raw_disk):
    replication = service.start_replication(embedded_account, image(raw_disk))
    recorder = Recorder()
    snapshot_id = service.replicate(replication, recorder)

    assert sorted(snapshot_blocks(embedded_account, snapshot_id)) == [0, 3, 4, 15]
    stats = replication.last_pass
    assert (stats.blocks_sent, stats.zero_blocks_skipped, stats.bytes_sent) == (4, 1, 4 * BLOCK)
    replication.refresh_from_db()
    assert replication.state == DiskReplication.State.REPLICATED
    assert (replication.bytes_sent, replication.bytes_total, replication.backlog_bytes) == (4 * BLOCK, 4 * BLOCK, 0)
    assert replication.throughput_mbps > 0
    assert replication.snapshot_chain == [snapshot_id]
    assert service.block_map(replication) == {i: (snapshot_id, hashlib.sha256(block_data(i)).digest())
                                              for i in (0, 3, 4, 15)}
    assert recorder.progress_calls[-1][0] == 100 and "MB/s" in recorder.progress_calls[-2][1]

    report = service.verify(replication, against_source=True)
    assert report.ok and report.blocks_checked == 4 and report.bytes_read == 4 * BLOCK


def test_later_passes_send_only_changes_into_child_snapshots(embedded_account, raw_disk):
    replication = service.start_replication(embedded_account, image(raw_disk))
    first = service.replicate(replication)
    # the VM writes: block 3 changes, block 4 is zeroed, block 9 gets data; 0 and 15 stay
    write_blocks(raw_disk, {3: block_data("3 again"), 4: bytes(BLOCK), 9: block_data(9)})

    second = service.replicate(replication)
    assert second != first
    assert sorted(snapshot_blocks(embedded_account, second)) == [3, 4, 9]  # moto: no inherited blocks
    assert replication.last_pass.blocks_sent == 3
    child = ReplicationSnapshot.objects.get(snapshot_id=second)
    assert (child.generation, child.parent_snapshot_id, child.state) == (2, first, "completed")
    assert service.block_map(replication)[0][0] == first and service.block_map(replication)[9][0] == second
    report = service.verify(replication, against_source=True)
    assert report.ok and report.blocks_checked == 5  # 0 and 15 read from the parent, 3, 4 (zeros), 9 from the child

    # nothing changed: no new snapshot
    assert service.replicate(replication) == second
    assert replication.last_pass.blocks_sent == 0 and replication.snapshot_chain == [first, second]


def test_verify_finds_a_disk_that_changed_since(embedded_account, raw_disk):
    replication = service.start_replication(embedded_account, image(raw_disk))
    service.replicate(replication)
    write_blocks(raw_disk, {15: block_data("changed"), 12: block_data(12)})
    report = service.verify(replication, against_source=True)
    assert not report.ok and report.source_differs == [12, 15] and not report.mismatched


def test_verify_finds_a_block_the_cloud_does_not_hold(embedded_account, raw_disk):
    replication = service.start_replication(embedded_account, image(raw_disk))
    service.replicate(replication)
    ReplicatedBlock.objects.filter(index=3).update(sha256=hashlib.sha256(b"something else").digest())
    assert service.verify(replication).mismatched == [3]


def test_qcow2_is_read_as_the_guest_sees_it_without_a_copy(embedded_account, raw_disk, tmp_path, settings):
    qcow2 = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw_disk), str(qcow2)], check=True)
    replication = service.start_replication(embedded_account, image(qcow2))
    snapshot_id = service.replicate(replication)
    assert sorted(snapshot_blocks(embedded_account, snapshot_id)) == [0, 3, 4, 15]
    assert service.verify(replication, against_source=True).ok
    assert not (settings.VAR_DIR / "cloud" / "replication").exists()  # no raw copy was ever made


# --- faults ---------------------------------------------------------------------------


def test_network_error_mid_pass_fails_clearly_and_the_next_pass_sends_only_the_rest(
        proxied_account, endpoint, tmp_path, quick_retries, monkeypatch):
    monkeypatch.setattr(service, "FLUSH_BLOCKS", 4)
    disk = write_blocks(tmp_path / "big.raw", {i: block_data(i) for i in range(64)}, size=40 * MIB)
    replication = service.start_replication(proxied_account, image(disk))

    def cut_once_some_are_in(percent, message):
        if 0 < endpoint.block_puts < 32 and not endpoint.down:
            endpoint.cut()

    with pytest.raises(aws.CloudError) as failure:
        service.replicate(replication, Recorder(cut_once_some_are_in), workers=2)
    assert "Network error sending block" in str(failure.value) and "3 attempts" in str(failure.value)
    replication.refresh_from_db()
    assert replication.state == DiskReplication.State.FAILED and "resumes" in replication.last_error
    acknowledged = ReplicatedBlock.objects.filter(snapshot__replication=replication).count()
    assert 0 < acknowledged < 64
    assert acknowledged == endpoint.block_puts  # every block AWS took is in the block map
    pending = ReplicationSnapshot.objects.get(replication=replication)
    assert pending.state == "pending" and 0 < replication.backlog_bytes < 64 * BLOCK

    endpoint.restore()
    endpoint.block_puts = 0
    snapshot_id = service.replicate(replication, workers=2)
    assert snapshot_id == pending.snapshot_id  # the same snapshot, completed
    assert endpoint.block_puts == 64 - acknowledged == replication.last_pass.blocks_sent
    assert replication.last_pass.resumed
    assert sorted(snapshot_blocks(proxied_account, snapshot_id)) == list(range(64))
    assert service.verify(replication, against_source=True).ok


def test_a_quota_refusal_says_so_and_leaves_nothing_half_done(proxied_account, endpoint, raw_disk):
    endpoint.refusals.append(("POST", r"^/snapshots$", 402, "ServiceQuotaExceededException"))
    replication = service.start_replication(proxied_account, image(raw_disk))
    with pytest.raises(aws.CloudError) as failure:
        service.replicate(replication)
    assert "An AWS quota stopped ebs StartSnapshot in us-east-1" in str(failure.value)
    assert "Service Quotas" in str(failure.value)
    replication.refresh_from_db()
    assert replication.state == "failed" and "quota" in replication.last_error
    assert not ReplicatedBlock.objects.exists()

    endpoint.refusals.clear()  # quota raised: the replication goes on
    assert sorted(snapshot_blocks(proxied_account, service.replicate(replication))) == [0, 3, 4, 15]


def test_wrong_credentials_are_told_as_such(db, cloud, iam_enforced, raw_disk):
    key_id, _ = iam_enforced
    account = CloudAccount.objects.create(name="Wrong secret", region="us-east-1", access_key_id=key_id,
                                          secret_access_key="not-the-secret", endpoint_url=cloud)
    replication = service.start_replication(account, image(raw_disk))
    with pytest.raises(aws.CloudError) as failure:
        service.replicate(replication)
    assert "AWS refused the credentials" in str(failure.value)
    with pytest.raises(aws.CloudError) as launch:
        service.launch_instance(account, "ami-12345678", "t3.micro")
    assert "AWS refused the credentials" in str(launch.value)


def test_a_cancelled_pass_is_resumable(embedded_account, tmp_path, monkeypatch):
    monkeypatch.setattr(service, "FLUSH_BLOCKS", 2)
    disk = write_blocks(tmp_path / "disk.raw", {i: block_data(i) for i in range(24)}, size=12 * MIB)
    replication = service.start_replication(embedded_account, image(disk))

    def cancel(percent, message):
        if 0 < percent < 100 and ReplicatedBlock.objects.exists():
            raise JobCancelled()

    with pytest.raises(JobCancelled):
        service.replicate(replication, Recorder(cancel), workers=2)
    replication.refresh_from_db()
    assert replication.state == DiskReplication.State.INTERRUPTED
    first = ReplicatedBlock.objects.filter(snapshot__replication=replication).count()
    assert 0 < first < 24
    service.replicate(replication)
    assert replication.last_pass.blocks_sent == 24 - first
    assert service.verify(replication).ok


# --- image, instance, DNS ---------------------------------------------------------------


def test_image_instance_and_dns_of_a_rehost(embedded_account, raw_disk):
    replication = service.start_replication(embedded_account, image(raw_disk), name="saturn")
    snapshot_id = service.replicate(replication)
    ami_id = service.register_image(replication)
    assert service.register_image(replication) == ami_id  # a retried step registers nothing new
    ec2 = aws.client(embedded_account, "ec2")
    registered = ec2.describe_images(ImageIds=[ami_id])["Images"][0]
    # moto ignores the block device mapping of register_image (it makes up its own): the name records the snapshot
    assert (registered["Name"], registered["State"]) == (f"opsconsole-{replication.pk}-{snapshot_id}", "available")
    assert DiskReplication.objects.get(pk=replication.pk).ami_id == ami_id

    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.1.0/24")["Subnet"]["SubnetId"]
    ec2.create_tags(Resources=[subnet], Tags=[{"Key": "Name", "Value": "apps"}])
    group = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    instance_id, address = service.launch_instance(embedded_account, ami_id, "m5.large", subnet="apps",
                                                   security_group="web", tags={"Name": "saturn"})
    described = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    assert (described["SubnetId"], described["PrivateIpAddress"], described["ImageId"]) == (subnet, address, ami_id)
    assert address.startswith("10.42.1.")
    assert [g["GroupId"] for g in described["SecurityGroups"]] == [group]
    assert {"Key": "Name", "Value": "saturn"} in described["Tags"]

    aws.client(embedded_account, "route53").create_hosted_zone(Name="example.com", CallerReference="test")
    assert service.upsert_dns(embedded_account, "example.com", "saturn", "192.0.2.10") is None
    assert service.upsert_dns(embedded_account, "example.com.", "saturn.example.com", address) == "192.0.2.10"
    assert service.delete_dns(embedded_account, "example.com", "saturn") == address

    service.stop_instance(embedded_account, instance_id)
    assert ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"]["Name"] \
        == "stopped"
    service.terminate_instance(embedded_account, instance_id)
    assert ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"]["Name"] \
        == "terminated"


def test_an_instance_type_the_region_lacks_is_named(embedded_account):
    with pytest.raises(aws.CloudError) as failure:
        service.launch_instance(embedded_account, "ami-12345678", "m99.huge")
    assert "m99.huge" in str(failure.value) and "not offered in us-east-1" in str(failure.value)


def test_dns_in_a_zone_that_does_not_exist(embedded_account):
    with pytest.raises(aws.CloudError, match="no Route 53 hosted zone nowhere.example."):
        service.upsert_dns(embedded_account, "nowhere.example", "app", "192.0.2.1")


def test_registering_before_replicating_is_refused(embedded_account, raw_disk):
    replication = service.start_replication(embedded_account, image(raw_disk))
    with pytest.raises(aws.CloudError, match="no completed snapshot yet"):
        service.register_image(replication)


def test_one_pass_at_a_time_unless_the_other_worker_is_gone(embedded_account, raw_disk, settings):
    replication = service.start_replication(embedded_account, image(raw_disk))
    DiskReplication.objects.filter(pk=replication.pk).update(state="replicating", updated_at=timezone.now())
    with pytest.raises(aws.CloudError, match="being replicated by another worker") as busy:
        service.replicate(replication)
    assert busy.value.code == "busy" and not ReplicationSnapshot.objects.exists()

    assert not DiskReplication.objects.get(pk=replication.pk).stalled
    # its worker died: no progress for longer than the stale limit, so the next pass takes over
    settings.OPSCONSOLE_CLOUD_REPLICATION_STALE_AFTER = 60
    DiskReplication.objects.filter(pk=replication.pk).update(updated_at=timezone.now() - timedelta(seconds=61))
    assert DiskReplication.objects.get(pk=replication.pk).stalled
    first = service.replicate(replication)
    DiskReplication.objects.filter(pk=replication.pk).update(state="replicating", updated_at=timezone.now())
    write_blocks(raw_disk, {5: block_data(5)})
    assert service.replicate(replication, take_over=True) != first  # the operator knows it is dead


def test_progress_and_log_land_on_the_job(embedded_account, tmp_path, monkeypatch):
    from core.jobs import create_job, run_job
    from core.models import Job

    monkeypatch.setattr(service, "FLUSH_BLOCKS", 4)
    # 10 MiB + 1000 bytes: the last block is cut short and padded with zeros
    disk = write_blocks(tmp_path / "odd.raw", {i: block_data(i) for i in range(0, 20, 2)} | {20: b"tail" * 250},
                        size=10 * MIB + 1000)
    replication = service.start_replication(embedded_account, image(disk))
    job = create_job("cloud.replicate", "Replicate odd.raw", target=replication)
    run_job(job.pk, lambda job, recorder: {"snapshot": service.replicate(replication, recorder)})
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED and job.progress == 100
    assert "Starting snapshot" in job.log and "11 blocks (5.8 MB) sent" in job.log
    snapshot_id = job.result["snapshot"]
    tail = ebs.get_snapshot_block(embedded_account, snapshot_id, 20,
                                  ebs.list_snapshot_blocks(embedded_account, snapshot_id)[20])
    assert tail == b"tail" * 250 + bytes(BLOCK - 1000)
    assert service.verify(replication, against_source=True).ok


# --- API ---------------------------------------------------------------------------------


def test_the_api_lists_replications_with_their_backlog_in_fixed_queries(viewer_api, embedded_account, raw_disk):
    first = service.start_replication(embedded_account, image(raw_disk), name="saturn")
    snapshot_id = service.replicate(first)
    listed = viewer_api.get("/api/cloud/replications/?state=replicated").json()
    assert listed["count"] == 1
    row = listed["results"][0]
    assert (row["name"], row["state"], row["snapshot_chain"], row["bytes_sent"], row["backlog_bytes"], row["stalled"]) \
        == ("saturn", "replicated", [snapshot_id], 4 * BLOCK, 0, False)
    assert "sha256" not in json.dumps(row)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert viewer_api.get("/api/cloud/replications/").status_code == 200
        return len(captured)

    few = queries()
    for n in range(5):
        service.replicate(service.start_replication(embedded_account, image(raw_disk), name=f"disk {n}"))
    assert queries() == few
    assert viewer_api.get("/api/cloud/replications/?state=bogus").status_code == 400
    assert viewer_api.post("/api/cloud/replications/", {}, format="json").status_code in (403, 405)
