"""Disk images through ``qemu-img``: create (as a job), info, offline snapshots."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

from ..diskimage import reserve_new_file
from ..errors import DriverError, ErrorCode
from ..flags import DiskCreateFlags
from ..jobs import Job

QEMU_IMG = "qemu-img"
#: flags of create_disk (an alias kept for older callers of drivers.qemu.PREALLOCATE)
PREALLOCATE = DiskCreateFlags.PREALLOCATE


def qemu_img() -> str:
    path = shutil.which(os.environ.get("VMGUI_QEMU_IMG", QEMU_IMG))
    if path is None:
        raise DriverError(ErrorCode.NO_SUPPORT, "qemu-img is not installed (Debian: qemu-utils)")
    return path


def run(args: list[str], what: str, timeout: float = 120.0) -> str:
    try:
        proc = subprocess.run([qemu_img(), *args], capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise DriverError(ErrorCode.OPERATION_TIMEOUT, f"{what}: qemu-img did not finish in {timeout:.0f} s") from None
    except OSError as exc:
        raise DriverError(ErrorCode.OPERATION_FAILED, f"{what}: cannot run qemu-img: {exc.strerror}") from None
    if proc.returncode != 0:
        msg = (proc.stderr or proc.stdout).strip().replace("qemu-img: ", "")
        raise DriverError(ErrorCode.OPERATION_FAILED, f"{what}: {msg}")
    return proc.stdout


def info(path: str, force_share: bool = True) -> dict[str, Any]:
    args = ["info", "--output=json"] + (["-U"] if force_share else []) + [path]
    try:
        parsed: dict[str, Any] = json.loads(run(args, f"reading {path}"))
        return parsed
    except ValueError:
        raise DriverError(ErrorCode.OPERATION_FAILED, f"qemu-img info of {path} gave no JSON") from None


def create(job: Job, path: str, size: int, fmt: str, preallocate: bool) -> None:
    """Create an image; with preallocation the job reports the bytes allocated so far.

    Without it qemu-img writes a few KiB of metadata: one step, no byte figures.
    """
    args = ["create", "-q", "-f", fmt]
    if preallocate:
        args += ["-o", "preallocation=full" if fmt == "raw" else "preallocation=falloc"]
    args += [path, str(size)]

    def report(allocated: int) -> None:
        if preallocate:
            job.progress(min(allocated, size), size)
        else:
            job.steps(0, 1)
    report(0)
    reserve_new_file(path)  # a file that appeared since the request is refused, never truncated
    try:
        proc = subprocess.Popen([qemu_img(), *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    except BaseException as exc:
        os.unlink(path)
        if isinstance(exc, OSError):
            raise DriverError(ErrorCode.OPERATION_FAILED, f"cannot run qemu-img: {exc.strerror}") from None
        raise
    job.on_cancel(proc.kill)
    try:
        while proc.poll() is None:
            try:
                done = os.stat(path).st_blocks * 512 if preallocate else 0
            except OSError:
                done = 0
            report(done)
            job.wait_cancel(0.1)
        err = proc.stderr.read() if proc.stderr else ""
        job.raise_if_cancelled()
        if proc.returncode != 0:
            raise DriverError(ErrorCode.OPERATION_FAILED, f"creating {path}: {err.strip()}")
    except BaseException:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        try:
            os.unlink(path)
        except OSError:
            pass
        raise


def snapshot(action: str, path: str, name: str) -> None:
    """Offline internal snapshot: action c (create), a (apply), d (delete)."""
    run(["snapshot", f"-{action}", name, path], f"snapshot '{name}' of {path}")


def snapshot_names(path: str) -> set[str]:
    return set(snapshot_table(path))


def snapshot_table(path: str) -> dict[str, int]:
    """The internal snapshots of an image (read with -U, so also while QEMU runs): name -> VM state bytes."""
    return {str(s.get("name")): int(s.get("vm-state-size") or 0) for s in info(path).get("snapshots", [])}
