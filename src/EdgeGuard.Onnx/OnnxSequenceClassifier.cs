using System.Runtime.InteropServices;
using EdgeGuard.Backends;
using EdgeGuard.ModelFiles;
using Microsoft.ML.OnnxRuntime;

namespace EdgeGuard.Onnx;

/// <summary>
/// An ONNX sequence classifier run by ONNX Runtime on the CPU, as an <see cref="ISequenceClassifier"/>: int64
/// <c>input_ids</c>, <c>attention_mask</c> and, when the graph has it, <c>token_type_ids</c> (the token types the caller
/// passes, as the tokenizer's template wrote them) in, float32 <c>logits</c> out. Thread-safe: concurrent calls share one
/// session.
/// </summary>
/// <remarks>
/// Each call borrows a set of pinned input/output buffers and the <see cref="OrtValue"/>s over them; a set keeps its
/// tensors for the last shape it ran, so repeated shapes (a benchmark, a steady stream of full windows) allocate nothing.
/// Sets are made only when more calls run at once than ever before.
/// </remarks>
public sealed class OnnxSequenceClassifier : ISequenceClassifier
{
    private readonly InferenceSession _session;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames = [OnnxGraphSignature.Logits];
    private readonly bool _feedsTokenTypes;
    private readonly int _vocabularySize;
    private readonly Stack<RunBuffers> _idle = new();
    private bool _disposed;
    private bool _profiling;

    private OnnxSequenceClassifier(InferenceSession session, OnnxGraphSignature signature, OnnxGraphOperators operators, OnnxClassifierOptions options, int threads)
    {
        _session = session;
        _feedsTokenTypes = signature.HasTokenTypeIds;
        _inputNames = _feedsTokenTypes
            ? [OnnxGraphSignature.InputIds, OnnxGraphSignature.AttentionMask, OnnxGraphSignature.TokenTypeIds]
            : [OnnxGraphSignature.InputIds, OnnxGraphSignature.AttentionMask];
        _vocabularySize = options.VocabularySize;
        MaxSequenceLength = options.MaxSequenceLength;
        Threads = threads;
        IsQuantized = operators.IsQuantized;
    }

    /// <inheritdoc />
    public int NumLabels { get; private set; }

    /// <inheritdoc />
    public int MaxSequenceLength { get; }

    /// <inheritdoc />
    public int Threads { get; }

    /// <summary>True when the graph computes with 8-bit integer operators (MatMulInteger, DynamicQuantizeLinear, QLinear*, …).</summary>
    public bool IsQuantized { get; }

    /// <summary><c>int8</c> for a quantized graph, else <c>f32</c>.</summary>
    public string Precision => IsQuantized ? "int8" : "f32";

    /// <summary>Whether the graph takes <c>token_type_ids</c>.</summary>
    public bool FeedsTokenTypeIds => _feedsTokenTypes;

    /// <summary>
    /// Loads <paramref name="modelPath"/> into an ONNX Runtime session (intra-op threads from the options, one inter-op
    /// thread, sequential execution, all graph optimisations, the CPU memory arena), checks its inputs and output, and
    /// runs it once on a two-token row to learn and check the number of labels.
    /// </summary>
    /// <exception cref="ModelFileException">The file is missing, not a loadable ONNX model, or not a sequence classifier EdgeGuard can feed; the message names what was expected and what the file has.</exception>
    public static OnnxSequenceClassifier Open(string modelPath, OnnxClassifierOptions options)
    {
        ArgumentNullException.ThrowIfNull(modelPath);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegative(options.Threads);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxSequenceLength, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.VocabularySize, 1);
        if (!File.Exists(modelPath))
        {
            throw new ModelFileException($"{modelPath}: no such ONNX model file.");
        }

