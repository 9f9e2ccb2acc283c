namespace EdgeGuard.ModelFiles.Gguf;

/// <summary>
/// Where one tensor lives in a GGUF file. The file stores dimensions innermost first (ggml's <c>ne[0]</c> is
/// the row length); <see cref="Shape"/> is converted to the outermost-first order of <see cref="TensorInfo.Shape"/>
/// and of PyTorch, so a <c>[out, in]</c> linear weight reads as <c>[out, in]</c> here.
/// </summary>
/// <param name="Name">Tensor name, at most <see cref="GgufFormat.MaxTensorNameBytes"/> UTF-8 bytes.</param>
/// <param name="Type">Element type.</param>
/// <param name="Shape">Dimensions, outermost first; empty for a scalar.</param>
/// <param name="Offset">Absolute file offset of the first byte of data.</param>
/// <param name="ByteLength">Bytes of data: block count times block size (element count times element size for a plain type).</param>
public sealed record GgufTensorInfo(string Name, GgmlType Type, IReadOnlyList<long> Shape, long Offset, long ByteLength)
{
    /// <summary>Number of elements (1 for a scalar).</summary>
    public long ElementCount => ByteLength / GgmlTypes.BlockBytes(Type) * GgmlTypes.BlockLength(Type);
}
