using System.Globalization;
using EdgeGuard.ModelFiles;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EdgeGuard.Onnx;

/// <summary>
/// The inputs and output of a sequence classifier as EdgeGuard feeds it: int64 <c>input_ids</c> and <c>attention_mask</c>
/// (and <c>token_type_ids</c> when the graph has it), each <c>[batch, sequence]</c>, and float32 <c>logits</c>
/// <c>[batch, labels]</c>. Read from the session's metadata; anything else is refused with what was expected and what
/// the file has.
/// </summary>
internal sealed class OnnxGraphSignature
{
    public const string InputIds = "input_ids", AttentionMask = "attention_mask", TokenTypeIds = "token_type_ids", Logits = "logits";

    private OnnxGraphSignature(bool hasTokenTypes, int? fixedLabels)
    {
        HasTokenTypeIds = hasTokenTypes;
        FixedLabels = fixedLabels;
    }

    /// <summary>Whether the graph takes <c>token_type_ids</c> (BERT family) or not (DeBERTa-v3, DistilBERT).</summary>
    public bool HasTokenTypeIds { get; }

    /// <summary>The logits' last dimension when the graph fixes it.</summary>
    public int? FixedLabels { get; }

    /// <summary>Checks <paramref name="inputs"/> and <paramref name="outputs"/> of the model at <paramref name="path"/>.</summary>
    /// <exception cref="ModelFileException">A missing, extra, misnamed, mistyped or misshapen input or output.</exception>
    public static OnnxGraphSignature Validate(IReadOnlyDictionary<string, NodeMetadata> inputs, IReadOnlyDictionary<string, NodeMetadata> outputs, string path)
    {
        string expected = $"expected int64 inputs {InputIds} and {AttentionMask} [batch, sequence] (and optionally {TokenTypeIds}) and a float32 output {Logits} [batch, labels]";
        foreach (var name in inputs.Keys)
        {
            if (name is not (InputIds or AttentionMask or TokenTypeIds))
            {
                throw new ModelFileException($"{path}: the model has an input '{name}' EdgeGuard cannot feed; {expected}; the file has inputs {Describe(inputs)}.");
            }
        }

        foreach (var name in new[] { InputIds, AttentionMask })
        {
            if (!inputs.ContainsKey(name))
            {
                throw new ModelFileException($"{path}: the model has no input '{name}'; {expected}; the file has inputs {Describe(inputs)}.");
            }
        }

        foreach (var (name, meta) in inputs)
        {
            CheckTensor(name, meta, TensorElementType.Int64, path, expected, isInput: true);
        }

        if (!outputs.TryGetValue(Logits, out var logits))
        {
            throw new ModelFileException($"{path}: the model has no output '{Logits}'; {expected}; the file has outputs {Describe(outputs)}.");
        }

        CheckTensor(Logits, logits, TensorElementType.Float, path, expected, isInput: false);
        int labels = logits.Dimensions[1];
        return new OnnxGraphSignature(inputs.ContainsKey(TokenTypeIds), labels > 0 ? labels : null);
    }

    private static void CheckTensor(string name, NodeMetadata meta, TensorElementType elementType, string path, string expected, bool isInput)
    {
        string kind = isInput ? "input" : "output";
        if (meta.OnnxValueType != OnnxValueType.ONNX_TYPE_TENSOR)
        {
            throw new ModelFileException($"{path}: {kind} '{name}' is a {meta.OnnxValueType}, not a tensor; {expected}.");
        }

        if (meta.ElementDataType != elementType)
        {
            throw new ModelFileException($"{path}: {kind} '{name}' has element type {ElementName(meta.ElementDataType)}; {expected}.");
        }

        if (meta.Dimensions.Length != 2)
        {
            throw new ModelFileException($"{path}: {kind} '{name}' has shape {Shape(meta)} (rank {meta.Dimensions.Length}); {expected}.");
        }

        // Windows are batched and vary in length: a fixed batch or sequence axis cannot take them.
        bool fixedAxis = isInput ? meta.Dimensions[0] > 0 || meta.Dimensions[1] > 0 : meta.Dimensions[0] > 0;
        if (fixedAxis)
        {
            throw new ModelFileException(
                $"{path}: {kind} '{name}' has the fixed shape {Shape(meta)}; EdgeGuard needs dynamic batch{(isInput ? " and sequence axes" : " axis")} (export with dynamic_axes).");
        }
    }

    private static string Describe(IReadOnlyDictionary<string, NodeMetadata> nodes) =>
        nodes.Count == 0 ? "(none)" : string.Join(", ", nodes.Select(n => $"{n.Key} ({Describe(n.Value)})"));

    private static string Describe(NodeMetadata meta) =>
        meta.OnnxValueType == OnnxValueType.ONNX_TYPE_TENSOR ? $"{ElementName(meta.ElementDataType)} {Shape(meta)}" : meta.OnnxValueType.ToString();

    private static string Shape(NodeMetadata meta) =>
        "[" + string.Join(", ", meta.Dimensions.Select((d, i) =>
            d > 0 ? d.ToString(CultureInfo.InvariantCulture) : meta.SymbolicDimensions.Length > i && meta.SymbolicDimensions[i].Length > 0 ? meta.SymbolicDimensions[i] : "?")) + "]";

    private static string ElementName(TensorElementType type) => type switch
    {
        TensorElementType.Float => "float32",
        TensorElementType.Double => "float64",
        TensorElementType.Float16 => "float16",
        TensorElementType.BFloat16 => "bfloat16",
        TensorElementType.Int64 => "int64",
        TensorElementType.Int32 => "int32",
        TensorElementType.Int16 => "int16",
        TensorElementType.Int8 => "int8",
        TensorElementType.UInt8 => "uint8",
        TensorElementType.Bool => "bool",
        TensorElementType.String => "string",
        _ => type.ToString().ToLowerInvariant(),
    };
}
