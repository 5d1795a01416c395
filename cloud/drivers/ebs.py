"""The EBS direct APIs: write an EBS snapshot block by block and read it back.

    client = ebs_client(account)                      # thread-safe: share it between upload threads
    snapshot_id = start_snapshot(account, 8, parent_snapshot_id=None, client_token="…")
    put_snapshot_block(account, snapshot_id, index, data, client=client)   # SHA-256 checked by AWS
    complete_snapshot(account, snapshot_id, changed_blocks_count)
    tokens = list_snapshot_blocks(account, snapshot_id)                    # {index: block token}
    data = get_snapshot_block(account, snapshot_id, index, tokens[index])

Blocks are BLOCK_SIZE (512 KiB) long, the only size the API takes; block indexes count
in blocks. Failures are cloud.drivers.aws.CloudError; `is_transient(error)` says whether
trying again may help (network errors, timeouts, throttling, 5xx).
"""

import base64
import hashlib

from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import HTTPClientError

from . import aws
from .limits import explained_limits

BLOCK_SIZE = 512 * 1024
GIB = 1024 ** 3

TRANSIENT_CODES = {"unreachable", "timeout", "RequestThrottledException", "ThrottlingException",
                   "InternalServerException", "ServiceUnavailable", "InternalError"}


def ebs_client(account, **client_options):
    return aws.client(account, "ebs", **client_options)


def checksum(data):
    """The base64 SHA-256 the API wants with each block."""
    return encoded(hashlib.sha256(data).digest())


def encoded(digest):
    """A SHA-256 digest as the API writes it (base64)."""
    return base64.b64encode(digest).decode()


def volume_size_gib(size_bytes):
    """The snapshot's volume size: whole GiB, at least 1."""
    return max(1, -(-size_bytes // GIB))


def is_transient(error):
    """Whether a CloudError from these calls is worth another try."""
    code = str(getattr(error, "code", ""))
    if code in TRANSIENT_CODES or (code.isdigit() and int(code) >= 500):
        return True
    # A connection dropped mid-request (reset, closed without an answer).
    return isinstance(error.__cause__, (BotoConnectionError, HTTPClientError))


def start_snapshot(account, volume_size, *, parent_snapshot_id=None, description="", tags=None,
                   client_token=None, timeout_minutes=None, client=None):
    """Start a snapshot of `volume_size` GiB (a child of parent_snapshot_id when given);
    returns its id. The same client_token returns the same snapshot (AWS: idempotent)."""
    params = {"VolumeSize": volume_size, "Description": description[:255]}
    if parent_snapshot_id:
        params["ParentSnapshotId"] = parent_snapshot_id
    if tags:
        params["Tags"] = [{"Key": key, "Value": str(value)} for key, value in tags.items()]
    if client_token:
        params["ClientToken"] = client_token
    if timeout_minutes:
        params["Timeout"] = timeout_minutes
    with explained_limits(account, "ebs StartSnapshot"):
        return (client or ebs_client(account)).start_snapshot(**params)["SnapshotId"]


def put_snapshot_block(account, snapshot_id, index, data, *, checksum_b64=None, client=None):
    """Write one BLOCK_SIZE block; AWS checks it against its SHA-256."""
    with explained_limits(account, "ebs PutSnapshotBlock"):
        (client or ebs_client(account)).put_snapshot_block(
            SnapshotId=snapshot_id, BlockIndex=index, BlockData=data, DataLength=len(data),
            Checksum=checksum_b64 or checksum(data), ChecksumAlgorithm="SHA256",
        )


def complete_snapshot(account, snapshot_id, changed_blocks_count, *, client=None):
    """Seal the snapshot: AWS checks it received changed_blocks_count blocks."""
    with explained_limits(account, "ebs CompleteSnapshot"):
        return (client or ebs_client(account)).complete_snapshot(
            SnapshotId=snapshot_id, ChangedBlocksCount=changed_blocks_count)["Status"]


def list_snapshot_blocks(account, snapshot_id, *, client=None):
    """{block index: block token} of every block the snapshot holds (all pages)."""
    client = client or ebs_client(account)
    tokens, params = {}, {"SnapshotId": snapshot_id, "MaxResults": 10000}
    with explained_limits(account, "ebs ListSnapshotBlocks"):
        while True:
            page = client.list_snapshot_blocks(**params)
            tokens.update((block["BlockIndex"], block["BlockToken"]) for block in page.get("Blocks", []))
            if not page.get("NextToken"):
                return tokens
            params["NextToken"] = page["NextToken"]


def get_snapshot_block(account, snapshot_id, index, token, *, client=None):
    """The data of one block."""
    with explained_limits(account, "ebs GetSnapshotBlock"):
        answer = (client or ebs_client(account)).get_snapshot_block(
            SnapshotId=snapshot_id, BlockIndex=index, BlockToken=token)
        return answer["BlockData"].read()