        var operators = OnnxGraphOperators.Read(modelPath);
        int threads = options.Threads == 0 ? Environment.ProcessorCount : options.Threads;
        using var sessionOptions = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            EnableCpuMemArena = true,
        };
        if (options.ProfileOutputPrefix is { Length: > 0 } profilePrefix)
        {
            // The prefix first: ONNX Runtime takes it when profiling is switched on.
            sessionOptions.ProfileOutputPathPrefix = profilePrefix;
            sessionOptions.EnableProfiling = true;
        }

        InferenceSession session;
        try
        {
            session = new InferenceSession(modelPath, sessionOptions);
        }
        catch (OnnxRuntimeException e)
        {
            throw new ModelFileException($"{modelPath}: ONNX Runtime cannot load the model: {e.Message}", e);
        }

        try
        {
            var signature = OnnxGraphSignature.Validate(session.InputMetadata, session.OutputMetadata, modelPath);
            var classifier = new OnnxSequenceClassifier(session, signature, operators, options, threads) { _profiling = sessionOptions.EnableProfiling };
            classifier.NumLabels = classifier.ProbeLabels(modelPath, signature.FixedLabels);
            return classifier;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    /// <remarks>Token types are fed when the graph has <c>token_type_ids</c> and must then be 0 or 1 at valid positions; otherwise they are not read.</remarks>
    public void Forward(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> tokenTypeIds, ReadOnlySpan<int> validLengths, int batch, int seqLen, Span<float> logits, CancellationToken cancellationToken = default)
    {
        CheckInputs(inputIds, tokenTypeIds, validLengths, batch, seqLen, logits);
        cancellationToken.ThrowIfCancellationRequested();
        RunBuffers buffers = Rent();
        try
        {
            buffers.Shape(batch, seqLen, NumLabels, _feedsTokenTypes);
            Fill(buffers, inputIds, tokenTypeIds, validLengths, batch, seqLen);
            Run(buffers, cancellationToken);
            buffers.Logits.AsSpan(0, batch * NumLabels).CopyTo(logits);
        }
        finally
        {
            Return(buffers);
        }
    }

    private void Fill(RunBuffers buffers, ReadOnlySpan<int> inputIds, ReadOnlySpan<int> tokenTypeIds, ReadOnlySpan<int> validLengths, int batch, int seqLen)
    {
        Span<long> ids = buffers.Ids.AsSpan(0, batch * seqLen);
        Span<long> mask = buffers.Mask.AsSpan(0, batch * seqLen);
        Span<long> types = _feedsTokenTypes ? buffers.TokenTypes.AsSpan(0, batch * seqLen) : default;
        ids.Clear();
        mask.Clear();
        types.Clear();
        for (int b = 0; b < batch; b++)
        {
            int row = b * seqLen, length = validLengths[b];
            ReadOnlySpan<int> source = inputIds.Slice(row, length);
            for (int t = 0; t < length; t++)
            {
                ids[row + t] = source[t];
            }

            mask.Slice(row, length).Fill(1);
            if (_feedsTokenTypes)
            {
                ReadOnlySpan<int> sourceTypes = tokenTypeIds.Slice(row, length);
                for (int t = 0; t < length; t++)
                {
                    types[row + t] = sourceTypes[t];
                }
            }
        }
    }

    private void Run(RunBuffers buffers, CancellationToken cancellationToken)
    {
        RunOptions runOptions = buffers.RunOptions;
        try
        {
            // Terminate stops a call in flight; ORT then fails the call, which is reported as the cancellation it is.
            // Disposing the registration waits for a running callback, so the flag is reset below only after it.
            using (cancellationToken.UnsafeRegister(static state => ((RunOptions)state!).Terminate = true, runOptions))
            {
                _session.Run(runOptions, _inputNames, buffers.Inputs, _outputNames, buffers.Outputs);
            }
        }
        catch (OnnxRuntimeException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(cancellationToken);
        }
        finally
        {
            if (runOptions.Terminate)
            {
                runOptions.Terminate = false;
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
    }

    private int ProbeLabels(string modelPath, int? fixedLabels)
    {
        long[] probeIds = [0, 0];
        long[] probeMask = [1, 1];
        long[] shape = [1, 2];
        using var ids = OrtValue.CreateTensorValueFromMemory(probeIds, shape);
        using var mask = OrtValue.CreateTensorValueFromMemory(probeMask, shape);
        using var types = OrtValue.CreateTensorValueFromMemory(new long[2], shape);
        OrtValue[] inputs = _feedsTokenTypes ? [ids, mask, types] : [ids, mask];
        using var runOptions = new RunOptions();
        IDisposableReadOnlyCollection<OrtValue> outputs;
        try
        {
            outputs = _session.Run(runOptions, _inputNames, inputs, _outputNames);
        }
        catch (OnnxRuntimeException e)
        {
            throw new ModelFileException($"{modelPath}: the model fails on a two-token input: {e.Message}", e);
        }

        using (outputs)
        {
            var logitsShape = outputs.First().GetTensorTypeAndShape().Shape;
            if (logitsShape.Length != 2 || logitsShape[0] != 1 || logitsShape[1] < 2 || (fixedLabels is int n && logitsShape[1] != n))
            {
                throw new ModelFileException(
                    $"{modelPath}: output '{OnnxGraphSignature.Logits}' has shape [{string.Join(", ", logitsShape)}] for one row; expected [1, labels] with at least 2 labels.");
            }

            return checked((int)logitsShape[1]);
        }
    }

    private void CheckInputs(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> tokenTypeIds, ReadOnlySpan<int> validLengths, int batch, int seqLen, Span<float> logits)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (batch < 1 || seqLen < 1)
        {
            throw new ArgumentException($"batch ({batch}) and seqLen ({seqLen}) must be positive.");
        }

        if (inputIds.Length != batch * seqLen || tokenTypeIds.Length != batch * seqLen || validLengths.Length != batch || logits.Length != batch * NumLabels)
        {
            throw new ArgumentException(
                $"Sizes disagree: {inputIds.Length} ids and {tokenTypeIds.Length} token types for {batch}×{seqLen}, {validLengths.Length} lengths for {batch} rows, {logits.Length} logits for {batch}×{NumLabels}.");
        }

        for (int b = 0; b < batch; b++)
        {
            int length = validLengths[b];
            if (length < 1 || length > seqLen)
            {
                throw new ArgumentException($"Row {b} has valid length {length}, outside [1, {seqLen}].", nameof(validLengths));
            }

            ReadOnlySpan<int> row = inputIds.Slice(b * seqLen, length);
            int bad = row.IndexOfAnyExceptInRange(0, _vocabularySize - 1);
            if (bad >= 0)
            {
                throw new ArgumentException($"Token id {row[bad]} at row {b}, position {bad} is outside the vocabulary [0, {_vocabularySize}).", nameof(inputIds));
            }

            // BERT-family graphs have two token type embeddings; another value would read outside the table.
            int badType = _feedsTokenTypes ? tokenTypeIds.Slice(b * seqLen, length).IndexOfAnyExceptInRange(0, 1) : -1;
            if (badType >= 0)
            {
                throw new ArgumentException($"Token type {tokenTypeIds[(b * seqLen) + badType]} at row {b}, position {badType} is not 0 or 1.", nameof(tokenTypeIds));
            }
        }
    }

    private RunBuffers Rent()
    {
        lock (_idle)
        {
            return _idle.Count > 0 ? _idle.Pop() : new RunBuffers();
        }
    }

    private void Return(RunBuffers buffers)
    {
        lock (_idle)
        {
            if (!_disposed)
            {
                _idle.Push(buffers);
                return;
            }
        }

        buffers.Dispose();
    }

    /// <summary>Releases the session and the idle buffers. Calls must have returned (the guard waits for them).</summary>
    public void Dispose()
    {
        lock (_idle)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            while (_idle.Count > 0)
            {
                _idle.Pop().Dispose();
            }
        }

        if (_profiling)
        {
            _session.EndProfiling();
        }

        _session.Dispose();
    }

    /// <summary>One call's pinned tensors: ids, mask, token types and logits, with the OrtValues of the last shape run.</summary>
    private sealed class RunBuffers : IDisposable
    {
        private int _batch, _seqLen;

        public long[] Ids { get; private set; } = [];

        public long[] Mask { get; private set; } = [];

        public long[] TokenTypes { get; private set; } = [];

        public float[] Logits { get; private set; } = [];

        public OrtValue[] Inputs { get; private set; } = [];

        public OrtValue[] Outputs { get; private set; } = [];

        public RunOptions RunOptions { get; } = new();

        /// <summary>Makes the tensors <c>[batch, seqLen]</c> in and <c>[batch, labels]</c> out, reusing them when the shape is unchanged.</summary>
        public void Shape(int batch, int seqLen, int labels, bool tokenTypes)
        {
            if (batch == _batch && seqLen == _seqLen)
            {
                return;
            }

            DisposeValues();
            int size = batch * seqLen;
            if (Ids.Length < size)
            {
                // Pinned-heap arrays: the OrtValues keep them pinned for as long as they live, which costs the GC nothing here.
                Ids = GC.AllocateUninitializedArray<long>(size, pinned: true);
                Mask = GC.AllocateUninitializedArray<long>(size, pinned: true);
                TokenTypes = tokenTypes ? GC.AllocateUninitializedArray<long>(size, pinned: true) : [];
            }

            if (Logits.Length < batch * labels)
            {
                Logits = GC.AllocateUninitializedArray<float>(batch * labels, pinned: true);
            }

            long[] inputShape = [batch, seqLen];
            var memory = OrtMemoryInfo.DefaultInstance;
            var ids = OrtValue.CreateTensorValueFromMemory(memory, Ids.AsMemory(0, size), inputShape);
            var mask = OrtValue.CreateTensorValueFromMemory(memory, Mask.AsMemory(0, size), inputShape);
            Inputs = tokenTypes
                ? [ids, mask, OrtValue.CreateTensorValueFromMemory(memory, TokenTypes.AsMemory(0, size), inputShape)]
                : [ids, mask];
            Outputs = [OrtValue.CreateTensorValueFromMemory(memory, Logits.AsMemory(0, batch * labels), [batch, labels])];
            _batch = batch;
            _seqLen = seqLen;
        }

        public void Dispose()
        {
            DisposeValues();
            RunOptions.Dispose();
        }

        private void DisposeValues()
        {
            foreach (var value in Inputs)
            {
                value.Dispose();
            }

            foreach (var value in Outputs)
            {
                value.Dispose();
            }

            Inputs = [];
            Outputs = [];
            _batch = _seqLen = 0;
        }
    }
}
