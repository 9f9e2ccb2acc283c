using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using LLama;
using LLama.Common;
using LLama.Native;

namespace EdgeGuard.LlamaCpp;

/// <summary>
/// llama.cpp beside EdgeGuard's decode benchmark, through LLamaSharp (whose CPU backend package ships llama.cpp's
/// native library): <c>quantize</c> turns a float32 GGUF into Q8_0 with llama.cpp's own quantizer; <c>bench</c> times
/// prefill and decoding at batch 1 the way <c>EdgeGuard.Benchmarks decode</c> does; <c>greedy</c> prints the greedy
/// continuation of a prompt, to check an exported model against the PyTorch reference.
/// </summary>
internal static class Program
{
    private const string Usage = """
        usage: EdgeGuard.LlamaCpp quantize INPUT-F32.gguf OUTPUT-Q8_0.gguf [--threads N]
               EdgeGuard.LlamaCpp bench MODEL.gguf [--prompt 128] [--tokens 128] [--rounds 5] [--threads 2]
               EdgeGuard.LlamaCpp greedy MODEL.gguf --prompt-ids 1,2,3 [--tokens 8] [--threads 2]
        """;

    public static int Main(string[] args)
    {
        try
        {
            var options = Options.Parse(args);
            if (options.Positional.Count == 0)
            {
                Console.Error.WriteLine(Usage);
                return 2;
            }

            // llama.cpp logs every tensor at load; only its warnings and errors are worth a line here.
            NativeLibraryConfig.All.WithLogCallback((level, message) =>
            {
                if (level is LLamaLogLevel.Warning or LLamaLogLevel.Error)
                {
                    Console.Error.Write($"llama.cpp: {message}");
                }
            });
            // Loads the native library through LLamaSharp's selector (the instruction-set variant this CPU runs);
            // the quantizer's entry points live in a class that does not trigger that load itself.
            NativeApi.llama_empty_call();
            return options.Positional[0] switch
            {
                "quantize" => Quantize(options),
                "bench" => Bench(options),
                "greedy" => Greedy(options),
                _ => throw new ArgumentException($"unknown command {options.Positional[0]}\n{Usage}"),
            };
        }
        catch (Exception e) when (e is ArgumentException or FileNotFoundException or InvalidOperationException or LLama.Exceptions.RuntimeError)
        {
            Console.Error.WriteLine($"EdgeGuard.LlamaCpp: {e.Message}");
            return 1;
        }
    }

    /// <summary>Q8_0 with llama.cpp's quantizer, written through a temporary file so a failed run leaves none behind.</summary>
    private static int Quantize(Options options)
    {
        string input = options.Required(1, "INPUT-F32.gguf"), output = options.Required(2, "OUTPUT-Q8_0.gguf");
        RequireFile(input);
        string tmp = output + ".tmp";
        long start = Stopwatch.GetTimestamp();
        if (!LLamaQuantizer.Quantize(input, tmp, LLamaFtype.MOSTLY_Q8_0, options.Int("threads", Environment.ProcessorCount), allowRequantize: false))
        {
            File.Delete(tmp);
            throw new InvalidOperationException($"llama.cpp could not quantize {input} to Q8_0 (its log above says why)");
        }

        File.Move(tmp, output, overwrite: true);
        Console.WriteLine($"quantize: {input} ({new FileInfo(input).Length / 1e6:F1} MB) -> {output} ({new FileInfo(output).Length / 1e6:F1} MB, Q8_0) " +
                          $"in {Stopwatch.GetElapsedTime(start).TotalSeconds:F1} s");
        return 0;
    }

