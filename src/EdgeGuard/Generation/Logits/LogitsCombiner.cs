namespace EdgeGuard.Generation.Logits;

/// <summary>
/// The first link of the chain: reads the logits rows of several models decoding in lock-step and writes the
/// combined row over the primary model's row (model 0 of the group). Partners are models 1.. of the group.
/// </summary>
/// <remarks>
/// Partner rows come as <see cref="ReadOnlyMemory{T}"/> so a group of any size fits one call; a caller that keeps
/// one array of its sessions' logits buffers allocates nothing per token.
/// </remarks>
public abstract class LogitsCombiner
{
    /// <summary>Rows read besides the primary row.</summary>
    public abstract int PartnerCount { get; }

    /// <summary>What model <paramref name="modelIndex"/> of the group is (0 is the primary), for messages.</summary>
    public abstract string RoleOf(int modelIndex);

    /// <summary>
    /// Writes the combined row over <paramref name="primary"/>. Throws <see cref="ArgumentException"/> when the
    /// number of partners is not <see cref="PartnerCount"/> or a partner's vocabulary differs from the primary's.
    /// </summary>
    public void Combine(Span<float> primary, ReadOnlySpan<ReadOnlyMemory<float>> partners)
    {
        if (partners.Length != PartnerCount)
        {
            throw new ArgumentException($"{GetType().Name} reads {PartnerCount} partner rows besides the primary row, not {partners.Length}.", nameof(partners));
        }

        for (int i = 0; i < partners.Length; i++)
        {
            ModelGroupVocabulary.RequireRowLength(primary.Length, partners[i].Length, i + 1, RoleOf(i + 1), RoleOf(0));
        }

        CombineCore(primary, partners);
    }

    /// <summary>The combination itself; counts and lengths are already checked.</summary>
    protected abstract void CombineCore(Span<float> primary, ReadOnlySpan<ReadOnlyMemory<float>> partners);
}
