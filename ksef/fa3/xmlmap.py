"""A small declarative mapping between dataclasses and XML elements.

Every FA(3) dataclass lists its XML children in schema order as a tuple of specs (``XML``). The same
specs drive the builder (dataclass -> lxml tree) and the parser (lxml tree -> dataclass), so element
order and names live in exactly one place, and ``parse(build(x)) == x`` holds by construction.

Spec kinds:
- ``Field``: a simple element bound to an attribute (optionally repeated -> list).
- ``Child``: a complex element bound to an attribute holding another dataclass (optionally repeated).
- ``Group``: a wrapper element whose children map onto attributes of the *same* dataclass
  (keeps the Python model flat where the XSD only adds nesting, e.g. ``DaneIdentyfikacyjne``).
- ``Marker``: a constant ``1`` element derived from other attributes (e.g. ``P_19`` when an exemption
  basis is given); ignored when parsing because the attributes it derives from are parsed themselves.
- ``Flag``: a ``1`` element that stands for one value of an attribute (e.g. ``P_PMarzy_2`` for the
  travel-agency margin scheme); parsing sets the attribute back to that value.
- ``Const``: a fixed element (e.g. ``KodFormularza``); parsing checks the value and attributes.
- ``Attr``: an XML attribute of the element itself.
"""
import dataclasses
import datetime
import re
from decimal import Decimal, InvalidOperation

from lxml import etree


class StructureError(Exception):
    """The XML does not have the FA(3) structure: ``problems`` lists what is wrong and where."""

    def __init__(self, problems):
        self.problems = problems
        super().__init__('; '.join(f'{p.path}: {p.message}' for p in problems[:5]))


# --- value converters ------------------------------------------------------------------------------

class Conv:
    """Converts one simple value between Python and XML text."""

    def to_text(self, value):
        return str(value)

    def from_text(self, text):
        return text


class _Text(Conv):
    def to_text(self, value):
        if not isinstance(value, str):
            raise TypeError(f'expected a string, got {type(value).__name__}')
        return value


_XSD_DECIMAL = re.compile(r'[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)\Z')
_DIGITS = frozenset("0123456789")
MAX_DIGITS = 30   # FA(3): at most 22 (quantities), 18 (amounts)


class _Dec(Conv):
    def to_text(self, value):
        if isinstance(value, (int, str)):
            value = Decimal(value)
        if not isinstance(value, Decimal):
            # floats are refused: they cannot carry exact amounts
            raise TypeError(f'expected a Decimal, got {type(value).__name__}')
        if not value.is_finite():
            raise ValueError(f'not a finite number: {value}')
        return format(value, 'f')

    def from_text(self, text):
        text = text.strip()
        # xsd:decimal's own form (no exponent, no NaN) and no more digits than any FA(3) number has: arithmetic
        # on what a received file says then never overflows
        if not _XSD_DECIMAL.match(text):
            raise ValueError(f'not a decimal number: {text[:40]!r}')
        if sum(character in _DIGITS for character in text) > MAX_DIGITS:
            raise ValueError(f'a number of more than {MAX_DIGITS} digits: {text[:40]!r}...')
        try:
            return Decimal(text)
        except InvalidOperation:
            raise ValueError(f'not a decimal number: {text[:40]!r}') from None


class _Int(Conv):
    def to_text(self, value):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f'expected an integer, got {type(value).__name__}')
        return str(value)

    def from_text(self, text):
        try:
            return int(text.strip())
        except ValueError:
            raise ValueError(f'not an integer: {text!r}') from None


class _Date(Conv):
    def to_text(self, value):
        if isinstance(value, datetime.datetime) or not isinstance(value, datetime.date):
            raise TypeError(f'expected a date, got {type(value).__name__}')
        return value.isoformat()

    def from_text(self, text):
        try:
            return datetime.date.fromisoformat(text.strip())
        except ValueError:
            raise ValueError(f'not a date (YYYY-MM-DD): {text!r}') from None


class _DateTime(Conv):
    def to_text(self, value):
        if not isinstance(value, datetime.datetime):
            raise TypeError(f'expected a datetime, got {type(value).__name__}')
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc)
            text = value.replace(tzinfo=None).isoformat()
            return text + 'Z'
        return value.isoformat()

    def from_text(self, text):
        text = text.strip()
        try:
            value = datetime.datetime.fromisoformat(text.replace('Z', '+00:00') if text.endswith('Z') else text)
        except ValueError:
            raise ValueError(f'not a date and time: {text!r}') from None
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc)
        return value


class _Bool12(Conv):
    """XSD ``TWybor1_2`` and the JST/GV flags: 1 = yes, 2 = no."""

    def to_text(self, value):
        if not isinstance(value, bool):
            raise TypeError(f'expected True or False, got {type(value).__name__}')
        return '1' if value else '2'

    def from_text(self, text):
        text = text.strip()
        if text not in ('1', '2'):
            raise ValueError(f'expected 1 (yes) or 2 (no), got {text!r}')
        return text == '1'