    /// <summary>
    /// Prefill of <c>--prompt</c> random tokens (ms) and <c>--tokens</c> greedy tokens after a one-token prompt
    /// (tokens/s), each from an empty cache, a warm-up round then medians of <c>--rounds</c>; weight GB/s against the
    /// memory bandwidth probe EdgeGuard's decode benchmark uses; the process's peak resident memory.
    /// </summary>
    private static int Bench(Options options)
    {
        string path = options.Required(1, "MODEL.gguf");
        int promptLength = options.Int("prompt", 128), tokens = options.Int("tokens", 128), rounds = options.Int("rounds", 5);
        int threads = options.Int("threads", 2);
        using var model = Model.Open(path, threads, Math.Max(promptLength, tokens + 1));
        var random = new Random(11);
        int vocabulary = model.Weights.Vocab.Count;
        LLamaToken[] prompt = [.. Enumerable.Range(0, promptLength).Select(_ => (LLamaToken)random.Next(vocabulary))];

        var prefill = new List<double>();
        var decode = new List<double>();
        for (int r = -1; r < rounds; r++)
        {
            double prefillMs = model.TimePrefill(prompt);
            double decodeSeconds = model.TimeDecode(tokens);
            if (r >= 0)
            {
                prefill.Add(prefillMs);
                decode.Add(decodeSeconds);
            }
        }

        // Read before the bandwidth probe's 2 GiB array, so the peak is the model's, its cache's and llama.cpp's buffers'.
        long peak = Process.GetCurrentProcess().PeakWorkingSet64;
        double bandwidth = EdgeGuard.Benchmarks.MemoryBandwidth.Measure(threads);
        // Every weight matrix is read once per token, the embeddings too (tied, they are the output layer): the model's size.
        double weightBytes = model.Weights.SizeInBytes;
        double perSecond = tokens / Median(decode);
        double gbPerSecond = weightBytes * perSecond / 1e9;
        Console.WriteLine($"# llama.cpp (LLamaSharp {LLamaSharpVersion()}, CPU library {model.CpuLibrary}), {Path.GetFileName(path)}, " +
                          $"threads={threads}, batch 1, KV cache f16; memory bandwidth (2 GiB summed by every thread, best of 3) {bandwidth:F1} GB/s; medians of {rounds} rounds");
        Console.WriteLine($"# peak RSS before the bandwidth probe: {peak / (1024 * 1024)} MiB");
        Console.WriteLine($"| engine | prefill of {promptLength} tokens, ms | decode tokens/s ({tokens} tokens after 1) | weights per token, MB | weights streamed, GB/s | share of memory bandwidth | peak RSS, MiB |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        Console.WriteLine($"| llama.cpp {model.WeightType} | {Median(prefill):F1} | {perSecond:F1} | {weightBytes / 1e6:F1} | {gbPerSecond:F1} | {gbPerSecond / bandwidth:P0} | {peak / (1024 * 1024)} |");
        return 0;
    }

    private static int Greedy(Options options)
    {
        string path = options.Required(1, "MODEL.gguf");
        string ids = options.String("prompt-ids") ?? throw new ArgumentException("greedy needs --prompt-ids, comma-separated token ids");
        LLamaToken[] prompt = [.. ids.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => (LLamaToken)int.Parse(s, CultureInfo.InvariantCulture))];
        if (prompt.Length == 0)
        {
            throw new ArgumentException("--prompt-ids is empty");
        }

        int tokens = options.Int("tokens", 8);
        using var model = Model.Open(path, options.Int("threads", 2), prompt.Length + tokens);
        Console.WriteLine(string.Join(",", model.Greedy(prompt, tokens).Select(t => (int)t)));
        return 0;
    }

    /// <summary>The LLamaSharp package this build resolved, from the dependency manifest (the assembly carries no version).</summary>
    private static string LLamaSharpVersion()
    {
        string manifest = Path.Combine(AppContext.BaseDirectory, "EdgeGuard.LlamaCpp.deps.json");
        if (!File.Exists(manifest))
        {
            return "unknown";
        }

        using var document = JsonDocument.Parse(File.ReadAllText(manifest));
        return document.RootElement.GetProperty("libraries").EnumerateObject()
            .Select(library => library.Name).FirstOrDefault(name => name.StartsWith("LLamaSharp/", StringComparison.Ordinal))?["LLamaSharp/".Length..] ?? "unknown";
    }

