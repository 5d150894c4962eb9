"""Domain XML -> ``qemu-system-x86_64`` argument list (never a shell string).

Only what the embedded driver can honour is accepted; anything else fails
with a message naming the XML element and what to use instead. Paths from
the XML are checked (absolute, no control characters) and commas are escaped
the way QEMU's option parser expects.
"""
from __future__ import annotations

import fcntl
import functools
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field

from ..diskimage import check_path
from ..domxml import GUEST_AGENT_CHANNEL, DomainXML
from ..errors import DriverError, ErrorCode

QEMU_BINARY = "qemu-system-x86_64"
MACHINES = {"q35": "q35", "pc": "pc"}
_NIC_MODELS = {None: "virtio-net-pci", "virtio": "virtio-net-pci", "e1000": "e1000", "e1000e": "e1000e",
               "rtl8139": "rtl8139"}
_KVM_GET_API_VERSION = 0xAE00
_KVM_CREATE_VM = 0xAE01
#: QEMU ids of the guest agent's channel: its chardev (query-chardev) and port (VSERPORT_CHANGE)
AGENT_CHARDEV = "charagent0"
AGENT_PORT = "agent0"
#: A display that only listens on each console (p2p: it serves nobody unless a client is handed over QMP).
#: Being there keeps QEMU's display refresh at its 30 ms default: alone, the VNC server looks 50 ms later
#: after each look that found nothing new (up to 3 s), so a key typed after a pause waits that long to echo.
STEADY_REFRESH_DISPLAY = "dbus"
#: how long ``-display help`` may take before the binary counts as offering no display
_PROBE_TIMEOUT_S = 10


def qemu_binary() -> str | None:
    return shutil.which(os.environ.get("VMGUI_QEMU", QEMU_BINARY))


@functools.lru_cache(maxsize=8)
def display_types(binary: str) -> frozenset[str]:
    """The ``-display`` types ``binary`` offers with the modules installed (Debian 13 keeps dbus in
    qemu-system-modules-opengl), read from ``-display help``; empty when it cannot be asked."""
    try:
        out = subprocess.run([binary, "-display", "help"], capture_output=True, text=True, check=False,
                             timeout=_PROBE_TIMEOUT_S, stdin=subprocess.DEVNULL).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    lines = out.splitlines()
    if not lines or not lines[0].startswith("Available display backend types"):
        return frozenset()
    names = []
    for line in lines[1:]:
        if not line.strip():
            break
        names.append(line.strip())
    return frozenset(names)