class _Bool1(Conv):
    """XSD ``TWybor1``: the element is present with ``1`` for yes, absent for no."""

    def to_text(self, value):
        if not isinstance(value, bool):
            raise TypeError(f'expected True or False, got {type(value).__name__}')
        return '1'

    def from_text(self, text):
        if text.strip() != '1':
            raise ValueError(f'expected 1, got {text!r}')
        return True


TEXT, DEC, INT, DATE, DATETIME, BOOL12, BOOL1 = _Text(), _Dec(), _Int(), _Date(), _DateTime(), _Bool12(), _Bool1()


# --- specs -----------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Field:
    tag: str
    attr: str
    conv: Conv = TEXT
    required: bool = False
    repeated: bool = False


@dataclasses.dataclass(frozen=True)
class Child:
    tag: str
    attr: str
    cls: type
    required: bool = False
    repeated: bool = False
    specs: tuple = None  # overrides cls.XML where one dataclass serves elements of different names


@dataclasses.dataclass(frozen=True)
class Group:
    tag: str
    specs: tuple
    required: bool = False


@dataclasses.dataclass(frozen=True)
class Marker:
    tag: str
    when: object  # callable(obj) -> bool


@dataclasses.dataclass(frozen=True)
class Flag:
    tag: str
    attr: str
    value: object


@dataclasses.dataclass(frozen=True)
class Const:
    tag: str
    text: str
    attrib: tuple = ()


@dataclasses.dataclass(frozen=True)
class Inline:
    """A nested dataclass whose elements stand directly in the parent element (no wrapper)."""
    attr: str
    cls: type


@dataclasses.dataclass(frozen=True)
class Attr:
    name: str
    attr: str
    required: bool = True


def _is_empty(value):
    return value is None or value is False or (isinstance(value, list) and not value)


# --- building --------------------------------------------------------------------------------------

def build_element(obj, tag, ns, specs=None, parent=None):
    """Render ``obj`` as the element ``tag`` (local name) in namespace ``ns`` (the default namespace)."""
    if parent is None:
        element = etree.Element(f'{{{ns}}}{tag}', nsmap={None: ns})
    else:
        element = etree.SubElement(parent, f'{{{ns}}}{tag}')
    _fill(element, obj, specs if specs is not None else type(obj).XML, ns)
    return element


def _fill(element, obj, specs, ns):
    for spec in specs:
        if isinstance(spec, Attr):
            value = getattr(obj, spec.attr)
            if value is not None:
                element.set(spec.name, value)
        elif isinstance(spec, Field):
            value = getattr(obj, spec.attr)
            for item in (value if spec.repeated else [value]):
                if _is_empty(item) if spec.conv is BOOL1 else item is None:
                    continue
                sub = etree.SubElement(element, f'{{{ns}}}{spec.tag}')
                sub.text = _to_text(spec, item, obj)
        elif isinstance(spec, Child):
            value = getattr(obj, spec.attr)
            for item in (value if spec.repeated else [value]):
                if item is not None:
                    build_element(item, spec.tag, ns, spec.specs, parent=element)
        elif isinstance(spec, Group):
            if spec.required or _group_has_content(obj, spec.specs):
                sub = etree.SubElement(element, f'{{{ns}}}{spec.tag}')
                _fill(sub, obj, spec.specs, ns)
        elif isinstance(spec, Marker):
            if spec.when(obj):
                etree.SubElement(element, f'{{{ns}}}{spec.tag}').text = '1'
        elif isinstance(spec, Flag):
            if getattr(obj, spec.attr) == spec.value:
                etree.SubElement(element, f'{{{ns}}}{spec.tag}').text = '1'
        elif isinstance(spec, Const):
            sub = etree.SubElement(element, f'{{{ns}}}{spec.tag}', dict(spec.attrib))
            sub.text = spec.text
        elif isinstance(spec, Inline):
            _fill(element, getattr(obj, spec.attr), spec.cls.XML, ns)


def _to_text(spec, value, obj):
    try:
        return spec.conv.to_text(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f'{type(obj).__name__}.{spec.attr} ({spec.tag}): {exc}') from None


def _group_has_content(obj, specs):
    for spec in specs:
        if isinstance(spec, (Field, Child, Attr)) and not _is_empty(getattr(obj, spec.attr)):
            return True
        if isinstance(spec, Group) and _group_has_content(obj, spec.specs):
            return True
        if isinstance(spec, Flag) and getattr(obj, spec.attr) == spec.value:
            return True
    return False


# --- parsing ---------------------------------------------------------------------------------------

class _Problems(list):
    def add(self, path, code, message):
        from .problems import Problem  # local import: problems imports nothing from here
        self.append(Problem(code=code, path=path, message=message))