    private static void RequireFile(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path} does not exist");
        }
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>One llama.cpp model and context on the CPU: one sequence, batch 1 when decoding.</summary>
    private sealed class Model : IDisposable
    {
        private readonly LLamaContext _context;
        private readonly LLamaBatch _batch = new();

        private Model(LLamaWeights weights, LLamaContext context)
        {
            Weights = weights;
            _context = context;
        }

        public LLamaWeights Weights { get; }

        /// <summary>The ggml CPU library llama.cpp loaded (LLamaSharp picks one per instruction set), from the process's mappings.</summary>
        public string CpuLibrary => File.ReadLines("/proc/self/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "")
            .Where(p => p.EndsWith("libggml-cpu.so", StringComparison.Ordinal)).Select(p => Path.GetFileName(Path.GetDirectoryName(p)) + "/libggml-cpu.so")
            .FirstOrDefault() ?? "unknown";

        /// <summary>The model's weight type as the file names it (general.file_type), e.g. Q8_0.</summary>
        public string WeightType => Weights.Metadata.TryGetValue("general.file_type", out string? type) ? FileTypeName(type) : "unknown";

        public static Model Open(string path, int threads, int context)
        {
            RequireFile(path);
            var parameters = new ModelParams(path)
            {
                GpuLayerCount = 0,
                ContextSize = (uint)context,
                BatchSize = (uint)context,
                UBatchSize = (uint)context,
                Threads = threads,
                BatchThreads = threads,
            };
            LLamaWeights weights = LLamaWeights.LoadFromFile(parameters);
            return new Model(weights, weights.CreateContext(parameters));
        }

        /// <summary>Milliseconds to run <paramref name="prompt"/> through an empty cache, up to the last position's logits.</summary>
        public double TimePrefill(LLamaToken[] prompt)
        {
            _context.NativeHandle.MemoryClear(true);
            _batch.Clear();
            for (int i = 0; i < prompt.Length; i++)
            {
                _batch.Add(prompt[i], i, LLamaSeqId.Zero, i == prompt.Length - 1);
            }

            long start = Stopwatch.GetTimestamp();
            Run();
            // Reading the logits waits for the computation to finish.
            _ = _context.NativeHandle.GetLogitsIth(_batch.TokenCount - 1)[0];
            return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        /// <summary>Seconds to decode <paramref name="tokens"/> greedy tokens, one at a time, after a one-token prompt.</summary>
        public double TimeDecode(int tokens)
        {
            _context.NativeHandle.MemoryClear(true);
            Step(1, 0);
            long start = Stopwatch.GetTimestamp();
            for (int t = 0; t < tokens; t++)
            {
                Step(ArgMax(), t + 1);
            }

            _ = ArgMax();
            return Stopwatch.GetElapsedTime(start).TotalSeconds;
        }

        public List<LLamaToken> Greedy(LLamaToken[] prompt, int tokens)
        {
            _context.NativeHandle.MemoryClear(true);
            _batch.Clear();
            for (int i = 0; i < prompt.Length; i++)
            {
                _batch.Add(prompt[i], i, LLamaSeqId.Zero, i == prompt.Length - 1);
            }

            Run();
            var output = new List<LLamaToken>();
            for (int t = 0; t < tokens; t++)
            {
                LLamaToken next = ArgMax();
                output.Add(next);
                Step(next, prompt.Length + t);
            }

            return output;
        }

        public void Dispose()
        {
            _context.Dispose();
            Weights.Dispose();
        }

        private void Step(LLamaToken token, int position)
        {
            _batch.Clear();
            _batch.Add(token, position, LLamaSeqId.Zero, true);
            Run();
        }

        private void Run()
        {
            DecodeResult result = _context.NativeHandle.Decode(_batch);
            if (result != DecodeResult.Ok)
            {
                throw new InvalidOperationException($"llama_decode returned {result}");
            }
        }

        /// <summary>Greedy with the lowest id on ties, as EdgeGuard's selector.</summary>
        private LLamaToken ArgMax()
        {
            Span<float> logits = _context.NativeHandle.GetLogitsIth(_batch.TokenCount - 1);
            int best = 0;
            for (int i = 1; i < logits.Length; i++)
            {
                if (logits[i] > logits[best])
                {
                    best = i;
                }
            }

            return best;
        }

        private static string FileTypeName(string value) => value switch
        {
            "0" => "F32",
            "1" => "F16",
            "7" => "Q8_0",
            _ => $"file type {value}",
        };
    }

    /// <summary>Positional arguments and <c>--name value</c> options.</summary>
    private sealed class Options
    {
        private readonly Dictionary<string, string> _named = [];

        public List<string> Positional { get; } = [];

        public static Options Parse(string[] args)
        {
            var options = new Options();
            for (int i = 0; i < args.Length; i++)
            {
                if (args[i].StartsWith("--", StringComparison.Ordinal))
                {
                    if (i + 1 >= args.Length)
                    {
                        throw new ArgumentException($"{args[i]} needs a value");
                    }

                    options._named[args[i][2..]] = args[++i];
                }
                else
                {
                    options.Positional.Add(args[i]);
                }
            }

            return options;
        }

        public string? String(string name) => _named.GetValueOrDefault(name);

        public int Int(string name, int fallback)
        {
            if (!_named.TryGetValue(name, out string? text))
            {
                return fallback;
            }

            return int.TryParse(text, CultureInfo.InvariantCulture, out int value) && value > 0
                ? value
                : throw new ArgumentException($"--{name} must be a positive integer, not {text}");
        }

        public string Required(int index, string what) =>
            index < Positional.Count ? Positional[index] : throw new ArgumentException($"missing {what}\n{Usage}");
    }
}
