"""What ``xml_desc()`` returns is valid against libvirt's own domain.rng, for every file of a corpus.

Each file of ``domxml_corpus/`` is valid libvirt domain XML. On ``test:///`` and
``qemu:///embed`` (define only, never started) it is either refused with a typed
DriverError or defined, and then its XML, live and inactive, must still be valid:
whatever the drivers add or reorder has to stay libvirt's format.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

import drivers
from drivers import DriverError
from drivers.flags import DomainXMLFlags

SCHEMAS = Path("/usr/share/libvirt/schemas")
CORPUS = sorted((Path(__file__).parent / "domxml_corpus").glob("*.xml"))


@pytest.fixture(scope="module")
def domain_rng() -> etree.RelaxNG:
    if not (SCHEMAS / "domain.rng").is_file():
        pytest.skip(f"libvirt's domain.rng is not installed in {SCHEMAS} (Debian package libvirt0)")
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.RelaxNG(etree.parse(str(SCHEMAS / "domain.rng"), parser))


def problem(rng: etree.RelaxNG, xml: str) -> str:
    """Empty when ``xml`` is valid, else the schema's first complaint."""
    if rng.validate(etree.fromstring(xml.encode())):
        return ""
    return str(rng.error_log.last_error)


def test_the_schema_rejects_what_libvirt_rejects(domain_rng):
    """The check can fail: an element libvirt does not know, or a <vcpu> without its count, is invalid."""
    good = "<domain type='qemu'><name>a</name><memory>1024</memory><vcpu>2</vcpu><os><type>hvm</type></os></domain>"
    assert not problem(domain_rng, good)
    assert problem(domain_rng, good.replace("<vcpu>2</vcpu>", "<vcpu current='1'/>"))
    assert problem(domain_rng, good.replace("</os>", "</os><bogus/>"))


def test_the_corpus_is_valid_libvirt_xml(domain_rng):
    assert len(CORPUS) >= 20
    assert {path.name: problem(domain_rng, path.read_text()) for path in CORPUS} == {p.name: "" for p in CORPUS}


@pytest.mark.parametrize("uri_kind", ["test", "qemu"])
def test_defined_corpus_comes_back_valid_from_xml_desc(domain_rng, uri_kind, tmp_path):
    node = tmp_path / "empty-node.xml"
    node.write_text("<node/>")
    uri = f"test://{node}" if uri_kind == "test" else f"qemu:///embed?root={tmp_path / 'root'}"
    invalid: dict[str, str] = {}
    refused: dict[str, str] = {}
    with drivers.open(uri) as conn:
        for path in CORPUS:
            try:
                dom = conn.define_xml(path.read_text())
            except DriverError as exc:
                assert exc.message, f"{path.name}: a refusal says why"
                refused[path.name] = exc.message
                continue
            for flags in (0, DomainXMLFlags.INACTIVE):
                trouble = problem(domain_rng, dom.xml_desc(flags))
                if trouble:
                    invalid[f"{path.name} (flags {int(flags)})"] = trouble
            dom.undefine()
    assert invalid == {}
    assert refused == {}, "every file of the corpus is something the drivers accept"


def test_the_demo_hosts_domains_are_valid(domain_rng, node_file):
    with drivers.open(f"test://{node_file}") as conn:
        domains = conn.list_all_domains()
        assert len(domains) >= 5
        found = {d.name: problem(domain_rng, d.xml_desc(flags)) for d in domains
                 for flags in (0, DomainXMLFlags.INACTIVE)}
    assert found == {name: "" for name in found}
