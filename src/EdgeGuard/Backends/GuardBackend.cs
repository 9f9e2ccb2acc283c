using EdgeGuard.Tokenization;

namespace EdgeGuard.Backends;

/// <summary>
/// One opened model as a <see cref="Guard"/> runs it: the classifier, its tokenizer, labels, threshold and description.
/// It owns the classifier (and the tokenizer, when that is disposable) and releases them in <see cref="Dispose"/>.
/// </summary>
/// <remarks>
/// <see cref="Guard.Open(string, GuardOptions?)"/> builds one for the built-in engine; another backend builds its own and
/// hands it to <see cref="Guard.Create(GuardBackend, GuardOptions?)"/>, which then owns it.
/// </remarks>
public sealed class GuardBackend : IDisposable
{
    private int _disposed;

    /// <summary>Bundles the parts of one model; checks that they fit together.</summary>
    /// <param name="classifier">The engine; disposed with this object.</param>
    /// <param name="tokenizer">The model's tokenizer; disposed with this object if it is <see cref="IDisposable"/>.</param>
    /// <param name="labels">Class names (one per logit) and which one means unsafe.</param>
    /// <param name="threshold">The model's own decision threshold on the unsafe probability, in (0, 1).</param>
    /// <param name="info">What was opened, for <see cref="Guard.Model"/>.</param>
    /// <exception cref="ArgumentException">The labels do not match the classifier's outputs, or the threshold is outside (0, 1).</exception>
    public GuardBackend(ISequenceClassifier classifier, ITokenizer tokenizer, ModelLabels labels, float threshold, GuardModelInfo info)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(info);
        if (labels.Names.Count != classifier.NumLabels)
        {
            throw new ArgumentException($"{labels.Names.Count} labels are named but the classifier has {classifier.NumLabels} outputs.", nameof(labels));
        }

        if (!(threshold > 0f && threshold < 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "The threshold must lie strictly between 0 and 1.");
        }

        Classifier = classifier;
        Tokenizer = tokenizer;
        Labels = labels;
        Threshold = threshold;
        Info = info;
    }

    /// <summary>The engine.</summary>
    public ISequenceClassifier Classifier { get; }

    /// <summary>The model's tokenizer.</summary>
    public ITokenizer Tokenizer { get; }

    /// <summary>Class names and the unsafe class.</summary>
    public ModelLabels Labels { get; }

    /// <summary>The model's own decision threshold.</summary>
    public float Threshold { get; }

    /// <summary>What was opened.</summary>
    public GuardModelInfo Info { get; }

    /// <summary>Releases the classifier, then the tokenizer if it holds resources.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Classifier.Dispose();
        (Tokenizer as IDisposable)?.Dispose();
    }
}
