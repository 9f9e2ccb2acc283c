using System.Buffers;
using EdgeGuard.Backends;
using EdgeGuard.LongInput;
using EdgeGuard.ModelFiles;
using EdgeGuard.Text;
using EdgeGuard.Tokenization;

namespace EdgeGuard;

/// <summary>
/// A guard model ready to classify text: opened once, then used from any number of threads.
/// </summary>
/// <example>
/// <code>
/// using var guard = Guard.Open("models/edgeguard-default/model.gguf");
/// Verdict v = guard.Classify("How do I pick a lock?", response: "Here is how ...");
/// if (v.Flagged) { /* block the response */ }
/// </code>
/// </example>
public sealed class Guard : IDisposable
{
    private readonly GuardBackend _model;
    private readonly GuardOptions _options;
    private readonly int _windowTokens;
    private readonly object _lifetime = new();
    private int _inFlight;
    private bool _disposed;

    private Guard(GuardBackend model, GuardOptions options)
    {
        _model = model;
        _options = options;
        _windowTokens = Math.Min(options.WindowTokens ?? Math.Min(512, model.Classifier.MaxSequenceLength), model.Classifier.MaxSequenceLength);
        Threshold = options.Threshold ?? model.Threshold;
    }

    /// <summary>What was opened: path, format, precision, labels, shape.</summary>
    public GuardModelInfo Model => _model.Info;

    /// <summary>Decision threshold on the unsafe probability in use.</summary>
    public float Threshold { get; }

    /// <summary>Tokens per model window, special tokens included.</summary>
    public int WindowTokens => _windowTokens;

    /// <summary>Inference worker threads.</summary>
    public int Threads => _model.Classifier.Threads;

    /// <summary>
    /// The tokenizer of the model, for callers that count or inspect tokens: a <see cref="DebertaTokenizer"/> for the
    /// built-in engine, whatever the backend brought otherwise.
    /// </summary>
    public ITokenizer Tokenizer => _model.Tokenizer;

    /// <summary>The engine, for benchmarks and diagnostics that feed token ids directly.</summary>
    internal ISequenceClassifier Engine => _model.Classifier;

    /// <summary>
    /// Opens a model: an EdgeGuard bundle (<c>.gguf</c>) or a Hugging Face directory (<c>config.json</c>,
    /// <c>model.safetensors</c>, <c>spm.model</c>). Everything is validated before this returns.
    /// </summary>
    /// <exception cref="ModelFileException">The model is missing, corrupt, inconsistent or of an unsupported variant.</exception>
    public static Guard Open(string path, GuardOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        options ??= new GuardOptions();
        options.Validate();
        return new Guard(NativeBackend.Open(path, options), options);
    }

    /// <summary>
    /// A guard over a model another backend opened (e.g. <c>EdgeGuard.Onnx.OnnxGuard.Open</c>): windows, batching,
    /// thresholds and labels work exactly as with <see cref="Open(string, GuardOptions?)"/>. The guard owns
    /// <paramref name="backend"/> from here on and disposes it with itself.
    /// </summary>
    /// <param name="backend">The opened model.</param>
    /// <param name="options">Window, batch and threshold options; <see cref="GuardOptions.Threads"/>,
    /// <see cref="GuardOptions.VerifyWeights"/> and <see cref="GuardOptions.UnsafeLabel"/> are the backend's to apply when it opens the model.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range; the backend is then not taken over.</exception>
    public static Guard Create(GuardBackend backend, GuardOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        options ??= new GuardOptions();
        options.Validate();
        return new Guard(backend, options);
    }

