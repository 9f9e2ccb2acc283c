namespace EdgeGuard.Kernels.Int8;

/// <summary>What <see cref="Int8Gemm"/> does to each dequantised output before it leaves the cache.</summary>
public enum Int8Epilogue
{
    /// <summary><c>y = acc · sx · sw + bias</c>.</summary>
    Bias,

    /// <summary><c>y = GELU(acc · sx · sw + bias)</c>: the erf GELU to within 4e-7·max(1, |y|) (<see cref="Float32.Gelu.ApplyApproximate"/>), for outputs quantised next.</summary>
    BiasGelu,

    /// <summary><c>y = acc · sx · sw + bias + residual</c>.</summary>
    BiasResidual,
}
