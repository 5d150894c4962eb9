"""The demo host behind ``test:///default``.

Like libvirt's, it holds a running persistent domain named ``test``; the others
are chosen so that every filter group has members on both sides: a new user
toggles any filter and sees it work.
"""
from __future__ import annotations

_TEST_NS = "http://libvirt.org/schemas/domain/test/1.0"


def _domain(name: str, uuid: str, mem_mib: int, vcpus: int, *, extra: str = "", disks: int = 1,
            title: str = "", cur_mib: int | None = None) -> str:
    disk_xml = "".join(
        f"""
      <disk type='file' device='disk'>
        <driver name='qemu' type='qcow2'/>
        <source file='/var/lib/vmgui/images/{name}-{i}.qcow2'/>
        <target dev='vd{chr(ord("a") + i)}' bus='virtio'/>
      </disk>""" for i in range(disks))
    title_xml = f"<title>{title}</title>" if title else ""
    return f"""
  <domain type='test' xmlns:test='{_TEST_NS}'>
    <name>{name}</name>
    <uuid>{uuid}</uuid>
    {title_xml}
    <memory unit='MiB'>{mem_mib}</memory>
    <currentMemory unit='MiB'>{cur_mib or mem_mib}</currentMemory>
    <vcpu>{vcpus}</vcpu>
    <os><type arch='x86_64' machine='q35'>hvm</type><boot dev='hd'/></os>
    <on_poweroff>destroy</on_poweroff>
    <on_reboot>restart</on_reboot>
    <devices>{disk_xml}
      <interface type='network'><mac address='52:54:00:{uuid[0:2]}:{uuid[2:4]}:{uuid[4:6]}'/>
        <source network='default'/><model type='virtio'/></interface>
      <serial type='pty'><target port='0'/></serial>
      <graphics type='vnc' port='-1' autoport='yes'/>
    </devices>
    {extra}
  </domain>"""


def _snapshot(name: str, parent: str | None, state: str, created: int, description: str,
              current: bool = False) -> str:
    """libvirt's test-driver form: the snapshot's elements, ``<active>1</active>`` when current."""
    parent_xml = f"<parent><name>{parent}</name></parent>" if parent else ""
    return (f"<test:domainsnapshot><name>{name}</name>"
            f"<description>{description}</description><state>{state}</state>"
            f"<creationTime>{created}</creationTime>{parent_xml}<active>{int(current)}</active>"
            "</test:domainsnapshot>")


DEFAULT_NODE_XML = f"""<node>
  <cpu><nodes>2</nodes><sockets>2</sockets><cores>2</cores><threads>2</threads><active>16</active><mhz>1400</mhz><model>i686</model></cpu>
  <memory>3145728</memory>
  {_domain("test", "6695eb01-f6a4-8304-79aa-97f2502e193f", 8192, 2, cur_mib=2048,
           extra="<test:runstate>1</test:runstate>")}
  {_domain("web01", "1c6b4a8e-2f1d-4e43-9c55-0a1f3b2c7d01", 2048, 2, title="Public web front end",
           extra="<test:runstate>1</test:runstate><test:autostart/>"
                 + _snapshot("before-upgrade", None, "running", 1767225600, "Before the 2.4 upgrade")
                 + _snapshot("after-upgrade", "before-upgrade", "running", 1767312000, "2.4 installed",
                           current=True))}
  {_domain("db01", "2d7c5b9f-3a2e-4f54-8d66-1b2a4c3d8e02", 4096, 4, disks=2, title="PostgreSQL primary",
           extra="<test:runstate>3</test:runstate><test:autostart/>")}
  {_domain("ci-runner-7", "3e8d6ca0-4b3f-4065-9e77-2c3b5d4e9f03", 1024, 2, title="Throw-away CI runner",
           extra="<test:runstate>1</test:runstate><test:transient/>")}
  {_domain("win11", "4f9e7db1-5c40-4176-8f88-3d4c6e5fa004", 4096, 4, title="Windows 11 desktop",
           extra="<test:runstate>5</test:runstate><test:hasmanagedsave/>")}
  {_domain("legacy-app", "50af8ec2-6d51-4287-9099-4e5d7f60b105", 512, 1,
           extra="<test:runstate>5</test:runstate>"
                 + _snapshot("golden", None, "shutoff", 1764547200, "Known good configuration", current=True))}
  {_domain("kernel-dev", "61b09fd3-7e62-4398-a1aa-5f6e8071c206", 1024, 2, title="Kernel test box",
           extra="<test:runstate>6</test:runstate>")}
  {_domain("backup-store", "72c1a0e4-8f73-44a9-b2bb-607f9182d307", 1024, 1, disks=3,
           extra="<test:runstate>5</test:runstate><test:autostart/>")}
</node>
"""
