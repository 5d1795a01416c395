"""The "image" disk source: an image file on the worker, for an operator who really has an
exported image (a dd of a disk, a qcow2 someone handed over).

Only files under the storage roots an admin declared are read (settings
OPSCONSOLE_IMAGE_ROOTS, comma-separated; none by default, so nothing is readable until an
admin says where images live), regular files only, symbolic links resolved before the
check. Raw files are read in place, holes skipped (SEEK_DATA); other formats are read as
the guest sees them through qemu-nbd, never converted to a copy the size of the disk.
"""

import os
from contextlib import ExitStack
from pathlib import Path

from django.conf import settings

from ..drivers import disk_image
from .disk_sources import DiskChoice, DiskSource, DiskSourceError, Method
from .vm_disk_source import NBDSource

SETTING = "OPSCONSOLE_IMAGE_ROOTS"


def image_roots():
    """The declared roots, resolved (a root that is a symbolic link counts as where it points)."""
    configured = getattr(settings, SETTING, None) or os.environ.get(SETTING, "")
    entries = [configured] if isinstance(configured, str | Path) else list(configured)
    roots = [str(root).strip() for entry in entries for root in str(entry).split(",") if str(root).strip()]
    return [os.path.realpath(root) for root in roots]


def check(path):
    """The DiskChoice of the image at path; DiskSourceError (field "disk") unless it is a
    readable regular file under a declared root."""
    roots = image_roots()
    if not roots:
        raise DiskSourceError("No image roots are declared (setting OPSCONSOLE_IMAGE_ROOTS): choose one of the "
                              "workload's own disks.")
    if not path.startswith("/"):
        raise DiskSourceError("Give the image's absolute path, or choose one of the workload's own disks.")
    real = os.path.realpath(path)
    if not any(real == root or real.startswith(root.rstrip("/") + "/") for root in roots):
        raise DiskSourceError(f"{path} is not under a declared image root ({', '.join(roots)}).")
    if not os.path.isfile(real):
        raise DiskSourceError(f"There is no image file at {path}.")
    if not os.access(real, os.R_OK):
        raise DiskSourceError(f"The image {path} is not readable by the worker.")
    try:
        fmt, size = disk_image.inspect(real)
    except disk_image.DiskImageError as exc:
        raise DiskSourceError(str(exc)) from exc
    allocated = os.stat(real).st_blocks * 512
    return DiskChoice(name=path, size=size, allocated=allocated, description=f"{fmt} image",
                      details={"format": fmt, "path": real})


def available_disks():
    """Every image file directly in the declared roots."""
    choices = []
    for root in image_roots():
        for entry in sorted(Path(root).glob("*")):
            try:
                choices.append(check(str(entry)))
            except DiskSourceError:
                continue
    return choices


def open_source(ref, since=""):
    choice = check(ref.disk)
    if choice.details["format"] == "raw":
        return RawImageSource(ref, choice)
    return _nbd_image_source(ref, choice)


def _nbd_image_source(ref, choice):
    return LocalImageSource(ref, choice).opened()


class LocalImageSource(NBDSource):
    """A qcow2 (or other) image read as the guest sees it, through a local qemu-nbd."""

    def __init__(self, ref, choice):
        super().__init__(ref, "this worker", None, choice.details, since="")
        self._server = ExitStack()
        self.stats.consistency = f"image file {ref.disk}: read as the guest sees it (qemu-nbd)"

    def open(self):
        try:
            socket_path = self._server.enter_context(
                disk_image.serve_nbd(self.disk["path"], self.disk["format"]))
        except disk_image.DiskImageError as exc:
            raise DiskSourceError(str(exc)) from exc
        self._open_reader(socket_path, "")

    def _release(self):
        self._server.close()


class RawImageSource(DiskSource):
    def __init__(self, ref, choice):
        super().__init__(ref)
        self.path, self.size = choice.details["path"], choice.size
        self.fd = os.open(self.path, os.O_RDONLY)
        self.stats.method = Method.ALLOCATION
        self.stats.consistency = f"image file {ref.disk}: read as it is on the worker"

    def extents(self):
        return disk_image.data_extents(self.fd, self.size)

    def read(self, offset, length):
        return os.pread(self.fd, length, offset)

    def close(self):
        os.close(self.fd)