def kvm_problem() -> str | None:
    """None when KVM is usable; else why not (checked, not just /dev/kvm's existence)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            flags = {w for line in fh if line.startswith("flags") for w in line.split(":", 1)[1].split()}
    except OSError:
        flags = set()
    if not flags & {"vmx", "svm"}:
        return "the CPU offers no hardware virtualization (no vmx/svm flag): KVM would be slower than TCG"
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        return f"/dev/kvm cannot be opened ({exc.strerror})"
    try:
        if fcntl.ioctl(fd, _KVM_GET_API_VERSION) != 12:
            return "/dev/kvm speaks an unknown KVM API version"
        vm = fcntl.ioctl(fd, _KVM_CREATE_VM, 0)
        os.close(vm)
    except OSError as exc:
        return f"KVM cannot create a VM ({exc.strerror})"
    finally:
        os.close(fd)
    return None


def _esc(value: str) -> str:
    """Escape a value inside a QEMU ``key=value,...`` option."""
    return value.replace(",", ",,")


def _xml_path(path: str | None, where: str) -> str:
    if path is None:
        raise DriverError(ErrorCode.INVALID_XML, f"{where}: a path is required")
    try:
        return check_path(path, where)
    except DriverError as exc:
        raise DriverError(ErrorCode.INVALID_XML, exc.message) from None


def _unsupported(what: str) -> DriverError:
    return DriverError(ErrorCode.NO_SUPPORT, what)


@dataclass
class BlockNode:
    """A disk as QEMU sees it: node names for block jobs and snapshots."""

    target: str
    node: str  # format node (used by block jobs)
    file_node: str
    path: str
    format: str
    readonly: bool
    shareable: bool
    device: str


@dataclass
class CommandLine:
    argv: list[str]
    disks: list[BlockNode] = field(default_factory=list)
    serial_log: str | None = None
    #: where VNC listens when the XML left it to us (recorded in the live XML)
    vnc_socket: str | None = None
    #: the socket serving serial port 0 as the driver's console (see console.py)
    console_socket: str | None = None
    #: the VNC password to set over QMP once QEMU runs (``password=on`` refuses every client until then)
    vnc_password: str | None = None
    #: base images under the disks' overlays (``<backingStore>``): QEMU reads them, nobody may write them
    bases: list[str] = field(default_factory=list)
    #: the host end of the guest agent's channel (None: the domain has none)
    agent_socket: str | None = None


def build(definition: DomainXML, *, qmp_socket: str, vnc_socket: str | None = None,
          incoming: str | None = None, paused: bool = False, binary: str | None = None,
          console_socket: str | None = None, pty_log: str | None = None,
          tpm_socket: str | None = None, agent_socket: str | None = None) -> CommandLine:
    """The argument list that runs ``definition``.

    ``incoming``: a migration URI, or ``defer`` to take it later over QMP.
    ``paused``: start with the vCPUs stopped (-S).
    ``console_socket``: serve serial port 0 (type file or pty) on this unix
    socket, QEMU logging its output to the file (``pty_log`` for a pty).
    ``tpm_socket``: the control socket of the swtpm serving the domain's TPM.
    ``agent_socket``: where the guest agent's channel listens when its XML names no path.
    """
    d = definition
    binary = binary or qemu_binary()
    if not binary:
        raise DriverError(ErrorCode.NO_SUPPORT, f"{QEMU_BINARY} is not installed (Debian: qemu-system-x86)")
    if d.os_type != "hvm":
        raise _unsupported(f"/domain/os/type: only 'hvm' guests run here, not {d.os_type!r}")
    if d.arch not in ("x86_64", "i686"):
        raise _unsupported(f"/domain/os/type/@arch: {d.arch!r} guests need another emulator; use x86_64")
    machine = (d.machine or "q35").split("-")[0]
    if machine.startswith("pc"):
        machine = "pc"
    if machine not in MACHINES:
        raise _unsupported(f"/domain/os/type/@machine: {d.machine!r} is not supported; use q35 or pc")
    if d.domain_type == "kvm":
        problem = kvm_problem()
        if problem:
            raise DriverError(ErrorCode.OPERATION_INVALID,
                              f"KVM is not usable on this host: {problem}. Use <domain type='qemu'> "
                              "(TCG emulation) instead")
        accel = "kvm"
    elif d.domain_type == "qemu":
        accel = "tcg"
    else:
        raise _unsupported(f"/domain/@type: {d.domain_type!r} domains cannot run under QEMU; use 'qemu' or 'kvm'")
    mem_mib = max(1, (d.current_memory_kib or d.memory_kib) // 1024)
    flash, machine_opts = _firmware(d)
    argv = [binary, "-name", f"guest={d.name},debug-threads=on", "-uuid", d.uuid,
            "-machine", f"{MACHINES[machine]},accel={accel}{machine_opts}", "-m", f"{mem_mib}M",
            "-smp", str(d.vcpus), "-nodefaults", "-no-user-config", "-msg", "timestamp=on", *flash,
            "-chardev", f"socket,id=qmp,path={_esc(qmp_socket)},server=on,wait=off",
            "-mon", "chardev=qmp,mode=control"]
    if accel == "kvm" and d.cpu_mode in ("host-passthrough", "host-model"):
        argv += ["-cpu", "host"]
    if d.lifecycle_action("on_reboot") == "destroy":
        argv.append("-no-reboot")
    if d.kernel:
        argv += ["-kernel", _xml_path(d.kernel, "/domain/os/kernel")]
        if d.initrd:
            argv += ["-initrd", _xml_path(d.initrd, "/domain/os/initrd")]
        if d.cmdline:
            argv += ["-append", d.cmdline]
    elif d.initrd or d.cmdline:
        raise DriverError(ErrorCode.INVALID_XML, "/domain/os: initrd and cmdline need a kernel")
    boot = [b for b in d.boot_devices if b]
    order = "".join({"hd": "c", "cdrom": "d", "network": "n", "fd": "a"}.get(b, "") for b in boot)
    if order:
        argv += ["-boot", f"order={order}"]
    disks = _disks(d, machine, argv)
    _tpm(d, argv, tpm_socket)
    _nics(d, argv)
    serial_log, console_used = _serials(d, argv, console_socket, pty_log)
    agent_used = _channels(d, argv, agent_socket)
    vnc_used = _graphics(d, argv, vnc_socket, binary)
    _inputs(d, argv)
    if paused or incoming:
        argv.append("-S")
    if incoming:
        argv += ["-incoming", incoming]
    graphics = d.graphics()
    password = graphics[0].passwd if graphics else None
    bases = [b for node in d.disk_nodes() if node.source for b in node.backing_files]
    return CommandLine(argv, disks, serial_log, vnc_used, console_used, vnc_password=password, bases=bases,
                       agent_socket=agent_used)


def _disks(d: DomainXML, machine: str, argv: list[str]) -> list[BlockNode]:
    nodes = []
    ide_units = {"pc": ["ide.0,unit=0", "ide.0,unit=1", "ide.1,unit=0", "ide.1,unit=1"],
                 "q35": [f"ide.{i}" for i in range(6)]}[machine]
    used_ide = 0
    for i, disk in enumerate(d.disks()):
        where = f"/domain/devices/disk[{i + 1}]"
        if disk.device not in ("disk", "cdrom"):
            raise _unsupported(f"{where}: device {disk.device!r} is not supported; use disk or cdrom")
        if disk.type not in ("file", "block"):
            raise _unsupported(f"{where}: disk type {disk.type!r} is not supported; use file or block")
        fmt = disk.format or "raw"
        if fmt not in ("raw", "qcow2"):
            raise _unsupported(f"{where}/driver: format {fmt!r} is not supported; use raw or qcow2")
        dev_id = disk.target
        if disk.shareable and fmt != "raw" and not disk.readonly:
            raise _unsupported(f"{where}: a shareable disk must be raw; qcow2 cannot have two writers")
        node = f"fmt-{dev_id}"
        readonly = disk.readonly or disk.device == "cdrom"
        if disk.source:
            path = _xml_path(disk.source, f"{where}/source")
            if not os.path.exists(path):
                raise DriverError(ErrorCode.INVALID_ARG, f"{where}/source: disk image {path} does not exist")
            block = BlockNode(dev_id, node, f"file-{dev_id}", path, fmt, readonly, disk.shareable, disk.device)
            for spec in blockdev_specs(block, disk.type == "block"):
                argv += ["-blockdev", json.dumps(spec, separators=(",", ":"))]
            nodes.append(block)
        elif disk.device != "cdrom":
            raise DriverError(ErrorCode.INVALID_XML, f"{where}/source: a disk needs a source file")
        drive = f",drive={node}" if disk.source else ""
        share = ",share-rw=on" if disk.shareable and disk.source else ""
        if disk.device == "cdrom" or disk.bus in ("sata", "ide"):
            if used_ide >= len(ide_units):
                raise _unsupported(f"{where}: too many IDE/SATA disks for machine {machine}")
            kind = "ide-cd" if disk.device == "cdrom" else "ide-hd"
            argv += ["-device", f"{kind},bus={ide_units[used_ide]}{drive},id={dev_id}{share}"]
            used_ide += 1
        elif disk.bus == "virtio":
            argv += ["-device", f"virtio-blk-pci{drive},id={dev_id}{share}"]
        else:
            raise _unsupported(f"{where}/target: bus {disk.bus!r} is not supported; use virtio, sata or ide")
    return nodes


def blockdev_specs(disk: BlockNode, block_device: bool) -> list[dict[str, object]]:
    """The protocol node, then the format node on it, holding ``disk``'s image (``-blockdev``, ``blockdev-add``)."""
    return [{"driver": "host_device" if block_device else "file", "filename": disk.path,
             "node-name": disk.file_node, "read-only": disk.readonly, "auto-read-only": True, "discard": "unmap"},
            {"driver": disk.format, "file": disk.file_node, "node-name": disk.node, "read-only": disk.readonly}]


