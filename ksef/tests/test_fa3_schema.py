"""The FA(3) schema loads offline: from the catalog next to ../shared/ksef-spec/fa3, or from bazowe/."""
import shutil

import pytest

from ksef import fa3
from ksef.fa3 import samples, schema

VALID = fa3.build(samples.scenarios()['vat_23'])


def test_schema_loads_from_shared_spec_with_its_catalog(schema_dir):
    resolver = schema._OfflineResolver(schema_dir)
    assert resolver.exact, 'catalog.xml next to fa3/ is read'
    assert all(path.is_file() for path in resolver.exact.values())
    assert fa3.load_schema(schema_dir).validate(fa3.to_element(samples.scenarios()['vat_23']))


def test_schema_directory_without_catalog_uses_bazowe(schema_dir, tmp_path):
    copy = tmp_path / 'fa3'
    shutil.copytree(schema_dir, copy)
    assert not (copy / 'catalog.xml').exists() and not (tmp_path / 'catalog.xml').exists()
    assert fa3.validate(VALID, copy) == []


def test_missing_base_schema_is_a_clear_error_not_a_download(schema_dir, tmp_path):
    copy = tmp_path / 'fa3'
    shutil.copytree(schema_dir, copy)
    (copy / 'bazowe' / 'StrukturyDanych_v10-0E.xsd').unlink()
    with pytest.raises(fa3.SchemaNotFound, match='cannot be compiled'):
        fa3.load_schema(copy)


def test_unknown_remote_import_is_refused(tmp_path, schema_dir):
    copy = tmp_path / 'fa3'
    shutil.copytree(schema_dir, copy)
    main = copy / schema.MAIN_SCHEMA
    main.write_text(main.read_text(encoding='utf-8').replace(
        'http://crd.gov.pl/xml/schematy/dziedzinowe/mf/2022/01/05/eD/DefinicjeTypy/StrukturyDanych_v10-0E.xsd',
        'http://example.invalid/other.xsd'), encoding='utf-8')
    with pytest.raises(fa3.SchemaNotFound):
        fa3.load_schema(copy)


def test_no_schema_directory_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv('KSEF_SCHEMA_DIR', str(tmp_path))
    monkeypatch.setattr(schema.pathlib.Path, 'is_file', lambda self: False)
    with pytest.raises(fa3.SchemaNotFound, match='KSEF_SCHEMA_DIR'):
        schema.default_schema_dir()


def test_official_urls_cover_every_schema_file(schema_dir):
    for relative in schema.OFFICIAL_URLS:
        assert (schema_dir / relative).is_file()
    assert all(url.startswith('http://crd.gov.pl/') for url in schema.OFFICIAL_URLS.values())


def test_compiled_schema_is_shared_and_validation_is_thread_safe(schema_dir):
    import threading
    first = schema.get_schema(schema_dir)
    assert schema.get_schema(schema_dir) is first
    invoices = [fa3.build(samples.ten_line_invoice(i)) for i in range(40)]
    broken = VALID.replace(b'<KodWaluty>PLN</KodWaluty>', b'<KodWaluty>QQQ</KodWaluty>')
    batch = invoices + [broken] * 10
    expected = sorted(tuple(p.code for p in fa3.validate(data)) for data in batch)   # one thread
    assert expected.count(()) == 40
    results = []

    def work(data):
        results.append(tuple(p.code for p in fa3.validate(data)))
    threads = [threading.Thread(target=work, args=(data,)) for data in batch]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == expected


def test_download_schemas_once_from_a_server(schema_dir, tmp_path):
    """The download helper (used by the Odoo layer to cache the schemas) against a loopback server."""
    import http.server
    import threading
    served = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(schema_dir), **kwargs)

        def log_message(self, *args):
            served.append(self.path)

    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f'http://127.0.0.1:{server.server_address[1]}/'
        urls = {relative: base + relative.replace('(', '%28').replace(')', '%29') for relative in schema.OFFICIAL_URLS}
        target = tmp_path / 'cache'
        schema.download_schemas(target, urls=urls, timeout=5)
        assert schema.is_complete(target)
        assert fa3.validate(VALID, target) == []
        count = len(served)
        schema.download_schemas(target, urls=urls, timeout=5)
        assert len(served) == count, 'files already cached are not downloaded again'
        with pytest.raises(fa3.SchemaNotFound, match='Cannot download'):
            schema.download_schemas(tmp_path / 'other', urls={schema.MAIN_SCHEMA: base + 'missing.xsd'}, timeout=5)
    finally:
        server.shutdown()


def test_eu_country_list_matches_the_schema(schema_dir):
    from lxml import etree
    tree = etree.parse(str(schema_dir / 'bazowe' / 'KodyKrajow_v10-0E.xsd'))
    xs = '{http://www.w3.org/2001/XMLSchema}'
    node = [t for t in tree.iter(f'{xs}simpleType') if t.get('name') == 'TKodyKrajowUE']
    if not node:   # TKodyKrajowUE lives in the main schema
        tree = etree.parse(str(schema_dir / schema.MAIN_SCHEMA))
        node = [t for t in tree.iter(f'{xs}simpleType') if t.get('name') == 'TKodyKrajowUE']
    codes = [e.get('value') for e in node[0].iter(f'{xs}enumeration')]
    assert tuple(codes) == fa3.EU_COUNTRIES
