// Tiny ONNX models built in memory, so that no model file is checked in and no converter is needed: a
// ModelProto is written directly in protobuf's wire format. The benchmark's ONNX Runtime Web peer (a
// one-node BatchNormalization model, bench/peer-ort.ts) and the interoperability tests use it.
//
// Only what a graph of float32 tensors, float32 initializers and float attributes needs is encoded. Field
// numbers come from onnx/onnx.proto3:
//   ModelProto          ir_version = 1 (int64), producer_name = 2, graph = 7, opset_import = 8
//   OperatorSetIdProto  domain = 1, version = 2 (int64)
//   GraphProto          node = 1, name = 2, initializer = 5, input = 11, output = 12
//   NodeProto           input = 1, output = 2, name = 3, op_type = 4, attribute = 5
//   AttributeProto      name = 1, f = 2 (float), type = 20 (AttributeType, FLOAT = 1)
//   TensorProto         dims = 1 (int64), data_type = 2 (FLOAT = 1), name = 8, raw_data = 9 (little-endian)
//   ValueInfoProto      name = 1, type = 2
//   TypeProto           tensor_type = 1
//   TypeProto.Tensor    elem_type = 1 (TensorProto.DataType, FLOAT = 1), shape = 2
//   TensorShapeProto    dim = 1
//   Dimension           dim_value = 1 (int64), dim_param = 2 (a symbolic dimension's name)

/** A graph input or output: a float32 tensor with fixed (number) or symbolic (string) dimensions. */
export interface OnnxValue {
  readonly name: string;
  readonly dims: readonly (number | string)[];
}

/** One operator of the graph, with optional float attributes (BatchNormalization's epsilon, ...). */
export interface OnnxNode {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly floatAttributes?: Readonly<Record<string, number>>;
}

/** A constant float32 tensor of the graph (weights), stored in the model. */
export interface OnnxInitializer {
  readonly name: string;
  readonly dims: readonly number[];
  readonly values: Float32Array;
}

export interface OnnxGraph {
  readonly nodes: readonly OnnxNode[];
  readonly inputs: readonly OnnxValue[];
  readonly outputs: readonly OnnxValue[];
  readonly initializers?: readonly OnnxInitializer[];
  /** Version of the default operator set (default 13). */
  readonly opset?: number;
}

const IR_VERSION = 8; // ONNX 1.10+, what opset 13 to 15 models carry
const FLOAT = 1;
const ATTRIBUTE_FLOAT = 1;
const WIRE_VARINT = 0;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

/** Protobuf's base-128 varint of a non-negative integer (up to 2^53: int64 fields here are small). */
function varint(value: number): number[] {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`cannot encode ${value} as a varint`);
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return bytes;
}

/** A varint field (int32, int64, enum). */
function intField(field: number, value: number): number[] {
  return [...varint(field * 8 + WIRE_VARINT), ...varint(value)];
}

/** A fixed32 field holding a float32. */
function floatField(field: number, value: number): number[] {
  return [...varint(field * 8 + WIRE_FIXED32), ...new Uint8Array(new Float32Array([value]).buffer)];
}

/** A length-delimited field: an embedded message's bytes. */
function messageField(field: number, body: readonly number[] | Uint8Array): number[] {
  return [...varint(field * 8 + WIRE_LENGTH_DELIMITED), ...varint(body.length), ...body];
}

/** A length-delimited field: a UTF-8 string. */
function stringField(field: number, text: string): number[] {
  return messageField(field, [...new TextEncoder().encode(text)]);
}

function valueInfo({ name, dims }: OnnxValue): number[] {
  const shape = dims.flatMap((d) => messageField(1, typeof d === 'number' ? intField(1, d) : stringField(2, d)));
  const tensorType = [...intField(1, FLOAT), ...messageField(2, shape)];
  return [...stringField(1, name), ...messageField(2, messageField(1, tensorType))];
}

function node({ op, inputs, outputs, floatAttributes = {} }: OnnxNode, index: number): number[] {
  const attributes = Object.entries(floatAttributes).flatMap(([name, value]) =>
    messageField(5, [...stringField(1, name), ...floatField(2, value), ...intField(20, ATTRIBUTE_FLOAT)]),
  );
  return [
    ...inputs.flatMap((name) => stringField(1, name)),
    ...outputs.flatMap((name) => stringField(2, name)),
    ...stringField(3, `${op.toLowerCase()}_${index}`),
    ...stringField(4, op),
    ...attributes,
  ];
}

function initializer({ name, dims, values }: OnnxInitializer): number[] {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== values.length) throw new RangeError(`initializer ${name}: dims [${dims.join(',')}] hold ${count} values, got ${values.length}`);
  // raw_data is little-endian float32, which is what a Float32Array holds on every platform WebGPU runs on.
  const raw = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  return [...dims.flatMap((d) => intField(1, d)), ...intField(2, FLOAT), ...stringField(8, name), ...messageField(9, raw)];
}

/** The serialized ModelProto (what `InferenceSession.create` takes as bytes). */
export function onnxModel(graph: OnnxGraph): Uint8Array {
  const body = [
    ...graph.nodes.flatMap((n, i) => messageField(1, node(n, i))),
    ...stringField(2, 'webgpu_batchnorm_graph'),
    ...(graph.initializers ?? []).flatMap((t) => messageField(5, initializer(t))),
    ...graph.inputs.flatMap((v) => messageField(11, valueInfo(v))),
    ...graph.outputs.flatMap((v) => messageField(12, valueInfo(v))),
  ];
  const opset = [...stringField(1, ''), ...intField(2, graph.opset ?? 13)]; // '' is the default domain
  return new Uint8Array([...intField(1, IR_VERSION), ...stringField(2, 'webgpu-batchnorm'), ...messageField(7, body), ...messageField(8, opset)]);
}
