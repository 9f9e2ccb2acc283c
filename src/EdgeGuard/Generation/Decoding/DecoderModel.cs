using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.Models;

namespace EdgeGuard.Generation.Decoding;

/// <summary>
/// A loaded decoder language model (Llama, Qwen2, GPT-2): its weights, read-only and shared by every
/// <see cref="DecoderSession"/> made from it, so one model serves many conversations at once.
/// </summary>
/// <remarks>
/// The model owns the files and the worker pool it opened (<see cref="Open"/>); one built on a caller's
/// <see cref="ModelSource"/> and pool (<see cref="Load"/>) leaves them to the caller, who keeps them open while it is used.
/// </remarks>
public sealed class DecoderModel : IDisposable
{
    private readonly IDisposable? _owned;

    private DecoderModel(DecoderGraph graph, IDisposable? owned)
    {
        Graph = graph;
        _owned = owned;
    }

    /// <summary>The architecture's graph.</summary>
    public DecoderGraph Graph { get; }

    /// <summary>The validated config.</summary>
    public IModelConfig Config => Graph.Config;

    /// <summary>Tokens of the vocabulary: every id is below it, and every logits row has this many values.</summary>
    public int VocabularySize => Graph.VocabularySize;

    /// <summary>The most tokens a session may hold: the model's positions (<c>max_position_embeddings</c>, <c>n_positions</c>).</summary>
    public int MaxContextLength => Graph.MaxPositions;

    /// <summary>How the linear layers compute.</summary>
    public ModelPrecision Precision => Graph.Precision;

    /// <summary>
    /// Opens a decoder from a Hugging Face directory or a bundle and loads it on a pool of <paramref name="threads"/> workers
    /// (0: one per core). An int8 bundle runs in int8 whatever <paramref name="precision"/> says.
    /// </summary>
    /// <exception cref="ModelFileException">The files are missing, invalid, or of an architecture that is not a decoder.</exception>
    public static DecoderModel Open(string path, ModelPrecision precision = ModelPrecision.Float32, int threads = 0)
    {
        ModelSource source = ModelSource.Open(path);
        WorkerPool? pool = null;
        try
        {
            pool = new WorkerPool(threads);
            DecoderGraph graph = source.LoadDecoder(pool, precision);
            return new DecoderModel(graph, new Owned(source, pool));
        }
        catch
        {
            pool?.Dispose();
            source.Dispose();
            throw;
        }
    }

    /// <summary>Loads the decoder of <paramref name="source"/> on <paramref name="pool"/>; both stay the caller's.</summary>
    /// <exception cref="ModelFileException">The architecture is not a decoder, or a tensor is missing or misshapen.</exception>
    /// <param name="keepFloat">In int8: patterns of the linear layers kept in float32 (<see cref="Int8Plan"/>).</param>
    public static DecoderModel Load(ModelSource source, WorkerPool pool, ModelPrecision precision = ModelPrecision.Float32, int? int8WeightLimit = null, IReadOnlyList<string>? keepFloat = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(pool);
        return new DecoderModel(source.LoadDecoder(pool, precision, int8WeightLimit, keepFloat), null);
    }

    /// <summary>
    /// A new conversation with its own KV cache, holding at most <paramref name="contextLength"/> tokens (0: the
    /// model's <see cref="MaxContextLength"/>). The cache grows with the conversation, up to that limit; it stores keys
    /// and values as <paramref name="cacheFormat"/> says.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="contextLength"/> is negative or beyond the model's positions.</exception>
    public DecoderSession CreateSession(int contextLength = 0, KeyValueCacheFormat cacheFormat = KeyValueCacheFormat.Float32)
    {
        if (!Enum.IsDefined(cacheFormat))
        {
            throw new ArgumentOutOfRangeException(nameof(cacheFormat), cacheFormat, "The KV cache is Float32 or Float16.");
        }

        if (contextLength < 0 || contextLength > MaxContextLength)
        {
            throw new ArgumentOutOfRangeException(
                nameof(contextLength), contextLength, $"A session's context must be 1 to {MaxContextLength} tokens (the model's positions), or 0 for all of them.");
        }

        return new DecoderSession(this, contextLength == 0 ? MaxContextLength : contextLength, cacheFormat);
    }

    /// <inheritdoc />
    public void Dispose() => _owned?.Dispose();

    private sealed class Owned(ModelSource source, WorkerPool pool) : IDisposable
    {
        public void Dispose()
        {
            pool.Dispose();
            source.Dispose();
        }
    }
}
