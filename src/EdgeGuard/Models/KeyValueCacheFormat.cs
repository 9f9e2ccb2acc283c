namespace EdgeGuard.Models;

/// <summary>How a session stores its keys and values (the KV cache).</summary>
public enum KeyValueCacheFormat
{
    /// <summary>float32: the values the projections computed, bit for bit (the reference).</summary>
    Float32,

    /// <summary>
    /// float16: half the memory and half the bytes each step reads, for long contexts and many sessions. Keys and values
    /// are rounded to float16 as they are stored and widened to float32 as attention reads them, so logits differ from
    /// <see cref="Float32"/>'s by that rounding (about 1e-3 relative).
    /// </summary>
    Float16,
}