def parse_element(element, cls, ns, path, specs=None):
    """Parse ``element`` into a new ``cls``; raise StructureError listing every structural problem."""
    problems = _Problems()
    obj = _parse(element, cls, ns, path, specs, problems)
    if problems:
        raise StructureError(problems)
    return obj


def _parse(element, cls, ns, path, specs, problems):
    values = {}
    _read(element, specs if specs is not None else cls.XML, ns, path, values, problems)
    try:
        return cls(**values)
    except TypeError as exc:  # a required attribute without its element: already reported
        if not problems:
            problems.add(path, 'structure.missing', str(exc))
        return None


def _expand(specs, values):
    """Flatten Inline specs into (spec, target values dict) pairs in document order."""
    expanded = []
    for spec in specs:
        if isinstance(spec, Inline):
            values[spec.attr] = {}
            expanded.extend((inner, values[spec.attr]) for inner in spec.cls.XML)
        elif not isinstance(spec, Attr):
            expanded.append((spec, values))
    return expanded


XSI = '{http://www.w3.org/2001/XMLSchema-instance}'


def _read(element, specs, ns, path, values, problems):
    allowed = set()
    for spec in specs:
        if isinstance(spec, Attr):
            allowed.add(spec.name)
            value = element.get(spec.name)
            if value is None and spec.required:
                problems.add(path, 'structure.missing', f'attribute {spec.name} is required')
            values[spec.attr] = value
    for name in element.attrib:
        if name not in allowed and not name.startswith(XSI):  # xsi:schemaLocation is common and harmless
            problems.add(f'{path}/@{name[:64]}', 'structure.unexpected', f'attribute {name[:64]} is not allowed here')
    expanded = _expand(specs, values)
    for spec, target in expanded:
        if isinstance(spec, (Field, Child)) and spec.repeated:
            target[spec.attr] = []
        elif isinstance(spec, Group):
            _defaults_of_group(spec.specs, target)
    table = {spec.tag: (position, spec, target) for position, (spec, target) in enumerate(expanded)}
    last_position = -1
    seen = set()
    counters = {}
    for child in element:
        if not isinstance(child.tag, str):
            continue  # comments and processing instructions carry no data
        qname = etree.QName(child)
        name = qname.localname
        counters[name] = counters.get(name, 0) + 1
        entry = table.get(name) if qname.namespace == ns else None
        child_path = f'{path}/{name}'
        if counters[name] > 1 or (entry and _is_repeated(entry[1])):
            child_path += f'[{counters[name]}]'
        if entry is None:
            problems.add(child_path, 'structure.unexpected', f'element {name} is not allowed here')
            continue
        position, spec, target = entry
        if position < last_position or (position == last_position and not _is_repeated(spec)):
            problems.add(child_path, 'structure.order', f'element {name} is out of order or repeated')
            continue
        last_position = position
        seen.add(name)
        _read_one(child, spec, ns, child_path, target, problems)
    for spec, _target in expanded:
        if isinstance(spec, (Field, Child, Group, Const)) and getattr(spec, 'required', True) and spec.tag not in seen:
            problems.add(f'{path}/{spec.tag}', 'structure.missing', f'element {spec.tag} is required')
    for spec in specs:
        if isinstance(spec, Inline):
            values[spec.attr] = spec.cls(**values[spec.attr])


def _is_repeated(spec):
    return getattr(spec, 'repeated', False)


def _defaults_of_group(specs, values):
    for spec in specs:
        if isinstance(spec, (Field, Child)) and spec.repeated:
            values[spec.attr] = []
        elif isinstance(spec, Group):
            _defaults_of_group(spec.specs, values)


def _read_one(child, spec, ns, path, values, problems):
    if isinstance(spec, Field):
        if len(child):
            problems.add(path, 'structure.unexpected', f'element {spec.tag} must not have child elements')
            return
        try:
            value = spec.conv.from_text(child.text or '')
        except ValueError as exc:
            problems.add(path, 'structure.value', str(exc))
            return
        if spec.repeated:
            values[spec.attr].append(value)
        else:
            values[spec.attr] = value
    elif isinstance(spec, Child):
        value = _parse(child, spec.cls, ns, path, spec.specs, problems)
        if spec.repeated:
            values[spec.attr].append(value)
        else:
            values[spec.attr] = value
    elif isinstance(spec, Group):
        _read(child, spec.specs, ns, path, values, problems)
    elif isinstance(spec, (Marker, Flag)):
        if (child.text or '').strip() != '1':
            problems.add(path, 'structure.value', f'element {spec.tag} must be 1')
        elif isinstance(spec, Flag):
            values[spec.attr] = spec.value
    elif isinstance(spec, Const):
        if (child.text or '').strip() != spec.text or dict(child.attrib) != dict(spec.attrib):
            expected = ' '.join(f'{k}="{v}"' for k, v in spec.attrib)
            problems.add(path, 'structure.form-code', f'expected <{spec.tag} {expected}>{spec.text}</{spec.tag}>')
