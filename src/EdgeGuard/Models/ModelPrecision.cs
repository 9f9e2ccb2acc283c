namespace EdgeGuard.Models;

/// <summary>How a model's linear layers compute.</summary>
public enum ModelPrecision
{
    /// <summary>float32 weights and products: the reference engine the golden fixtures pin.</summary>
    Float32,

    /// <summary>
    /// int8 weights (symmetric per output channel) and activations (quantised per row at run time), int32
    /// accumulation with fused dequantise/bias/GELU/residual for the encoder's dense layers and the pooler.
    /// Attention scores, softmax, LayerNorm, architecture-specific projections and the classifier head stay float32.
    /// </summary>
    Int8,
}
