namespace EdgeGuard.Generation.Logits;

/// <summary>
/// The seeded pseudo-random generator of sampling: SplitMix64 (Steele, Lea and Flood, 2014), chosen because it is
/// a few lines that any language reproduces exactly. The Python reference (<c>edgeguard_train.logits_processing</c>)
/// implements the same recipe, so a seed gives the same draws on both sides.
/// </summary>
/// <remarks>
/// One step adds 0x9E3779B97F4A7C15 to the 64-bit state (wrapping) and returns the state mixed by
/// <c>z ^= z &gt;&gt; 30; z *= 0xBF58476D1CE4E5B9; z ^= z &gt;&gt; 27; z *= 0x94D049BB133111EB; z ^= z &gt;&gt; 31</c>
/// (multiplications modulo 2^64). <see cref="NextDouble"/> keeps the top 53 bits: <c>(next &gt;&gt; 11) · 2^-53</c>,
/// a double in [0, 1) that is exact on every platform.
/// </remarks>
public struct SplitMix64
{
    private const double TwoToMinus53 = 1.0 / (1UL << 53);
    private ulong _state;

    /// <summary>A generator whose first step starts from <paramref name="seed"/>.</summary>
    public SplitMix64(ulong seed) => _state = seed;

    /// <summary>The state the next step starts from (the seed before the first step).</summary>
    public readonly ulong State => _state;

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        ulong z = unchecked(_state += 0x9E3779B97F4A7C15UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return z ^ (z >> 31);
    }

    /// <summary>A uniform double in [0, 1): the top 53 bits of <see cref="NextUInt64"/> times 2^-53.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * TwoToMinus53;
}