    /// <summary>Classifies a prompt, or a prompt and the response to it (then the verdict judges the response).</summary>
    /// <exception cref="ArgumentException">The input needs more windows than <see cref="GuardOptions.MaxWindows"/>.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public Verdict Classify(string prompt, string? response = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        return ClassifyBatch([new GuardInput(prompt, response)], cancellationToken)[0];
    }

    /// <summary>Classifies several inputs together; windows of all inputs share model batches.</summary>
    public IReadOnlyList<Verdict> ClassifyBatch(IReadOnlyList<GuardInput> inputs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        Enter();
        try
        {
            return Classify(inputs, cancellationToken);
        }
        finally
        {
            Exit();
        }
    }

    private IReadOnlyList<Verdict> Classify(IReadOnlyList<GuardInput> inputs, CancellationToken cancellationToken)
    {
        for (int i = 0; i < inputs.Count; i++)
        {
            if (inputs[i].Prompt is null)
            {
                throw new ArgumentException($"Input {i} has no prompt (null).", nameof(inputs));
            }
        }

        var plan = new BatchPlan(inputs.Count);
        for (int i = 0; i < inputs.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            PlanInput(plan, i, Sanitized(inputs[i]));
        }

        RunWindows(plan, cancellationToken);
        var verdicts = new Verdict[inputs.Count];
        var labels = _model.Labels;
        for (int i = 0; i < inputs.Count; i++)
        {
            ref var acc = ref plan.Inputs[i];
            bool flagged = acc.MaxUnsafe >= Threshold;
            string label = flagged ? labels.UnsafeName : labels.Names[acc.SafeArgMax];
            verdicts[i] = new Verdict(acc.MaxUnsafe, flagged, label, acc.TokenCount, acc.Truncated, acc.Windows);
        }

        return verdicts;
    }

    /// <summary>
    /// Where text enters the model: sanitised first, whatever the tokenizer (<see cref="InputSanitizer"/>), unless
    /// <see cref="GuardOptions.SanitizeInput"/> is off.
    /// </summary>
    private GuardInput Sanitized(GuardInput input) => _options.SanitizeInput
        ? new GuardInput(InputSanitizer.Sanitize(input.Prompt), input.Response is null ? null : InputSanitizer.Sanitize(input.Response))
        : input;

    private void PlanInput(BatchPlan plan, int index, GuardInput input)
    {
        var tokenizer = _model.Tokenizer;
        var promptIds = new List<int>();
        var responseIds = new List<int>();
        tokenizer.Encode(input.Prompt, promptIds);
        bool hasResponse = input.Response is not null;
        if (hasResponse)
        {
            tokenizer.Encode(input.Response, responseIds);
        }

        var template = tokenizer.Template;
        ref var acc = ref plan.Inputs[index];
        acc.TokenCount = template.RowLength(promptIds.Count, responseIds.Count, hasResponse);
        acc.MaxUnsafe = -1f;
        var prompt = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(promptIds);
        var response = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(responseIds);

        if (_options.LongInput == LongInputMode.Truncate)
        {
            var pair = template.Build(prompt, response, hasResponse, _windowTokens);
            acc.Truncated = pair.Truncated;
            plan.Windows.Add(new PlannedWindow(index, plan.Windows.Count, pair.Ids, pair.TokenTypeIds));
            acc.Windows = 1;
            return;
        }

        long needed = SlidingWindows.Count(promptIds.Count, responseIds.Count, hasResponse, template, _windowTokens, _options.WindowStride);
        if (needed > _options.MaxWindows)
        {
            throw new ArgumentException(
                $"Input {index} has {acc.TokenCount} tokens and needs {needed} windows of {_windowTokens} tokens; the limit is {_options.MaxWindows} (GuardOptions.MaxWindows). Split the text or raise the limit.");
        }

        var windows = new List<TokenWindow>((int)needed);
        SlidingWindows.Plan(promptIds.Count, responseIds.Count, hasResponse, template, _windowTokens, _options.WindowStride, windows);
        foreach (var w in windows)
        {
            int length = w.TokenCount(template, hasResponse);
            var ids = new int[length];
            var types = new int[length];
            template.WriteRow(prompt.Slice(w.PromptStart, w.PromptLength), response.Slice(w.ResponseStart, w.ResponseLength), hasResponse, ids, types);
            plan.Windows.Add(new PlannedWindow(index, plan.Windows.Count, ids, types));
        }

        acc.Windows = windows.Count;
    }

    private void RunWindows(BatchPlan plan, CancellationToken cancellationToken)
    {
        // Batches of similar length waste the least work on padding; ties keep planning order so a given input
        // always meets the same batch-mates and its score is reproducible to the last bit.
        plan.Windows.Sort(static (a, b) => a.Ids.Length != b.Ids.Length ? a.Ids.Length.CompareTo(b.Ids.Length) : a.Order.CompareTo(b.Order));
        var classifier = _model.Classifier;
        int labelsCount = classifier.NumLabels;
        int unsafeIndex = _model.Labels.UnsafeIndex;
        int maxBatch = _options.MaxBatch;
        int longest = plan.Windows.Count == 0 ? 0 : plan.Windows[^1].Ids.Length;
        int[] ids = ArrayPool<int>.Shared.Rent(maxBatch * longest);
        int[] types = ArrayPool<int>.Shared.Rent(maxBatch * longest);
        int[] lengths = ArrayPool<int>.Shared.Rent(maxBatch);
        float[] logits = ArrayPool<float>.Shared.Rent(maxBatch * labelsCount);
        try
        {
            for (int first = 0; first < plan.Windows.Count; first += maxBatch)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int batch = Math.Min(maxBatch, plan.Windows.Count - first);
                int seqLen = plan.Windows[first + batch - 1].Ids.Length;
                Array.Clear(ids, 0, batch * seqLen);
                Array.Clear(types, 0, batch * seqLen);
                for (int b = 0; b < batch; b++)
                {
                    var w = plan.Windows[first + b];
                    w.Ids.CopyTo(ids, b * seqLen);
                    w.TokenTypeIds.CopyTo(types, b * seqLen);
                    lengths[b] = w.Ids.Length;
                }

                classifier.Forward(
                    ids.AsSpan(0, batch * seqLen), types.AsSpan(0, batch * seqLen), lengths.AsSpan(0, batch), batch, seqLen, logits.AsSpan(0, batch * labelsCount), cancellationToken);
                for (int b = 0; b < batch; b++)
                {
                    Span<float> row = logits.AsSpan(b * labelsCount, labelsCount);
                    System.Numerics.Tensors.TensorPrimitives.SoftMax(row, row);
                    ref var acc = ref plan.Inputs[plan.Windows[first + b].Input];
                    if (row[unsafeIndex] > acc.MaxUnsafe)
                    {
                        acc.MaxUnsafe = row[unsafeIndex];
                        acc.SafeArgMax = ArgMaxExcept(row, unsafeIndex);
                    }
                }
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(ids);
            ArrayPool<int>.Shared.Return(types);
            ArrayPool<int>.Shared.Return(lengths);
            ArrayPool<float>.Shared.Return(logits);
        }
    }

    private static int ArgMaxExcept(ReadOnlySpan<float> row, int except)
    {
        int best = except == 0 ? 1 : 0;
        for (int i = 0; i < row.Length; i++)
        {
            if (i != except && row[i] > row[best])
            {
                best = i;
            }
        }

        return best;
    }

    // The weights are memory-mapped: unmapping them under a running call would fault, so Dispose waits for calls in flight.
    private void Enter()
    {
        lock (_lifetime)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _inFlight++;
        }
    }

    private void Exit()
    {
        lock (_lifetime)
        {
            if (--_inFlight == 0)
            {
                Monitor.PulseAll(_lifetime);
            }
        }
    }

    /// <summary>Releases the model. Calls in flight finish first; later calls throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        lock (_lifetime)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            while (_inFlight > 0)
            {
                Monitor.Wait(_lifetime);
            }
        }

        _model.Dispose();
    }

    private readonly record struct PlannedWindow(int Input, int Order, int[] Ids, int[] TokenTypeIds);

    private struct InputResult
    {
        public float MaxUnsafe;
        public int SafeArgMax;
        public int TokenCount;
        public int Windows;
        public bool Truncated;
    }

    private sealed class BatchPlan(int inputs)
    {
        public readonly InputResult[] Inputs = new InputResult[inputs];
        public readonly List<PlannedWindow> Windows = [];
    }
}
