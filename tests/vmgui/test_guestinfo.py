"""The guest agent's rows in the details pane, from the simulated host (which runs no agent)."""
from __future__ import annotations

import drivers
from drivers.guestagent import GuestFilesystem, GuestInterface, IPAddress
from vmgui.models.guestinfo import NO_AGENT, GuestReport, guest_rows, read_guest


def test_a_host_without_guest_agents_says_so_in_one_row():
    with drivers.open("test:///default") as conn:
        report = read_guest(conn.lookup_by_name("test"))
    assert guest_rows(report) == [(NO_AGENT, "this connection cannot ask guest agents")]


def test_rows_leave_loopback_out_and_name_each_interface_and_file_system():
    report = GuestReport("web01", "Debian GNU/Linux 12 (bookworm), kernel 6.1.0-28-amd64", (
        GuestInterface("lo", None, (IPAddress("ipv4", "127.0.0.1", 8),)),
        GuestInterface("eth0", "52:54:00:12:34:56", (IPAddress("ipv4", "10.0.2.15", 24),
                                                     IPAddress("ipv6", "fe80::1", 64))),
        GuestInterface("eth1", None, ())),
        (GuestFilesystem("/", "vda1", "ext4", ("/dev/vda",), 3 << 30, 10 << 30),))
    assert guest_rows(report) == [
        ("Host name", "web01"), ("OS", "Debian GNU/Linux 12 (bookworm), kernel 6.1.0-28-amd64"),
        ("Interface eth0", "10.0.2.15/24, fe80::1/64"), ("Interface eth1", "no address"),
        ("File system /", "ext4 on vda1, 3.0 GiB of 10.0 GiB used")]
