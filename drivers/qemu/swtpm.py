"""The emulated TPM 2.0 of a VM: one ``swtpm`` per running VM, living and dying with its QEMU.

swtpm is started (daemonised) just before QEMU with ``--terminate``: it
ends when its control channel closes, which QEMU holds for its whole life,
so it goes with QEMU however QEMU ends (quit, crash, SIGKILL), also while no
vmgui runs. It is not put under the VM's lock supervisor: the supervisor
launches exactly one program (QEMU) and its exit status is the VM's, and
swtpm needs no lease. If QEMU never connects (a failed start), the caller
ends swtpm through its pid file. The state (``tpm2-00.permall``) lives in
the VM's folder (0700) and so survives restarts; QEMU carries the TPM state
in the migration stream, so a save/restore resumes the TPM as it was.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from ..domxml import DomainXML
from ..errors import DriverError, ErrorCode

SWTPM = "swtpm"
#: how long swtpm may take to create its control socket
START_TIMEOUT = 10.0


def swtpm_binary() -> str | None:
    return shutil.which(SWTPM)


def check_tpms(definition: DomainXML) -> None:
    """What the embedded driver can run: at most one emulated TPM 2.0 (tpm-crb or tpm-tis)."""
    tpms = definition.tpms()
    if len(tpms) > 1:
        raise DriverError(ErrorCode.NO_SUPPORT, "/domain/devices/tpm: one TPM per domain is supported")
    for tpm in tpms:
        if tpm.model not in ("tpm-crb", "tpm-tis"):
            raise DriverError(ErrorCode.NO_SUPPORT,
                              f"/domain/devices/tpm/@model: {tpm.model!r} is not supported; use tpm-crb or tpm-tis")
        if tpm.backend != "emulator":
            raise DriverError(ErrorCode.NO_SUPPORT, "/domain/devices/tpm/backend: only type='emulator' (swtpm) "
                              f"is supported, not {tpm.backend!r}")
        if (tpm.version or "2.0") != "2.0":
            raise DriverError(ErrorCode.NO_SUPPORT, "/domain/devices/tpm/backend/@version: only TPM 2.0 is "
                              f"emulated, not {tpm.version!r}")


def start(state_dir: Path, ctrl_socket: str, log_file: Path) -> int:
    """Start swtpm for one VM; returns its pid once its control socket accepts QEMU.

    NO_SUPPORT when swtpm is not installed; OPERATION_FAILED with swtpm's
    own words when it does not come up.
    """
    binary = swtpm_binary()
    if binary is None:
        raise DriverError(ErrorCode.NO_SUPPORT, "the domain has a TPM but swtpm is not installed "
                          "(Debian: swtpm swtpm-tools)")
    try:
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(state_dir, 0o700)
    except OSError as exc:
        raise DriverError(ErrorCode.OPERATION_FAILED,
                          f"cannot create the TPM state folder {state_dir}: {exc.strerror}") from None
    pid_file = state_dir / "swtpm.pid"
    for stale in (pid_file, Path(ctrl_socket)):
        try:
            stale.unlink()
        except OSError:
            pass
    argv = [binary, "socket", "--tpm2", "--tpmstate", f"dir={state_dir},mode=0600",
            "--ctrl", f"type=unixio,path={ctrl_socket},mode=0600", "--log", f"file={log_file},level=1",
            "--pid", f"file={pid_file}", "--terminate", "--daemon"]
    done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=START_TIMEOUT, check=False)
    if done.returncode != 0:
        words = (done.stderr or done.stdout).decode("utf-8", "replace").strip()
        raise DriverError(ErrorCode.OPERATION_FAILED, f"swtpm did not start: {words or f'exit {done.returncode}'}")
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        pid = _read_pid(pid_file)
        if pid is not None and os.path.exists(ctrl_socket):
            return pid
        time.sleep(0.02)
    raise DriverError(ErrorCode.OPERATION_FAILED, f"swtpm did not open its control socket {ctrl_socket}")


def stop(pid: int) -> None:
    """End a swtpm that no QEMU took (a start that failed before QEMU connected)."""
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:
        pass


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None
