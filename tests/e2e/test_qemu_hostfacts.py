"""Real QEMU: the host facts of an embedded root are what its domains actually get."""
from __future__ import annotations

import os
import socket

import pytest

from drivers import DomainState, DriverError
from drivers.hostfacts import FirmwareInterface

pytestmark = pytest.mark.qemu


def test_new_images_go_under_the_root_and_the_bios_is_qemus(env):
    conn = env.open()
    facts = conn.host_facts()
    assert facts.image_dir == os.path.join(str(env.root()), "images")
    assert facts.hostname == socket.gethostname() and facts.local is True
    bios = facts.firmware_of(FirmwareInterface.BIOS)
    assert len(bios) == 1 and (bios[0].path is None or os.path.isfile(bios[0].path))
    assert all(os.path.isfile(f.path) for f in facts.firmware_of(FirmwareInterface.UEFI) if f.path)


def test_the_domain_type_the_facts_name_starts(env):
    conn = env.open()
    facts = conn.host_facts()
    dom = conn.define_xml(env.xml("typed", dom_type=facts.domain_type))
    dom.create()
    assert dom.state()[0] is DomainState.RUNNING
    dom.destroy()


def test_without_kvm_a_kvm_domain_is_refused_for_the_reason_the_facts_give(env):
    conn = env.open()
    facts = conn.host_facts()
    if facts.kvm:
        pytest.skip("KVM works on this machine")
    dom = conn.define_xml(env.xml("kvm", dom_type="kvm"))
    with pytest.raises(DriverError) as err:
        dom.create()
    assert facts.kvm_problem in err.value.message
    assert not dom.is_active()
