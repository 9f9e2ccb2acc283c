namespace EdgeGuard.Models.Deberta;

/// <summary>How the classifier's linear layers compute.</summary>
public enum DebertaPrecision
{
    /// <summary>float32 weights and products: the reference engine the golden fixtures pin.</summary>
    Float32,

    /// <summary>
    /// int8 weights (symmetric per output channel) and activations (quantised per row at run time), int32
    /// accumulation with fused dequantise/bias/GELU/residual: Q/K/V, attention output, both FFN layers and the pooler.
    /// Attention scores, softmax, LayerNorm, the position projections and the classifier head stay float32.
    /// </summary>
    Int8,
}
