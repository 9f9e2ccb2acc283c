using System.CommandLine;
using System.Globalization;
using EdgeGuard.Cli.Commands;
using EdgeGuard.Generation;
using EdgeGuard.Generation.Logits;
using EdgeGuard.Kernels.Threading;
using EdgeGuard.Models;

namespace EdgeGuard.Cli;

/// <summary>
/// The options <c>generate</c> and <c>chat</c> share: the model group (<c>--model</c> with <c>--offset</c> or
/// <c>--contrast-amateur</c>), the sampling chain, the limits; and the models they open.
/// </summary>
internal sealed class GenerationSetup : IDisposable
{
    public static readonly Option<string[]> Offset = new("--offset")
    {
        Description = "Offset unlearning: the unlearned small model S′ and its original S₀ (same vocabulary as --model); each step decodes from ℓ_B + α·(ℓ_S′ − ℓ_S₀).",
        Arity = new ArgumentArity(2, 2),
        AllowMultipleArgumentsPerToken = true,
    };

    public static readonly Option<float> Alpha = new("--alpha")
    {
        Description = "Offset strength α (with --offset); 0 gives --model's tokens exactly.",
        DefaultValueFactory = _ => 1f,
    };

    public static readonly Option<string?> ContrastAmateur = new("--contrast-amateur")
    {
        Description = "Contrastive decoding: the amateur (e.g. a toxic fine-tune of --model, same vocabulary); each step decodes from ℓ_expert − ℓ_amateur over the plausible tokens.",
    };

    public static readonly Option<double> Plausibility = new("--plausibility")
    {
        Description = "Contrastive decoding: tokens less likely than this times the expert's best are masked (UniDetox: 0.1).",
        DefaultValueFactory = _ => ContrastiveCombiner.DefaultPlausibility,
    };

    public static readonly Option<ulong> Seed = new("--seed")
    {
        Description = "Seed of the sampler (SplitMix64; the Python reference draws the same numbers).",
        DefaultValueFactory = _ => 0UL,
    };

    public static readonly Option<float> Temperature = new("--temperature")
    {
        Description = "Sampling temperature; 0 picks the most likely token (greedy). Options left out take the model's generation_config.json values when it has one.",
        DefaultValueFactory = _ => 1f,
    };

    public static readonly Option<int?> TopK = new("--top-k") { Description = "Sample from the k most likely tokens (default: all, or the model's generation_config.json)." };

    public static readonly Option<double> TopP = new("--top-p")
    {
        Description = "Nucleus sampling: the most likely tokens carrying this probability (1: off).",
        DefaultValueFactory = _ => 1.0,
    };

    public static readonly Option<double> MinP = new("--min-p")
    {
        Description = "Drop tokens less likely than this times the most likely one (0: off).",
        DefaultValueFactory = _ => 0.0,
    };

    public static readonly Option<float> RepetitionPenalty = new("--repetition-penalty")
    {
        Description = "Hugging Face's repetition penalty over the prompt and the generated tokens (1: off).",
        DefaultValueFactory = _ => 1f,
    };

    public static readonly Option<int> MaxTokens = new("--max-tokens")
    {
        Description = "Most tokens to generate (default 256, or the model's generation_config.json max_new_tokens).",
        DefaultValueFactory = _ => 256,
    };

    public static readonly Option<string[]> Stop = new("--stop")
    {
        Description = "Stop where this text appears in the output (not printed); repeatable.",
    };

    public static readonly Option<string> PromptOverflowOption = CreatePromptOverflow();

    public static readonly Option<string> KeyValueCache = CreateKeyValueCache();

    public static readonly Option<bool> Int8 = new("--int8")
    {
        Description = "Run the linear layers in int8 (quantised at load; an int8 bundle always runs in int8).",
    };

    private readonly WorkerPool _pool;
    private readonly List<GenerativeModel> _models = [];

