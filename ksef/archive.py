"""Batch and export archives (ZIP or tar.gz): writing them, and reading untrusted ones safely (bounded sizes
and counts, no paths outside the archive, no links). Every breach is a ValueError with a readable reason."""
import io
import posixpath
import tarfile
import zipfile

MAX_FILES = 10_000                    # invoices per session
MAX_FILE_SIZE = 3_000_000             # an invoice with attachment
MAX_TOTAL = 10_000 * 3_000_000        # never more than the session could legally hold


def _checked_name(name):
    normal = posixpath.normpath(name)
    if name.startswith('/') or normal.startswith('..') or '\\' in name or not normal.lower().endswith('.xml'):
        raise ValueError(f'unsafe or unexpected file name in the archive: {name[:100]!r}')
    return normal


def read_invoices(data: bytes, compression: str):
    """[(file name, XML bytes)] of the archive."""
    if compression == 'TarGz':
        return list(_read_tar(data))
    return list(_read_zip(data))


def _read_zip(data):
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ValueError(f'not a ZIP archive: {exc}') from None
    entries = [info for info in archive.infolist() if not info.is_dir()]
    if len(entries) > MAX_FILES:
        raise ValueError(f'more than {MAX_FILES} files in the archive')
    total = 0
    for info in entries:
        name = _checked_name(info.filename)
        if info.file_size > MAX_FILE_SIZE:
            raise ValueError(f'{name} is larger than {MAX_FILE_SIZE} bytes')
        with archive.open(info) as handle:
            content = handle.read(MAX_FILE_SIZE + 1)   # declared sizes can lie: read at most one byte more
        if len(content) > MAX_FILE_SIZE:
            raise ValueError(f'{name} is larger than {MAX_FILE_SIZE} bytes')
        total += len(content)
        if total > MAX_TOTAL:
            raise ValueError('the archive unpacks to more than allowed')
        yield name, content


def _read_tar(data):
    try:
        archive = tarfile.open(fileobj=io.BytesIO(data), mode='r:gz')
        members = archive.getmembers()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ValueError(f'not a tar.gz archive: {exc}') from None
    files = [m for m in members if not m.isdir()]
    if len(files) > MAX_FILES:
        raise ValueError(f'more than {MAX_FILES} files in the archive')
    for member in files:
        name = _checked_name(member.name)
        if not member.isfile():
            raise ValueError(f'{name} is a link or device, not a file')
        if member.size > MAX_FILE_SIZE:
            raise ValueError(f'{name} is larger than {MAX_FILE_SIZE} bytes')
        yield name, archive.extractfile(member).read()


def write_archive(files, compression='Zip', target=None):
    """[(name, bytes)] (any iterable) -> a ZIP or tar.gz written into ``target`` (a binary file), or returned
    as bytes when no target is given."""
    buffer = target if target is not None else io.BytesIO()
    if compression == 'TarGz':
        with tarfile.open(fileobj=buffer, mode='w:gz') as archive:
            for name, data in files:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    else:
        with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_DEFLATED) as archive:
            for name, data in files:
                archive.writestr(name, data)
    return None if target is not None else buffer.getvalue()
