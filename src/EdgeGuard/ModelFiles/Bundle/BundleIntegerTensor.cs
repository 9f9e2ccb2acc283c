namespace EdgeGuard.ModelFiles.Bundle;

/// <summary>An integer tensor of an int8 bundle, for listing.</summary>
/// <param name="Name">Tensor name.</param>
/// <param name="Type"><c>I8</c> or <c>I32</c>.</param>
/// <param name="Shape">Dimensions, outermost first (the padded shape for packed weights).</param>
/// <param name="ByteLength">Bytes stored.</param>
public sealed record BundleIntegerTensor(string Name, string Type, IReadOnlyList<long> Shape, long ByteLength);
