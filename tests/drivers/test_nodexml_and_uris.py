"""test:/// URIs, libvirt test-driver node files, and the driver registry."""
from __future__ import annotations

import pytest

import drivers
from drivers import DomainState, ErrorCode, registry

NS = "xmlns:test='http://libvirt.org/schemas/domain/test/1.0'"


def write(tmp_path, text, name="node.xml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_node_file_states_and_file_references(tmp_path):
    write(tmp_path, f"<domain type='test' {NS}><name>fromfile</name><memory>65536</memory>"
          "<test:runstate>3</test:runstate></domain>", "dom.xml")
    node = write(tmp_path, f"""<node>
      <domain file='dom.xml'/>
      <domain type='test' {NS}><name>off</name><memory>65536</memory>
        <test:runstate>5</test:runstate><test:hasmanagedsave/>
        <test:domainsnapshot><domainsnapshot><name>s</name></domainsnapshot></test:domainsnapshot>
      </domain>
      <domain type='test' {NS}><name>temp</name><memory>65536</memory><test:transient/></domain>
      <network><name>ignored</name></network>
    </node>""")
    with drivers.open(f"test://{node}") as conn:
        recs = {r.name: r for r in conn.get_all_domain_stats()}
        assert recs["fromfile"].state is DomainState.PAUSED and recs["fromfile"].id is not None
        assert recs["off"].managed_save and recs["off"].snapshot_count == 1 and recs["off"].id is None
        assert not recs["temp"].persistent and recs["temp"].state is DomainState.RUNNING
        assert "test:" not in conn.lookup_by_name("off").xml_desc()


@pytest.mark.parametrize("extra,message", [
    ("<test:transient/><test:runstate>5</test:runstate>", "transient"),
    ("<test:hasmanagedsave/>", "managed save"),
    ("<test:runstate>42</test:runstate>", "runstate"),
    ("<test:runstate>soon</test:runstate>", "runstate"),
])
def test_invalid_node_combinations(tmp_path, extra, message):
    node = write(tmp_path, f"<node><domain type='test' {NS}><name>x</name><memory>1024</memory>{extra}"
                 "</domain></node>")
    with pytest.raises(drivers.DriverError) as info:
        drivers.open(f"test://{node}")
    assert info.value.code is ErrorCode.INVALID_XML and message in info.value.message


@pytest.mark.parametrize("uri,code", [
    ("test:///", ErrorCode.INVALID_ARG), ("test://", ErrorCode.INVALID_ARG),
    ("test:///no/such/file.xml", ErrorCode.INVALID_ARG), ("test:///default?rate=-1", ErrorCode.INVALID_ARG),
    ("test:///default?rate=fast", ErrorCode.INVALID_ARG), ("test:///default?colour=red", ErrorCode.INVALID_ARG),
    ("test:///default?migration=v9", ErrorCode.INVALID_ARG), ("test://somehost/default", ErrorCode.NO_SUPPORT),
    ("gopher://x", ErrorCode.NO_SUPPORT), ("", ErrorCode.INVALID_ARG), (None, ErrorCode.INVALID_ARG),
])
def test_bad_uris(uri, code):
    with pytest.raises(drivers.DriverError) as info:
        drivers.open(uri)
    assert info.value.code is code


def test_unknown_scheme_lists_what_is_supported():
    with pytest.raises(drivers.DriverError) as info:
        drivers.open("vmware://esx")
    assert "test:///default" in info.value.message and "qemu:///embed" in info.value.message


def test_connection_is_a_context_manager(node_file):
    with drivers.open(f"test://{node_file}") as conn:
        assert conn.uri.startswith("test:///") and not conn.closed
    assert conn.closed


def test_rate_parameter_sets_job_speed(node_file):
    with drivers.open(f"test://{node_file}?rate=8") as conn:
        assert conn.rate == 8 * 1024 * 1024


def test_supports_feature_answers_truthfully(node_file):
    from drivers import Feature
    with drivers.open(f"test://{node_file}") as conn:
        for feature in (Feature.MIGRATION_V3, Feature.MIGRATION_V2, Feature.JOBS, Feature.BACKUP,
                        Feature.SNAPSHOTS, Feature.MANAGED_SAVE, Feature.SAVE_RESTORE,
                        Feature.SERIAL_CONSOLE, Feature.SCREENSHOT, Feature.DISK_CREATE, Feature.RENAME):
            assert conn.supports_feature(feature)
        for feature in (Feature.REMOTE, Feature.MIGRATION_P2P, 9999):
            assert not conn.supports_feature(feature)


def test_libvirt_snapshot_form_marks_the_current_snapshot(tmp_path):
    node = write(tmp_path, f"""<node><domain type='test' {NS}><name>x</name><memory>65536</memory>
      <test:runstate>5</test:runstate>
      <test:domainsnapshot><name>old</name><state>shutoff</state><active>1</active></test:domainsnapshot>
      <test:domainsnapshot><name>new</name><state>shutoff</state><parent><name>old</name></parent>
        <active>0</active></test:domainsnapshot>
    </domain></node>""")
    with drivers.open(f"test://{node}") as conn:
        snaps = {s.name: s for s in conn.lookup_by_name("x").list_all_snapshots()}
        assert snaps["old"].is_current() and not snaps["new"].is_current()
        assert snaps["new"].parent_name() == "old"


def test_demo_node_file_reads_the_same_in_libvirts_own_test_driver(node_file):
    """The node format is libvirt's: libvirt's test driver sees the same domains and states."""
    libvirt = pytest.importorskip("libvirt")
    libvirt.registerErrorHandler(lambda *_: None, None)
    theirs = libvirt.open(f"test://{node_file}")
    try:
        expected = {d.name(): (d.state()[0], d.isPersistent() == 1, d.hasManagedSaveImage(0) == 1,
                               d.snapshotNum(0)) for d in theirs.listAllDomains()}
    finally:
        theirs.close()
    with drivers.open(f"test://{node_file}") as ours:
        got = {r.name: (int(r.state), r.persistent, r.managed_save, r.snapshot_count)
               for r in ours.get_all_domain_stats()}
    assert got == expected


def test_driver_problem_names_what_keeps_a_driver_from_opening(monkeypatch):
    assert registry.driver_problem("test") is None and registry.driver_problem("qemu") is None
    assert registry.driver_problem("xen") == "there is no driver named 'xen' (known: test, qemu, libvirt)"
    broken = registry.DriverEntry("qemu", lambda _u: False, "drivers.no_such_module", "")
    monkeypatch.setattr(registry, "DRIVERS", (broken,))
    assert registry.driver_problem("qemu") == ("drivers.no_such_module cannot be imported: "
                                               "No module named 'drivers.no_such_module'")