def _firmware(d: DomainXML) -> tuple[list[str], str]:
    """The pflash nodes of a UEFI domain and the ``-machine`` options naming them (and SMM)."""
    smm = {True: ",smm=on", False: ",smm=off", None: ""}[d.smm]
    if not d.loader:
        if d.uefi:
            raise DriverError(ErrorCode.INVALID_XML, "/domain/os/loader: a UEFI domain needs its firmware image "
                              "(define it again to have one chosen)")
        return [], smm
    code = _xml_path(d.loader, "/domain/os/loader")
    if d.loader_type != "pflash":
        return ["-bios", code], smm
    if d.loader_readonly == "no":
        raise _unsupported("/domain/os/loader/@readonly: the firmware code is mapped read-only; "
                           "its variables go to <nvram>")
    argv = _flash_node("pflash0", code, readonly=True)
    if d.nvram:
        argv += _flash_node("pflash1", _xml_path(d.nvram, "/domain/os/nvram"), readonly=False)
    names = ",pflash0=pflash0" + (",pflash1=pflash1" if d.nvram else "")
    if d.loader_secure == "yes":
        argv += ["-global", "driver=cfi.pflash01,property=secure,value=on"]
    return argv, names + smm


def _flash_node(name: str, path: str, readonly: bool) -> list[str]:
    return ["-blockdev", json.dumps({"driver": "file", "filename": path, "node-name": f"{name}-file",
                                     "read-only": readonly}, separators=(",", ":")),
            "-blockdev", json.dumps({"driver": "raw", "file": f"{name}-file", "node-name": name,
                                     "read-only": readonly}, separators=(",", ":"))]


