"""The protobuf messages of the AutoDL format, as message classes built at run time from descriptors (no protoc,
no generated `_pb2` module, no TensorFlow), so they work on whatever protobuf the machine has, from 3.20 (the
oldest TensorFlow 2.16 accepts) on.

* `DataSpecification` / `MatrixSpec`: the schema of `metadata.textproto` (the kit's `data.proto`, package
  `autodl`, proto2; protocol section 2.3), with its defaults: `sequence_size` 1, `num_channels` -1, `format` DENSE.
* `SequenceExample` / `Example`: the record schema of the TFRecord files (protocol section 2.2). Only the wire
  format matters for parsing, so these are declared here from their field numbers, in a package of our own and a
  pool of our own (TensorFlow registers its own `tensorflow.*` messages in the default pool).
"""
from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto
_OPTIONAL, _REPEATED = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED


def _field(name: str, number: int, kind: int, label: int = _OPTIONAL, type_name: str = "",
           default: str = "", packed: bool = False) -> _F:
    field = _F(name=name, number=number, type=kind, label=label)
    if type_name:
        field.type_name = type_name
    if default:
        field.default_value = default
    if packed:
        field.options.packed = True
    return field


def _map_entry(owner: descriptor_pb2.DescriptorProto, field_name: str, number: int, value: _F, package: str) -> None:
    """A proto `map<string, V> field_name = number;`: a nested `<Name>Entry` message flagged map_entry."""
    entry_name = "".join(part.capitalize() for part in field_name.split("_")) + "Entry"
    entry = owner.nested_type.add(name=entry_name)
    entry.options.map_entry = True
    entry.field.extend([_field("key", 1, _F.TYPE_STRING), value])
    owner.field.append(_field(field_name, number, _F.TYPE_MESSAGE, _REPEATED,
                              f".{package}.{owner.name}.{entry_name}"))


def _data_file() -> descriptor_pb2.FileDescriptorProto:
    # The kit's data.proto, DataSpecification and MatrixSpec only (the other messages describe no file we read).
    package = "autodl"
    proto = descriptor_pb2.FileDescriptorProto(name="autodl/data.proto", package=package, syntax="proto2")
    matrix = proto.message_type.add(name="MatrixSpec")
    matrix.enum_type.add(name="Format").value.extend([
        descriptor_pb2.EnumValueDescriptorProto(name=name, number=number)
        for number, name in enumerate(("DENSE", "SPARSE", "COMPRESSED"))])
    matrix.field.extend([
        _field("col_count", 1, _F.TYPE_INT32),
        _field("row_count", 2, _F.TYPE_INT32),
        _field("is_sequence_col", 3, _F.TYPE_BOOL),
        _field("is_sequence_row", 4, _F.TYPE_BOOL),
        _field("has_locality_col", 5, _F.TYPE_BOOL),
        _field("has_locality_row", 6, _F.TYPE_BOOL),
        _field("is_sparse", 7, _F.TYPE_BOOL),
        _field("format", 8, _F.TYPE_ENUM, type_name=".autodl.MatrixSpec.Format", default="DENSE"),
        _field("num_channels", 9, _F.TYPE_INT32, default="-1"),
    ])
    spec = proto.message_type.add(name="DataSpecification")
    spec.field.extend([
        _field("matrix_spec", 1, _F.TYPE_MESSAGE, _REPEATED, ".autodl.MatrixSpec"),
        _field("is_sequence", 2, _F.TYPE_BOOL),
        _field("output_dim", 3, _F.TYPE_INT32),
    ])
    _map_entry(spec, "label_to_index_map", 4, _field("value", 2, _F.TYPE_INT32), package)
    _map_entry(spec, "feature_to_index_map", 5, _field("value", 2, _F.TYPE_INT32), package)
    spec.field.extend([
        _field("sequence_size", 6, _F.TYPE_INT32, default="1"),
        _field("sample_count", 7, _F.TYPE_INT32),
    ])
    # The text-domain vocabulary (protocol 1.2); text format goes by names, so its number only has to be free.
    _map_entry(spec, "channel_to_index_map", 8, _field("value", 2, _F.TYPE_INT32), package)
    return proto


def _example_file() -> descriptor_pb2.FileDescriptorProto:
    # tf.train.Example / SequenceExample wire format: Feature is a oneof of three lists (1 bytes, 2 float, 3 int64).
    package = "autodl_records"
    proto = descriptor_pb2.FileDescriptorProto(name="autodl_records/example.proto", package=package,
                                               syntax="proto3")
    for name, kind in (("BytesList", _F.TYPE_BYTES), ("FloatList", _F.TYPE_FLOAT), ("Int64List", _F.TYPE_INT64)):
        proto.message_type.add(name=name).field.append(_field("value", 1, kind, _REPEATED,
                                                              packed=kind != _F.TYPE_BYTES))
    feature = proto.message_type.add(name="Feature")
    feature.oneof_decl.add(name="kind")
    for number, (name, type_name) in enumerate((("bytes_list", "BytesList"), ("float_list", "FloatList"),
                                                ("int64_list", "Int64List")), start=1):
        field = _field(name, number, _F.TYPE_MESSAGE, type_name=f".{package}.{type_name}")
        field.oneof_index = 0
        feature.field.append(field)
    features = proto.message_type.add(name="Features")
    _map_entry(features, "feature", 1, _field("value", 2, _F.TYPE_MESSAGE, type_name=f".{package}.Feature"),
               package)
    feature_list = proto.message_type.add(name="FeatureList")
    feature_list.field.append(_field("feature", 1, _F.TYPE_MESSAGE, _REPEATED, f".{package}.Feature"))
    feature_lists = proto.message_type.add(name="FeatureLists")
    _map_entry(feature_lists, "feature_list", 1,
               _field("value", 2, _F.TYPE_MESSAGE, type_name=f".{package}.FeatureList"), package)
    example = proto.message_type.add(name="Example")
    example.field.append(_field("features", 1, _F.TYPE_MESSAGE, type_name=f".{package}.Features"))
    sequence = proto.message_type.add(name="SequenceExample")
    sequence.field.extend([_field("context", 1, _F.TYPE_MESSAGE, type_name=f".{package}.Features"),
                           _field("feature_lists", 2, _F.TYPE_MESSAGE, type_name=f".{package}.FeatureLists")])
    return proto


_POOL = descriptor_pool.DescriptorPool()
_POOL.Add(_data_file())
_POOL.Add(_example_file())


def _message_class(full_name: str) -> type:
    descriptor = _POOL.FindMessageTypeByName(full_name)
    if hasattr(message_factory, "GetMessageClass"):  # protobuf >= 4.21; GetPrototype is gone from 5.x
        return message_factory.GetMessageClass(descriptor)
    return message_factory.MessageFactory(_POOL).GetPrototype(descriptor)


DataSpecification = _message_class("autodl.DataSpecification")
MatrixSpec = _message_class("autodl.MatrixSpec")
SequenceExample = _message_class("autodl_records.SequenceExample")
Example = _message_class("autodl_records.Example")

__all__ = ["DataSpecification", "MatrixSpec", "SequenceExample", "Example"]