    private GenerationSetup(ParseResult parsed)
    {
        string model = parsed.GetValue(CommonOptions.Model)
            ?? throw new CliUsageException("give the decoder model to generate with: --model <bundle.gguf or Hugging Face directory>.");
        string[]? offset = parsed.GetValue(Offset);
        string? amateur = parsed.GetValue(ContrastAmateur);
        if (offset is { Length: > 0 } && amateur is not null)
        {
            throw new CliUsageException("give --offset or --contrast-amateur, not both.");
        }

        Options = new GenerationOptions
        {
            Sampling = new SamplingSettings
            {
                Seed = parsed.GetValue(Seed),
                Temperature = parsed.GetValue(Temperature),
                TopK = parsed.GetValue(TopK),
                TopP = parsed.GetValue(TopP),
                MinP = parsed.GetValue(MinP),
                RepetitionPenalty = parsed.GetValue(RepetitionPenalty),
            },
            MaxNewTokens = parsed.GetValue(MaxTokens),
            StopSequences = parsed.GetValue(Stop) ?? [],
            PromptOverflow = parsed.GetValue(PromptOverflowOption) == "keep-end" ? PromptOverflow.KeepEnd : PromptOverflow.Refuse,
            KeyValueCache = parsed.GetValue(KeyValueCache) == "f16" ? KeyValueCacheFormat.Float16 : KeyValueCacheFormat.Float32,
        };
        CheckOptions(Options);

        var precision = parsed.GetValue(Int8) ? ModelPrecision.Int8 : ModelPrecision.Float32;
        _pool = new WorkerPool(parsed.GetValue(CommonOptions.Threads));
        try
        {
            GenerativeModel Open(string path, bool primary)
            {
                var opened = GenerativeModel.Open(path, _pool, precision, requireTokenizer: primary);
                _models.Add(opened);
                return opened;
            }

            GenerativeModel b = Open(model, primary: true);
            if (b.Defaults is { } defaults)
            {
                Options = WithModelDefaults(parsed, Options, defaults);
            }

            if (offset is { Length: > 0 })
            {
                Group = ModelGroup.Offset(b, Open(offset[0], primary: false), Open(offset[1], primary: false), parsed.GetValue(Alpha));
            }
            else if (amateur is not null)
            {
                Group = ModelGroup.Contrastive(b, Open(amateur, primary: false), parsed.GetValue(Plausibility));
            }
            else
            {
                Group = ModelGroup.Single(b);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The models and how they combine.</summary>
    public ModelGroup Group { get; } = null!;

    /// <summary>Sampling, limits, stop sequences, prompt overflow.</summary>
    public GenerationOptions Options { get; private set; }

    /// <summary>The options every generating command takes.</summary>
    public static IEnumerable<Option> All =>
        [Offset, Alpha, ContrastAmateur, Plausibility, Seed, Temperature, TopK, TopP, MinP, RepetitionPenalty, MaxTokens, Stop, PromptOverflowOption, KeyValueCache, Int8];

    /// <summary>Opens the models the command line names.</summary>
    /// <exception cref="CliUsageException">Options that contradict each other or are out of range.</exception>
    public static GenerationSetup Open(ParseResult parsed) => new(parsed);

    /// <summary>A generation's outcome as one JSON object's fields: text, tokens, finish reason, prompt tokens.</summary>
    public static void WriteResult(System.Text.Json.Utf8JsonWriter writer, GenerationResult result)
    {
        writer.WriteString("text", result.Text);
        writer.WriteStartArray("tokens");
        foreach (int token in result.TokenIds)
        {
            writer.WriteNumberValue(token);
        }

        writer.WriteEndArray();
        writer.WriteString("finish_reason", result.FinishReasonName);
        writer.WriteNumber("prompt_tokens", result.PromptTokenCount);
        if (result.PromptTruncated)
        {
            writer.WriteBoolean("prompt_truncated", true);
        }
    }

    public void Dispose()
    {
        foreach (var model in _models)
        {
            model.Dispose();
        }

        _pool?.Dispose();
    }

    /// <summary>
    /// The model's own settings (its generation_config.json) for every sampling option and the token limit the command
    /// line left out; its end-of-sequence ids end generation too.
    /// </summary>
    private static GenerationOptions WithModelDefaults(ParseResult parsed, GenerationOptions options, GenerationDefaults defaults)
    {
        bool Given(Option option) => parsed.GetResult(option) is { Implicit: false };
        SamplingSettings given = options.Sampling, model = defaults.Sampling;
        return options with
        {
            Sampling = given with
            {
                Temperature = Given(Temperature) ? given.Temperature : model.Temperature,
                TopK = Given(TopK) ? given.TopK : model.TopK,
                TopP = Given(TopP) ? given.TopP : model.TopP,
                MinP = Given(MinP) ? given.MinP : model.MinP,
                RepetitionPenalty = Given(RepetitionPenalty) ? given.RepetitionPenalty : model.RepetitionPenalty,
            },
            MaxNewTokens = Given(MaxTokens) ? options.MaxNewTokens : defaults.MaxNewTokens ?? options.MaxNewTokens,
            StopTokenIds = [.. options.StopTokenIds, .. defaults.EndOfSequenceIds],
        };
    }

    private static void CheckOptions(GenerationOptions options)
    {
        SamplingSettings s = options.Sampling;
        string? problem =
            options.MaxNewTokens < 1 ? $"--max-tokens {options.MaxNewTokens} is out of range: give at least 1."
            : !(s.Temperature >= 0f) || !float.IsFinite(s.Temperature) ? $"--temperature {Text(s.Temperature)} is out of range: give 0 (greedy) or more."
            : s.TopK is int k && k < 1 ? $"--top-k {k} is out of range: give at least 1."
            : !(s.TopP > 0.0 && s.TopP <= 1.0) ? $"--top-p {Text(s.TopP)} is out of range: give a value in (0, 1]."
            : !(s.MinP >= 0.0 && s.MinP <= 1.0) ? $"--min-p {Text(s.MinP)} is out of range: give a value in [0, 1]."
            : !(s.RepetitionPenalty > 0f) || !float.IsFinite(s.RepetitionPenalty) ? $"--repetition-penalty {Text(s.RepetitionPenalty)} is out of range: give a positive value (1: off)."
            : options.StopSequences.Any(string.IsNullOrEmpty) ? "--stop needs a non-empty text."
            : null;
        if (problem is not null)
        {
            throw new CliUsageException(problem);
        }

        options.Validate();
    }

    private static string Text(double value) => value.ToString(CultureInfo.InvariantCulture);

    private static Option<string> CreatePromptOverflow()
    {
        var option = new Option<string>("--prompt-overflow")
        {
            Description = "A prompt longer than the context: refuse it, or keep its end (leaving room for --max-tokens, at least half the context for the prompt).",
            DefaultValueFactory = _ => "refuse",
        };
        option.AcceptOnlyFromAmong("refuse", "keep-end");
        return option;
    }

    private static Option<string> CreateKeyValueCache()
    {
        var option = new Option<string>("--kv-cache")
        {
            Description = "How each model's session stores keys and values: f32, or f16 (half the memory; logits differ by float16 rounding).",
            DefaultValueFactory = _ => "f32",
        };
        option.AcceptOnlyFromAmong("f32", "f16");
        return option;
    }
}
