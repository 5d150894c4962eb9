"""The lock manager: a supervisor per VM holds the VM's disk leases for exactly its lifetime.

Design (after libvirt's virtlockd)
==================================

Use::

    mgr = LockManager(uuid, name, Lockspace(path_or_None))
    mgr.add_resource("/vms/a.qcow2")                       # EXCLUSIVE
    mgr.add_resource("/iso/x.iso", LeaseMode.READONLY)     # or libvirt flags 1 / 2
    mgr.add_resource(path, LeaseMode.for_disk(readonly=False, shareable=True))
    sup = mgr.launch(["qemu-system-x86_64", ...])          # RESOURCE_BUSY: no VM ran
    sup = Launcher().launch(mgr, argv)                     # the same, forked in milliseconds
    sup.vm_pid, sup.supervisor_pid, sup.socket_path
    sup.acquire(path, mode) / sup.release(path)            # hot-plug / unplug
    state = sup.release(); sup.acquire_state(state)        # pause / resume, migration
    sup.shutdown(); sup.wait(timeout); sup.exit_status().crashed
    attach(uuid) / running()                               # after an app restart
    exit_status_of(uuid)                                   # how it ended while nobody watched
    inspect(path).holders                                  # who holds a disk

Supervisor
    ``LockManager.launch`` starts ``python -m drivers.locking.supervisor`` in a
    new session. It takes the VM's leases, then forks/execs the VM (argv list,
    never a shell) as its child, waits on it, and when it exits records the exit
    in ``<runtime>/<uuid>.status``, releases and exits with the child's status.
    The child has PR_SET_PDEATHSIG(SIGKILL): if the supervisor dies the VM dies,
    so no VM ever runs without its leases. VMs outlive the app; ``attach(uuid)``
    and ``running()`` find them again. Control is a JSON-lines unix socket in a
    0700 per-user runtime directory ($XDG_RUNTIME_DIR/vmgui, else /tmp/vmgui-<uid>).
    A ``Launcher`` starts the same supervisor by forking it from a fork server
    that imported it once (``forkserver``), instead of a new interpreter per VM;
    how supervisors and the fork server are invoked is this package's business.

Primitive
    fcntl byte-range locks, as open-file-description (OFD) locks where the
    kernel has them (else process-owned POSIX locks), taken without waiting on
    zero-length lease files in the lockspace. Kernel locks die with their
    holder: a crash or SIGKILL of VM or supervisor frees the lease at once,
    with nothing to clean up. See ``ofd`` for the byte layout.

Modes
    EXCLUSIVE (writable disks) excludes everyone. SHARED (``<shareable/>``)
    coexists with SHARED and READONLY. READONLY takes no write lease and never
    meets SHARED holders; **read-only and an exclusive writer exclude each
    other**, in both directions: an exclusive writer may be rewriting metadata
    (qcow2 tables) that a reader would see half done, which is also QEMU's own
    image-locking rule. (libvirt's lockd takes no lock at all for read-only
    disks; we deliberately protect readers too.)

Identity (symlinks, ``..``, hard links)
    A resource holds up to two leases, named by SHA-256: of its realpath
    (symlinks and ``..`` resolved; usable before the file exists and across
    hosts that share paths) and, if it exists, of its inode identity
    (``st_dev:st_ino``; ``st_rdev`` for block devices). A hard link has its own
    realpath but the same inode, a not-yet-created file only a path: sharing any
    lease name is a conflict, so no alias gets around it. Relative paths are
    refused by the API (``paths.lease_name`` resolves one against an explicit cwd).

Holder names
    Every holder keeps ``holders/<host>_<uuid>.json`` (name, uuid, pids, host,
    leases) next to a ``.lock`` it write-locks; records of dead holders are
    ignored. A record lists only leases already locked (written after locking,
    rewritten before unlocking), so RESOURCE_BUSY names real holders; a conflict
    whose holder has no record yet is retried for up to a second (the loser of
    a race lets go at once) before being reported as unnamed.

NFS and several hosts
    Point all hosts at one lockspace directory (``Lockspace(path)``): path
    leases then protect disks seen under the same path everywhere. Inode
    leases are host-local (st_dev differs between clients), so hard links are
    only caught on one host. Linux NFS maps fcntl/OFD locks to NLM (v3) or
    NFSv4 locks; a client cut off beyond its lease time loses its locks while
    its VM runs on (no fencing, unlike sanlock), and an NFSv3 server needs
    working lockd/statd. Lease files are never deleted (deleting one under a
    holder would let the next holder lock a different inode).

Failure modes (every call documents its own)
    INVALID_ARG bad argument (path, mode/flags, kind, uuid, state string);
    INTERNAL_ERROR I/O or supervisor failure; NO_SUPPORT what the lock manager
    cannot do (``lease`` resources, changing a held lease's mode);
    RESOURCE_BUSY a lease held elsewhere, naming resource and holder (VM name,
    uuid, pid, host). A failed start leaves no VM process and no lease; a
    failed hot-plug acquire leaves the running VM and its leases untouched;
    release and shutdown are idempotent; a supervisor that hangs after its VM
    is gone is SIGKILLed by ``shutdown`` and its leases go with it.

Migration
    The destination is launched ``register_only`` (paused, no leases, its
    resources registered). At switch-over the source ``release()``s (returns a
    state string), the destination ``acquire_state(state)`` before resuming; if
    that fails the source ``acquire_state(state)`` again and resumes.
"""
from __future__ import annotations

from drivers.locking.client import Supervisor, attach, exit_status_of, running
from drivers.locking.holders import HolderInfo, LeaseInfo, inspect
from drivers.locking.launcher import Launcher
from drivers.locking.leases import LeaseHolder, Resource
from drivers.locking.lockspace import Lockspace, default_lockspace_dir, default_runtime_dir
from drivers.locking.manager import LockManager
from drivers.locking.modes import FLAG_READONLY, FLAG_SHARED, LeaseMode
from drivers.locking.paths import lease_keys, lease_name
from drivers.locking.runfiles import ExitStatus

__all__ = [
    "ExitStatus", "FLAG_READONLY", "FLAG_SHARED", "HolderInfo", "Launcher", "LeaseHolder", "LeaseInfo", "LeaseMode",
    "LockManager", "Lockspace", "Resource", "Supervisor", "attach", "default_lockspace_dir",
    "default_runtime_dir", "exit_status_of", "inspect", "lease_keys", "lease_name", "running",
]
