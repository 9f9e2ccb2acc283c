using EdgeGuard.Backends;
using EdgeGuard.Testing;
using EdgeGuard.Tokenization;

namespace EdgeGuard.Daemon.Tests;

/// <summary>Guards over a scripted classifier and the 2k test tokenizer: models that block, or count their work.</summary>
internal static class ScriptedGuards
{
    public static Guard Create(ISequenceClassifier classifier, GuardOptions options)
    {
        var tokenizer = DebertaTokenizer.FromFile(Path.Combine(RepoPaths.Tokenizer("spm-unigram-2k"), "spm.model"));
        var labels = new ModelLabels(["safe", "unsafe"], 1);
        var info = new GuardModelInfo(
            "scripted", "scripted", "f32", "scripted-guard", labels.Names, labels.UnsafeIndex, 0.5f, 1, 8, classifier.MaxSequenceLength, tokenizer.VocabularySize);
        return Guard.Create(new GuardBackend(classifier, tokenizer, labels, 0.5f, info), options);
    }
}

/// <summary>
/// A classifier whose forward passes, once <see cref="Arm"/> is called, block until <see cref="Release"/> or until their
/// cancellation token fires, and record which it was. Unarmed (the daemon's load probe) it answers at once: "safe".
/// </summary>
internal sealed class GatedClassifier : ISequenceClassifier
{
    // A bound, so a test whose code under test never cancels fails on its own assertion instead of hanging.
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _cancelled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ManualResetEventSlim _release = new();
    private volatile bool _armed;
    private CancellationToken _token;

    public int NumLabels => 2;

    public int MaxSequenceLength => 512;

    public int Threads => 1;

    /// <summary>Completes when an armed forward pass has begun.</summary>
    public Task Entered => _entered.Task;

    /// <summary>Completes when an armed forward pass saw its cancellation token fire.</summary>
    public Task Cancelled => _cancelled.Task;

    /// <summary>The token of the armed forward pass under way.</summary>
    public CancellationToken Token => _token;

    public void Arm() => _armed = true;

    public void Release() => _release.Set();

    public void Forward(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> tokenTypeIds, ReadOnlySpan<int> validLengths, int batch, int seqLen, Span<float> logits, CancellationToken cancellationToken = default)
    {
        if (_armed)
        {
            _token = cancellationToken;
            _entered.TrySetResult();
            try
            {
                _release.Wait(Bound, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                _cancelled.TrySetResult();
                throw;
            }
        }

        for (int b = 0; b < batch; b++)
        {
            logits[(b * 2) + 0] = 2f;
            logits[(b * 2) + 1] = -2f;
        }
    }

    public void Dispose() => _release.Dispose();
}

/// <summary>
/// A classifier that answers "safe" until told to flag: from the <c>n</c>-th forward pass after <see cref="FlagFromCall"/>
/// on, every row is "unsafe". Guard-rail tests flag the prompt (n = 0) or only what follows it (n = 1).
/// </summary>
internal sealed class SwitchedClassifier : ISequenceClassifier
{
    private int _calls;
    private int _flagFrom = int.MaxValue;

    public int NumLabels => 2;

    public int MaxSequenceLength => 512;

    public int Threads => 1;

    /// <summary>Forward passes so far.</summary>
    public int Calls => Volatile.Read(ref _calls);

    public void FlagFromCall(int n) => Volatile.Write(ref _flagFrom, Calls + n);

    public void Forward(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> tokenTypeIds, ReadOnlySpan<int> validLengths, int batch, int seqLen, Span<float> logits, CancellationToken cancellationToken = default)
    {
        bool flag = Interlocked.Increment(ref _calls) - 1 >= Volatile.Read(ref _flagFrom);
        for (int b = 0; b < batch; b++)
        {
            logits[(b * 2) + 0] = flag ? -2f : 2f;
            logits[(b * 2) + 1] = flag ? 2f : -2f;
        }
    }

    public void Dispose()
    {
    }
}