def _tpm(d: DomainXML, argv: list[str], tpm_socket: str | None) -> None:
    """An emulated TPM: QEMU talks to the VM's swtpm over its control socket."""
    tpms = d.tpms()
    if not tpms:
        return
    if tpm_socket is None:
        raise DriverError(ErrorCode.OPERATION_INVALID, "/domain/devices/tpm: no swtpm runs for this domain")
    argv += ["-chardev", f"socket,id=chrtpm,path={_esc(tpm_socket)}",
             "-tpmdev", "emulator,id=tpm0,chardev=chrtpm", "-device", f"{tpms[0].model},tpmdev=tpm0"]


def _nics(d: DomainXML, argv: list[str]) -> None:
    for i, nic in enumerate(d.interfaces()):
        where = f"/domain/devices/interface[{i + 1}]"
        if nic.type != "user":
            raise _unsupported(f"{where}: interface type {nic.type!r} needs a privileged host network; "
                               "the embedded driver supports type='user' (user-mode networking)")
        model = _NIC_MODELS.get(nic.model)
        if model is None:
            raise _unsupported(f"{where}/model: NIC model {nic.model!r} is not supported; use virtio or e1000")
        mac = f",mac={nic.mac}" if nic.mac else ""
        argv += ["-netdev", f"user,id=net{i}", "-device", f"{model},netdev=net{i},id=nic{i}{mac}"]


def _serials(d: DomainXML, argv: list[str], console_socket: str | None,
             pty_log: str | None) -> tuple[str | None, str | None]:
    """Serial chardevs; returns (the log file of port 0 or the first file port, port 0's console socket)."""
    log = None
    console = None
    index = 0
    for ch in d.char_devices():
        if ch.kind == "console" and index:
            continue  # libvirt's console mirrors serial0
        where = f"/domain/devices/{ch.kind}"
        cid = f"serial{index}"
        if index == 0 and console_socket and (ch.type == "file" or ch.type == "pty" and pty_log):
            # interactive and logged: QEMU writes the log itself, connected or not
            path = _xml_path(ch.path, f"{where}/source/@path") if ch.type == "file" else str(pty_log)
            argv += ["-chardev", f"socket,id={cid},path={_esc(console_socket)},server=on,wait=off,"
                                 f"logfile={_esc(path)},logappend=on"]
            log, console = path, console_socket
        elif ch.type == "file":
            path = _xml_path(ch.path, f"{where}/source/@path")
            argv += ["-chardev", f"file,id={cid},path={_esc(path)},append=on"]
            log = log or path
        elif ch.type == "unix":
            path = _xml_path(ch.path, f"{where}/source/@path")
            if len(path.encode()) > 107:
                raise DriverError(ErrorCode.INVALID_XML, f"{where}/source/@path: {path} is too long for a socket")
            server = "on" if (ch.mode or "bind") == "bind" else "off"
            argv += ["-chardev", f"socket,id={cid},path={_esc(path)},server={server},wait=off"]
        elif ch.type == "pty":
            argv += ["-chardev", f"pty,id={cid}"]
        elif ch.type == "null":
            argv += ["-chardev", f"null,id={cid}"]
        else:
            raise _unsupported(f"{where}: serial type {ch.type!r} is not supported; use file, unix, pty or null")
        argv += ["-serial", f"chardev:{cid}"]
        index += 1
    return log, console


def _channels(d: DomainXML, argv: list[str], agent_socket: str | None) -> str | None:
    """The guest agent's virtio-serial port, served on a unix socket; returns that socket's path.

    ``agent_socket`` is used unless the XML names a path of its own. Other channels are refused.
    """
    channels = d.channels()
    for i, ch in enumerate(channels):
        if (ch.type, ch.target_type, ch.name) != ("unix", "virtio", GUEST_AGENT_CHANNEL) or i:
            raise _unsupported(f"/domain/devices/channel[{i + 1}]: only the guest agent's channel (type 'unix', "
                               f"target virtio '{GUEST_AGENT_CHANNEL}') is supported, once")
    if not channels:
        return None
    ch = channels[0]
    if ch.mode not in (None, "bind"):
        raise _unsupported("/domain/devices/channel/source/@mode: QEMU serves the agent's channel (mode 'bind')")
    path = _xml_path(ch.path, "/domain/devices/channel/source/@path") if ch.path else agent_socket
    if path is None:
        raise DriverError(ErrorCode.OPERATION_INVALID, "/domain/devices/channel: no socket for the guest agent")
    if len(path.encode()) > 107:
        raise DriverError(ErrorCode.INVALID_XML,
                          f"/domain/devices/channel/source/@path: {path} is too long for a socket")
    argv += ["-device", "virtio-serial-pci,id=virtio-serial0",
             "-chardev", f"socket,id={AGENT_CHARDEV},path={_esc(path)},server=on,wait=off",
             "-device", f"virtserialport,bus=virtio-serial0.0,nr=1,chardev={AGENT_CHARDEV},id={AGENT_PORT},"
                        f"name={GUEST_AGENT_CHANNEL}"]
    return path


