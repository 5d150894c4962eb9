"""libvirt backup and checkpoint documents for tests: push backups, incremental ones, checkpoint requests."""
from __future__ import annotations


def backup_xml(disks: dict[str, str], since: str | None = None, fmt: str = "qcow2") -> str:
    """A push backup of each disk (target dev -> new file), ``since`` a checkpoint for an incremental."""
    entries = "".join(f"<disk name='{dev}' type='file'><target file='{path}'/><driver type='{fmt}'/></disk>"
                      for dev, path in disks.items())
    inc = f"<incremental>{since}</incremental>" if since else ""
    return f"<domainbackup mode='push'>{inc}<disks>{entries}</disks></domainbackup>"


def checkpoint_xml(name: str, description: str = "") -> str:
    desc = f"<description>{description}</description>" if description else ""
    return f"<domaincheckpoint><name>{name}</name>{desc}</domaincheckpoint>"
