"""Offline XSD validation of FA(3) documents.

The official schema imports its base types from crd.gov.pl. We never fetch them during validation:
every import is answered from a local schema directory (an OASIS catalog next to it is honoured; without
one, the crd.gov.pl ``DefinicjeTypy/`` files are looked up in ``bazowe/``). Any other URL is refused.
"""
import os
import pathlib
import threading

from lxml import etree

from .problems import Problem

MAIN_SCHEMA = 'schemat_FA(3)_v1-0E.xsd'
BASE_URL = 'http://crd.gov.pl/xml/schematy/dziedzinowe/mf/2022/01/05/eD/DefinicjeTypy/'
BASE_SCHEMAS = ('StrukturyDanych_v10-0E.xsd', 'ElementarneTypyDanych_v10-0E.xsd', 'KodyKrajow_v10-0E.xsd')
# Where the Ministry publishes them (used by whoever fills a schema directory, never by validation).
OFFICIAL_URLS = {
    MAIN_SCHEMA: 'http://crd.gov.pl/wzor/2025/06/25/13775/schemat.xsd',
    **{f'bazowe/{name}': BASE_URL + name for name in BASE_SCHEMAS},
}
ENV_VARIABLE = 'KSEF_SCHEMA_DIR'
_CATALOG_NS = '{urn:oasis:names:tc:entity:xmlns:xml:catalog}'


class SchemaNotFound(Exception):
    pass


def default_schema_dir():
    """The FA(3) schema directory: $KSEF_SCHEMA_DIR, a checkout's ../shared/ksef-spec/fa3, or the user cache."""
    candidates = []
    if os.environ.get(ENV_VARIABLE):
        candidates.append(pathlib.Path(os.environ[ENV_VARIABLE]))
    addon_root = pathlib.Path(__file__).resolve().parents[2]
    candidates.append(addon_root.parent / 'shared' / 'ksef-spec' / 'fa3')
    candidates.append(pathlib.Path(os.path.expanduser('~/.cache/l10n_pl_ksef/fa3')))
    for candidate in candidates:
        if (candidate / MAIN_SCHEMA).is_file():
            return candidate
    raise SchemaNotFound(
        f'No FA(3) schema directory found. Put {MAIN_SCHEMA} and bazowe/ ({", ".join(BASE_SCHEMAS)}) in a '
        f'directory and point {ENV_VARIABLE} at it, or pass --schema-dir. Looked in: '
        + ', '.join(str(c) for c in candidates))