def _graphics(d: DomainXML, argv: list[str], vnc_socket: str | None, binary: str) -> str | None:
    """VNC options; returns the socket path chosen for a <graphics> that named none."""
    graphics = d.graphics()
    video = _video(d, bool(graphics))
    if video:
        argv += ["-device", video]
    if not graphics:
        argv += ["-display", "none"]
        return None
    g = graphics[0]
    if g.type != "vnc":
        raise _unsupported(f"/domain/devices/graphics: type {g.type!r} is not supported; use vnc")
    password = ",password=on" if g.passwd else ""
    if STEADY_REFRESH_DISPLAY in display_types(binary):
        argv += ["-display", f"{STEADY_REFRESH_DISPLAY},p2p=on"]
    if g.socket or not g.listen and vnc_socket and g.port is None:
        path = _xml_path(g.socket, "/domain/devices/graphics/@socket") if g.socket else str(vnc_socket)
        argv += ["-vnc", f"unix:{_esc(path)}{password}"]
        return None if g.socket else path
    listen = g.listen or "127.0.0.1"
    if listen not in ("127.0.0.1", "::1", "localhost"):
        raise _unsupported("/domain/devices/graphics/@listen: VNC listens on loopback or a unix socket only")
    port = g.port if g.port is not None and g.port >= 5900 else None
    display = (port - 5900) if port is not None else 0
    argv += ["-vnc", (f"{listen}:{display}" if port is not None else f"{listen}:0,to=99") + password]
    return None


#: (type, bus) -> the QEMU device; PS/2 mouse and keyboard come with the machine (as libvirt's implicit ones).
_INPUT_DEVICES = {("tablet", "usb"): "usb-tablet", ("mouse", "usb"): "usb-mouse", ("keyboard", "usb"): "usb-kbd",
                  ("tablet", "virtio"): "virtio-tablet-pci", ("mouse", "virtio"): "virtio-mouse-pci",
                  ("keyboard", "virtio"): "virtio-keyboard-pci", ("mouse", "ps2"): None, ("keyboard", "ps2"): None}


def _inputs(d: DomainXML, argv: list[str]) -> None:
    """``<input>`` devices; USB ones get one xHCI controller (``usb``) to plug into."""
    usb = False
    for i in d.inputs():
        bus = i.bus or ("usb" if i.type == "tablet" else "ps2")
        if (i.type, bus) not in _INPUT_DEVICES:
            raise _unsupported(f"/domain/devices/input: type {i.type!r} on bus {bus!r} is not supported; "
                               "use a tablet, mouse or keyboard on usb or virtio (mouse and keyboard also ps2)")
        device = _INPUT_DEVICES[(i.type, bus)]
        if device is None:
            continue
        if bus == "usb" and not usb:
            argv += ["-device", "qemu-xhci,id=usb"]
            usb = True
        argv += ["-device", f"{device},bus=usb.0" if bus == "usb" else device]


_VIDEO_MODELS = {"vga": "VGA", "virtio": "virtio-vga", "bochs": "bochs-display", "cirrus": "cirrus-vga",
                 "none": None}


def _video(d: DomainXML, graphics: bool) -> str | None:
    """The display adapter: ``<video><model type=.../>``, else VGA when there is a <graphics> (as libvirt)."""
    model = d.root.find("devices/video/model")
    if model is None:
        return "VGA" if graphics or d.root.find("devices/video") is not None else None
    kind = model.get("type", "vga")
    if kind not in _VIDEO_MODELS:
        raise _unsupported(f"/domain/devices/video/model: type {kind!r} is not supported; "
                           f"use {', '.join(k for k in _VIDEO_MODELS if k != 'none')} or none")
    return _VIDEO_MODELS[kind]


def has_display(d: DomainXML) -> bool:
    """Whether ``d`` runs with a display adapter (something a screenshot can show)."""
    return _video(d, bool(d.graphics())) is not None