def _catalog_mapping(schema_dir):
    """Read ``catalog.xml`` in the schema directory or its parent: {remote URL or prefix: local path}."""
    exact, prefixes = {}, []
    for folder in (schema_dir, schema_dir.parent):
        catalog = folder / 'catalog.xml'
        if not catalog.is_file():
            continue
        root = etree.parse(str(catalog), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
        for entry in root.iter(f'{_CATALOG_NS}uri'):
            exact[entry.get('name')] = folder / entry.get('uri')
        for entry in root.iter(f'{_CATALOG_NS}rewriteURI'):
            prefixes.append((entry.get('uriStartString'), folder / entry.get('rewritePrefix')))
        break
    return exact, prefixes


class _OfflineResolver(etree.Resolver):
    def __init__(self, schema_dir):
        super().__init__()
        self.schema_dir = schema_dir
        self.exact, self.prefixes = _catalog_mapping(schema_dir)

    def resolve(self, url, pubid, context):
        if url in self.exact:
            return self.resolve_filename(str(self.exact[url]), context)
        for prefix, target in self.prefixes:
            if url.startswith(prefix):
                return self.resolve_filename(str(target / url[len(prefix):]), context)
        if url.startswith(BASE_URL):
            return self.resolve_filename(str(self.schema_dir / 'bazowe' / url[len(BASE_URL):]), context)
        if '://' in url and not url.startswith('file://'):
            raise SchemaNotFound(f'The schema asks for {url}, which is not in {self.schema_dir}')
        return None  # a local file: let libxml2 read it


def load_schema(schema_dir=None):
    """Compile the FA(3) schema from ``schema_dir`` (see default_schema_dir) without network access."""
    schema_dir = pathlib.Path(schema_dir) if schema_dir else default_schema_dir()
    main = schema_dir / MAIN_SCHEMA
    if not main.is_file():
        raise SchemaNotFound(f'{main} does not exist')
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    parser.resolvers.add(_OfflineResolver(schema_dir))
    try:
        return etree.XMLSchema(etree.parse(str(main), parser))
    except etree.XMLSchemaParseError as exc:
        raise SchemaNotFound(f'The FA(3) schema in {schema_dir} cannot be compiled: {exc}') from None


# One compiled schema per directory for the whole process. libxml2 validation is not thread-safe on a
# shared schema object (it keeps the error log), so validations take a lock; each takes well under a
# millisecond, far less than compiling the schema again in every thread (servers start a thread per request).
_schemas = {}
_lock = threading.Lock()


def get_schema(schema_dir=None):
    key = str(pathlib.Path(schema_dir).resolve()) if schema_dir else str(default_schema_dir().resolve())
    with _lock:
        if key not in _schemas:
            _schemas[key] = load_schema(key)
        return _schemas[key]


def xsd_problems(root, schema_dir=None):
    """Validate an lxml element tree; every schema error becomes a Problem with a readable path."""
    schema = get_schema(schema_dir)
    with _lock:
        if schema.validate(root):
            return []
        entries = [(entry.path, entry.message, entry.type_name, entry.line) for entry in schema.error_log]
    tree = root.getroottree()
    return [Problem(code='xsd', path=_named_path(tree, path), message=_clean(message), params=(type_name, line))
            for path, message, type_name, line in entries]


def _named_path(tree, path):
    """Turn libxml2's ``/*/*[4]/*[2]`` into ``/Faktura/Fa/P_2``."""
    try:
        nodes = tree.xpath(path) if path else []
    except etree.XPathError:
        nodes = []
    if not nodes or not isinstance(nodes[0], etree._Element):
        return path or '/'
    parts = []
    node = nodes[0]
    while node is not None:
        name = etree.QName(node).localname
        parent = node.getparent()
        if parent is not None:
            same = [sibling for sibling in parent if sibling.tag == node.tag]
            if len(same) > 1:
                name += f'[{same.index(node) + 1}]'
        parts.append(name)
        node = parent
    return '/' + '/'.join(reversed(parts))


def _clean(message):
    # libxml2 writes every name as {namespace}Local; the namespace is always FA(3)'s and only adds noise
    return message.replace('{http://crd.gov.pl/wzor/2025/06/25/13775/}', '')


def is_complete(schema_dir):
    schema_dir = pathlib.Path(schema_dir)
    return all((schema_dir / relative).is_file() for relative in OFFICIAL_URLS)


def download_schemas(target_dir, urls=None, timeout=30, session=None):
    """Fill ``target_dir`` with the FA(3) schema files from the Ministry (``OFFICIAL_URLS``), once: files
    already there are kept. Each file is written atomically and checked to be an XML schema. Raises
    SchemaNotFound with the URL that failed."""
    import requests
    target = pathlib.Path(target_dir)
    (target / 'bazowe').mkdir(parents=True, exist_ok=True)
    session = session or requests.Session()
    for relative, url in (urls or OFFICIAL_URLS).items():
        path = target / relative
        if path.is_file():
            continue
        try:
            response = session.get(url, timeout=timeout)
            response.raise_for_status()
        except requests.RequestException as exc:
            raise SchemaNotFound(f'Cannot download {url}: {exc}') from None
        try:
            root = etree.fromstring(response.content, etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError:
            root = None
        if root is None or etree.QName(root).localname != 'schema':
            raise SchemaNotFound(f'{url} did not return an XML schema')
        partial = path.with_suffix('.part')
        partial.write_bytes(response.content)
        os.replace(partial, path)
    load_schema(target)  # proves the set compiles offline
    return target
